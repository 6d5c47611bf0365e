"""Sessions of the gateway's own MCP endpoint (2025-11-25 era, ``Mcp-Session-Id``), as the
store keeps them so that any replica can resume one (docs/scaling.md).

The store never holds a session id: only its SHA-256 (:func:`session_hash`). An id is 192
random bits, so the digest needs no salt or key to be irreversible, and a leaked store gives
nobody a usable id. The owner is what binds a session today (``Caller.attach``): the API key
id, the username and the endpoint path; any other owner is told the session does not exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def session_hash(session_id: str) -> str:
    """The stored key of a session: the hex SHA-256 of its id."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class McpSessionOwner:
    key_id: str
    username: str
    endpoint: str  # "/mcp", "/mcp/{server}" or "/mcp/toolsets/{name}"


@dataclass(frozen=True, slots=True)
class McpSessionRecord:
    """What a replica needs to serve a session it did not open: who owns it and what the
    client negotiated at ``initialize`` (capability checks: sampling, elicitation, roots)."""

    id_hash: str
    owner: McpSessionOwner
    protocol_version: str
    capabilities_json: str = "{}"  # the client's ClientCapabilities, as JSON text
    client_info_json: str = "{}"  # its clientInfo (Implementation), as JSON text
    created_at: float = 0.0  # unix seconds (wall clock: compared across replicas)
    last_seen: float = 0.0  # refreshed at most every few seconds while in use
    log_level: str | None = None  # the client's logging/setLevel, if any

    def expired(self, now: float, idle: float) -> bool:
        """Unused for longer than ``idle`` seconds (``last_seen`` lags use by the touch
        interval at most, which ``idle`` here must include)."""
        return self.last_seen + idle < now
