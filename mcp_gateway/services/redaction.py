"""Replacing injected secret values by ``***`` in text that leaves the gateway.

Applied to upstream error messages, ``isError`` tool results, server logs and last errors shown
in server views, and anything written to logs or the audit trail. Successful tool results are
*not* rewritten: they belong to the caller whose secret it is (a tool may legitimately return
it, e.g. a signed URL), and rewriting arbitrary structured data would corrupt it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from mcp_gateway.domain.redaction import MASK, MIN_REDACT_LEN, redact, redact_json, redactable

__all__ = ["MASK", "Redactor", "redact", "redact_json", "redactable"]

_PER_SERVER = 256  # how many recent injected values are remembered per server for logs


class Redactor:
    """Remembers values recently injected into each server, to mask them in its logs.

    Upstream processes write logs asynchronously, long after a call returned; the values a
    server has been given are the ones its logs can leak. Bounded per server (LRU); values stay
    in this process's memory only, as the decrypted secrets already do during a call.
    """

    def __init__(self, per_server: int = _PER_SERVER) -> None:
        self._per_server = per_server
        self._values: dict[str, OrderedDict[str, None]] = {}

    def remember(self, server: str, values: Iterable[str]) -> None:
        seen = self._values.setdefault(server, OrderedDict())
        for value in values:
            if len(value) < MIN_REDACT_LEN:
                continue
            seen[value] = None
            seen.move_to_end(value)
        while len(seen) > self._per_server:
            seen.popitem(last=False)

    def forget_server(self, server: str) -> None:
        self._values.pop(server, None)

    def values(self, server: str) -> tuple[str, ...]:
        return redactable(self._values.get(server, ()))

    def redact(self, server: str, text: str) -> str:
        return redact(text, self.values(server))

    def redact_lines(self, server: str, lines: Iterable[str]) -> list[str]:
        values = self.values(server)
        return [redact(line, values) for line in lines]
