"""The upstream message size cap (``MCPGW_MAX_MESSAGE_BYTES``): stdio line framing that is
linear in the bytes read and never buffers more than the cap, and the JSON-RPC error every
transport hands to a waiting call whose answer was too large.

Framing: :class:`LineSplitter` scans only the new bytes of each chunk for ``b"\\n"`` and keeps a
line as a list of chunks joined once; a line that grows past the cap is reported once as
:class:`Overflow` and the rest of it is dropped as it arrives (only a short head and tail are
kept, to tell which request it answered), then reported as :class:`OverflowEnd`.

A truncated line cannot be parsed, so the request id is read from the head
(``{"jsonrpc":"2.0","id":7,...``: Python SDK servers) or the tail (``...,"id":7}``: TypeScript
SDK servers put ``result`` first) of the raw text; :func:`find_request_id` does that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mcp_types import ErrorData, JSONRPCError, RequestId

ENV_NAME = "MCPGW_MAX_MESSAGE_BYTES"
#: Our own code in JSON-RPC's implementation-defined range; ``data`` carries the marker below.
MESSAGE_TOO_LARGE = -32090
_MARKER = "mcpgw_message_too_large"
EDGE = 256  # bytes of head and tail kept from a discarded line

_ID = rb'(-?\d+|"(?:[^"\\]|\\.)*")'
_HEAD_ID = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*' + _ID)
_TAIL_ID = re.compile(
    rb'[{,]\s*"id"\s*:\s*' + _ID + rb'\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$'
)
_HEAD_METHOD = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"method"\s*:')


@dataclass(frozen=True, slots=True)
class Overflow:
    """A line just passed the cap; ``head`` is its first bytes."""

    head: bytes


@dataclass(frozen=True, slots=True)
class OverflowEnd:
    """The newline of an oversized line arrived; ``size`` counts all its bytes."""

    head: bytes
    tail: bytes
    size: int


class LineSplitter:
    """Splits a byte stream into lines of at most ``limit`` bytes (newline excluded)."""

    __slots__ = ("limit", "_parts", "_size", "_head", "_tail", "_discarding")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._head = b""
        self._tail = b""
        self._discarding = False

    def feed(self, chunk: bytes) -> list[bytes | Overflow | OverflowEnd]:
        """Complete lines (and overflow reports) found in ``chunk``, in stream order."""
        out: list[bytes | Overflow | OverflowEnd] = []
        start, end = 0, len(chunk)
        while start < end:
            newline = chunk.find(b"\n", start)
            stop = end if newline < 0 else newline
            if stop > start:
                self._take(chunk[start:stop], out)
            if newline < 0:
                break
            out.append(self._finish())
            start = newline + 1
        return out

    def _take(self, piece: bytes, out: list[bytes | Overflow | OverflowEnd]) -> None:
        self._size += len(piece)
        if len(self._head) < EDGE:
            self._head += piece[: EDGE - len(self._head)]
        if self._discarding:
            self._tail = (self._tail + piece[-EDGE:])[-EDGE:]
            return
        if self._size <= self.limit:
            self._parts.append(piece)
            return
        before = self._parts[-1][-EDGE:] if self._parts else b""
        self._tail = (before + piece[-EDGE:])[-EDGE:]
        self._parts = []
        self._discarding = True
        out.append(Overflow(self._head))

    def _finish(self) -> bytes | OverflowEnd:
        size, self._size = self._size, 0
        head, self._head = self._head, b""
        if self._discarding:
            self._discarding = False
            return OverflowEnd(head, self._tail, size)
        line = b"".join(self._parts) if len(self._parts) != 1 else self._parts[0]
        self._parts = []
        return line


def find_request_id(head: bytes, tail: bytes | None) -> RequestId | None:
    """The top-level ``id`` of a JSON-RPC message known only by its first and last bytes."""
    match = _HEAD_ID.match(head)
    if match is None and tail is not None:
        match = _TAIL_ID.search(tail)
    if match is None:
        return None
    raw = match.group(1)
    if raw.startswith(b'"'):
        try:
            value: Any = json.loads(raw)
        except ValueError:
            return None
        return str(value)
    return int(raw)


def is_server_message(head: bytes) -> bool:
    """True when the line opens as a request or notification from the server (not an answer)."""
    return _HEAD_METHOD.match(head) is not None


def too_large_error(request_id: RequestId, limit: int) -> JSONRPCError:
    """The answer a waiting call gets when its result exceeded ``limit`` bytes."""
    message = f"its answer exceeded {ENV_NAME} ({limit} bytes) and was discarded"
    data = {_MARKER: True, "limit": limit}
    return JSONRPCError(
        jsonrpc="2.0",
        id=request_id,
        error=ErrorData(code=MESSAGE_TOO_LARGE, message=message, data=data),
    )


def is_too_large(code: int, data: object) -> bool:
    """Whether an MCP error is the gateway's own :func:`too_large_error`."""
    return code == MESSAGE_TOO_LARGE and isinstance(data, dict) and data.get(_MARKER) is True
