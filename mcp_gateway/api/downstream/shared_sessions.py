"""The store side of legacy (2025-11-25) MCP sessions: what lets any replica serve a session
another one opened (docs/scaling.md, "MCP endpoint sessions").

At ``initialize`` the session is stored under the SHA-256 of its id (never the id) with its
owner (API key id, username, endpoint: what ``Caller.attach`` binds) and what the client
negotiated (protocol version, capabilities, clientInfo). A replica that gets an id it does
not hold reads that record, checks the owner and the expiry, and resumes the session
(sessions.py). Kept cheap on the hot path:

- ``last_seen`` is written by a background loop every :data:`TOUCH_INTERVAL` seconds, for
  the sessions used on this replica since the last round (one write for all of them), never
  per request. The same write says which of them no longer exist (deleted on a replica whose
  feed entry was lost, or swept): their copies here end.
- A session unused for the idle timeout (plus the touch interval, by which ``last_seen`` may
  lag) is expired on every replica: never resumed, and deleted by any replica's sweep.
- The per-caller limit is a store count at ``initialize`` (only then): sessions on every
  replica count. Two replicas admitting the same caller's sessions in the same instant can
  pass it by one each (the count and the insert are not one transaction).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.auth.middleware.bearer_auth import (
    AuthenticatedUser,
    AuthorizationContext,
    authorization_context,
)
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError
from starlette.types import Scope

from mcp_gateway.domain.mcp_sessions import McpSessionOwner, McpSessionRecord, session_hash
from mcp_gateway.storage.ports import McpSessionStore

TOUCH_INTERVAL = 5.0  # seconds between two last_seen writes (shorter for short idle timeouts)
SWEEP_INTERVAL = 60.0  # seconds between two deletes of expired sessions, per replica


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a legacy session's client negotiated, and who opened it (``SessionManager.
    lookup``): the owner as the SDK compares it (``Caller.attach``)."""

    protocol_version: str
    capabilities: types.ClientCapabilities | None
    client_info: types.Implementation | None
    owner: AuthorizationContext | None


def requestor_of(scope: Scope) -> AuthorizationContext | None:
    """The session owner the SDK compares for a request (what ``Caller.attach`` set): the
    ``requestor`` argument of ``SessionManager.lookup``."""
    user = scope.get("user")
    return authorization_context(user) if isinstance(user, AuthenticatedUser) else None


_SESSION_HEADER = MCP_SESSION_ID_HEADER.lower().encode("ascii")


def session_id_of(scope: Scope) -> str | None:
    """The request's ``Mcp-Session-Id``, if any."""
    for key, value in scope.get("headers", ()):
        if key == _SESSION_HEADER:
            return str(value.decode("latin-1"))
    return None


def owner_of(requestor: AuthorizationContext | None) -> McpSessionOwner | None:
    """The stored owner of the SDK's session owner (``Caller.attach``: client id = API key
    id, subject = username, issuer = endpoint)."""
    if requestor is None:
        return None
    return McpSessionOwner(
        requestor["client_id"], requestor["subject"] or "", requestor["issuer"] or ""
    )


def negotiated_version(params: Mapping[str, Any] | None) -> str:
    """The version the SDK answers an ``initialize`` with (its rule, runner.py)."""
    requested = (params or {}).get("protocolVersion")
    return requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION


def _model(model: type[Any], raw: Any) -> Any:
    try:
        return model.model_validate(raw, by_name=False)
    except ValidationError:
        return None


def facts_of(record: McpSessionRecord) -> SessionFacts:
    """The facts of a stored session (a malformed part reads as not declared)."""
    owner = record.owner
    return SessionFacts(
        record.protocol_version,
        _model(types.ClientCapabilities, json.loads(record.capabilities_json)),
        _model(types.Implementation, json.loads(record.client_info_json)),
        AuthorizationContext(client_id=owner.key_id, issuer=owner.endpoint, subject=owner.username),
    )


class SessionRecords:
    """The store operations of the session manager, with its clocks and intervals."""

    def __init__(self, store: Callable[[], McpSessionStore], idle_timeout: float) -> None:
        self._store = store
        self.touch_every = min(TOUCH_INTERVAL, idle_timeout / 4)
        # last_seen lags use by up to one touch interval
        self.expiry = idle_timeout + self.touch_every
        self._next_sweep = 0.0

    async def create(
        self, session_id: str, owner: McpSessionOwner, params: Mapping[str, Any] | None
    ) -> McpSessionRecord:
        """Store a session at its ``initialize`` (``params``: the request's)."""
        params = params or {}
        now = time.time()
        record = McpSessionRecord(
            id_hash=session_hash(session_id),
            owner=owner,
            protocol_version=negotiated_version(params),
            capabilities_json=json.dumps(params.get("capabilities") or {}),
            client_info_json=json.dumps(params.get("clientInfo") or {}),
            created_at=now,
            last_seen=now,
        )
        await self._store().create_mcp_session(record)
        return record

    async def find(self, session_id: str, owner: McpSessionOwner) -> McpSessionRecord | None:
        """The live session ``owner`` may resume, else None (absent, another owner's,
        expired: all alike to the caller)."""
        record = await self._store().get_mcp_session(session_hash(session_id))
        if record is None or record.owner != owner or record.expired(time.time(), self.expiry):
            return None
        return record

    async def read(self, id_hash: str) -> McpSessionRecord | None:
        return await self._store().get_mcp_session(id_hash)

    async def has_room(self, owner: McpSessionOwner, limit: int) -> bool:
        """Whether ``owner`` may open one more session (all replicas' sessions count)."""
        seen_since = time.time() - self.expiry
        return await self._store().count_mcp_sessions(owner, seen_since) < limit

    async def delete(self, id_hash: str) -> None:
        await self._store().delete_mcp_session(id_hash)

    async def set_level(self, id_hash: str, level: str) -> None:
        await self._store().set_mcp_session_log_level(id_hash, level)

    async def touch(self, id_hashes: Iterable[str]) -> set[str]:
        """Mark these sessions used now; the ones that still exist."""
        hashes = list(id_hashes)
        return await self._store().touch_mcp_sessions(hashes, time.time()) if hashes else set()

    async def sweep_if_due(self) -> None:
        """Delete expired sessions, at most every :data:`SWEEP_INTERVAL` seconds."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL
        await self._store().delete_idle_mcp_sessions(time.time() - self.expiry)
