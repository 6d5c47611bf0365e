"""Namespaced tool names on the aggregated MCP endpoint: ``<server>__<tool>``.

MCP clients (and the models behind them) accept tool names of at most 64 characters of
``[A-Za-z0-9_-]``. The rule (docs/mcp-endpoint.md), deterministic so that names stay the same
across restarts and replicas and never collide:

- The server part is the server name itself when it is 1-30 characters of ``[A-Za-z0-9_-]``
  with no ``__``, not starting or ending with ``_``, and not ending like a hashed part;
  otherwise it is a hashed part: the name with every other character turned into ``-``,
  ``_`` runs squeezed, cut to 20 characters, then ``-`` and the first 8 hex digits of the
  SHA-256 of the exact server name.
- The tool part is the tool name itself when it is ``[A-Za-z0-9_-]`` only, does not end like a
  hashed part and the whole name fits in 64 characters; otherwise a hashed part: the tool name
  made safe the same way, cut to fit, then ``-`` and 8 hex digits of the SHA-256 of
  ``server + "\\0" + tool``.

The server part never contains ``__``, so a name splits at its first ``__``. An identity part
never ends like a hashed one, so a hashed part cannot equal another name's identity part; two
hashed parts collide only when 32 bits of two SHA-256 digests do.
"""

from __future__ import annotations

import hashlib
import re

MAX_TOOL_NAME = 64
SEPARATOR = "__"
_MAX_IDENTITY_SERVER = 30
_SERVER_BASE = 20
_HASH = 8
_HASHED_TAIL = re.compile(rf"-[0-9a-f]{{{_HASH}}}$")
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_UNDERSCORES = re.compile(r"__+")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]


def _safe_base(text: str, limit: int) -> str:
    base = _UNDERSCORES.sub("_", _UNSAFE_RUN.sub("-", text))[:limit].strip("_")
    return base or "x"


def server_part(server: str) -> str:
    """The prefix of ``server``'s tools (never contains ``__``)."""
    if (
        len(server) <= _MAX_IDENTITY_SERVER
        and _SAFE.fullmatch(server)
        and SEPARATOR not in server
        and not server.startswith("_")
        and not server.endswith("_")
        and not _HASHED_TAIL.search(server)
    ):
        return server
    return f"{_safe_base(server, _SERVER_BASE)}-{_digest(server)}"


def namespaced(server: str, tool: str) -> str:
    """The aggregated endpoint's name of ``tool`` on ``server``."""
    prefix = server_part(server) + SEPARATOR
    if (
        _SAFE.fullmatch(tool)
        and not _HASHED_TAIL.search(tool)
        and len(prefix) + len(tool) <= MAX_TOOL_NAME
    ):
        return prefix + tool
    room = MAX_TOOL_NAME - len(prefix) - 1 - _HASH
    return f"{prefix}{_safe_base(tool, room)}-{_digest(server + chr(0) + tool)}"


def split(name: str) -> tuple[str, str] | None:
    """``(server part, tool part)`` of a namespaced name, or None when it has no ``__``."""
    prefix, sep, rest = name.partition(SEPARATOR)
    if not sep or not prefix or not rest:
        return None
    return prefix, rest


def is_hashed(part: str) -> bool:
    """Whether a part is a hashed one (an identity part never looks like this)."""
    return bool(_HASHED_TAIL.search(part))
