"""The gateway's legacy (2025-11-25) MCP sessions: the SDK's session manager, shared across
replicas.

The SDK binds each ``Mcp-Session-Id`` to the identity that opened it (any other gets 404;
:meth:`Caller.attach` makes that identity the API key id, username and endpoint), ends idle
sessions, caps the total and ends one on DELETE. sdk_sessions.py opens that manager up (the
one module here that reaches SDK internals: 192-bit ids, per-session event stores, resumed
connections); this module adds, on top of it:

- **Any replica serves any session** (shared_sessions.py has the store side). ``initialize``
  stores the session (a server middleware, so the record exists before the client has the
  id). A request with an id this process does not hold is looked up in the store; when the
  owner matches, the session is *resumed* (:meth:`SdkSessions.resume`), so capability checks
  (sampling, elicitation, roots passthrough) and the log level behave as on the replica that
  opened it. The copies held here: held_sessions.py.
- **DELETE** deletes the record (then ends the local copy, as the SDK does); the change feed
  tells every other replica, which ends its copy (:meth:`SessionManager.on_change`).
  ``logging/setLevel`` is stored and followed the same way.
- Idle timeout, liveness and the per-caller limit across replicas: shared_sessions.py (the
  touch loop is :meth:`SessionManager.run`'s). A copy that idles out here ends here only;
  the record lives while any replica uses it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from mcp.server import Server
from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR
from starlette.types import Receive, Scope, Send

from mcp_gateway.api.downstream.edge import refused
from mcp_gateway.api.downstream.event_store import EventBuffer
from mcp_gateway.api.downstream.held_sessions import HeldSessions
from mcp_gateway.api.downstream.relay import LEVELS, LogLevels
from mcp_gateway.api.downstream.sdk_sessions import (
    OnResume,
    SdkSessions,
    context_session_id,
    refuse_too_many,
)
from mcp_gateway.api.downstream.shared_sessions import (
    SessionFacts,
    SessionRecords,
    owner_of,
    requestor_of,
    session_id_of,
)
from mcp_gateway.domain.changes import Change
from mcp_gateway.domain.mcp_sessions import McpSessionRecord
from mcp_gateway.errors import GatewayError
from mcp_gateway.storage.ports import McpSessionStore

log = logging.getLogger("mcp_gateway.mcp")


class SessionManager(SdkSessions):
    def __init__(
        self,
        app: Server[Any],
        *,
        store: Callable[[], McpSessionStore],
        idle_timeout: float,
        max_sessions: int,
        max_per_caller: int,
        max_body: int,
        log_levels: LogLevels | None = None,
        on_resume: OnResume | None = None,
        events: EventBuffer | None = None,
        retry_ms: int | None = None,
    ) -> None:
        super().__init__(
            app,
            idle_timeout=idle_timeout,
            max_sessions=max_sessions,
            max_per_caller=max_per_caller,
            max_body=max_body,
            on_resume=on_resume,
            events=events,
            retry_ms=retry_ms,
        )
        self.records = SessionRecords(store, idle_timeout)
        self.held = HeldSessions()
        self._log_levels = log_levels
        self._deleting: set[str] = set()  # ids whose DELETE this process is serving
        app.middleware.insert(0, self._remember)

    # -- the public surface ---------------------------------------------------------------

    def lookup(
        self, session_id: str, requestor: AuthorizationContext | None
    ) -> SessionFacts | None:
        """The facts of session ``session_id`` if this replica holds it, initialized, for
        ``requestor``; else None (unknown here, ended, not initialized yet, another's). No
        store access: a session another replica opened is resumed by the SDK path
        (``handle_request``). Counts as a use of the session
        (idle timeout), so a request served outside the SDK transport calls it."""
        held = self.held.get(session_id)
        if held is None or not self.serves(session_id, requestor):
            return None
        self.held.use(session_id)
        return held.facts

    async def on_change(self, change: Change) -> None:
        """A stored session changed (change feed): a deleted one's copy here ends, a new log
        level applies here. Raises StoreUnavailable (the follower retries)."""
        session_id = self.held.by_hash(change.key)
        if session_id is None or session_id in self._deleting:
            return
        record = await self.records.read(change.key)
        if record is None:
            await self._end_here(session_id)
        else:
            self._apply_level(session_id, record)

    async def end_for_key(self, key_id: str) -> None:
        """API key ``key_id`` was revoked: its sessions held here end (every replica does the
        same on the same change). Their records stay until the idle sweep: a revoked key is
        refused (401) before any resume, and a wrong verdict here costs a resume, not a
        session."""
        for session_id in self.sessions_of_key(key_id):
            await self._end_here(session_id)

    # -- the request path -----------------------------------------------------------------

    async def handle_stateful(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id = session_id_of(scope)
        requestor = requestor_of(scope)
        deleting = False
        try:
            if session_id is None:
                owner = owner_of(requestor)
                if (
                    scope.get("method") == "POST"
                    and owner is not None
                    and not await self.records.has_room(owner, self.max_per_caller)
                ):
                    log.warning("refusing a new MCP session: per-caller limit reached")
                    await refuse_too_many(scope, receive, send)
                    return
            else:
                if not self.holds(session_id):
                    if not await self._resume(session_id, requestor, scope):
                        await refuse_too_many(scope, receive, send)
                        return
                held = self.held.get(session_id)
                if held is not None and self.owner(session_id) == requestor:
                    self.held.use(session_id)  # another's request keeps nothing alive
                    if scope.get("method") == "DELETE":
                        # Our own feed reports this delete too, maybe before the SDK below
                        # serves the DELETE: the copy here is this request's to end (else
                        # the client's DELETE could find it gone and get 404).
                        deleting = True
                        self._deleting.add(session_id)
                        await self.records.delete(held.id_hash)  # every replica, by the feed
        except GatewayError as exc:  # the store: 503 store_unavailable
            if deleting and session_id is not None:
                self._deleting.discard(session_id)
            await refused(exc)(scope, receive, send)
            return
        try:
            await self.serve_by_sdk(scope, receive, send)
        finally:
            if deleting and session_id is not None:
                self._deleting.discard(session_id)
                await self._end_here(session_id)  # a DELETE cut short: its record is gone

    async def _resume(
        self, session_id: str, requestor: AuthorizationContext | None, scope: Scope
    ) -> bool:
        """Serve ``session_id`` here if the store has it for ``requestor``; otherwise leave
        it unknown (the SDK answers 404). False only when it exists but this replica holds
        ``max_sessions`` already. Raises StoreUnavailable."""
        owner = owner_of(requestor)
        if owner is None or len(session_id) > 128:
            return True
        record = await self.records.find(session_id, owner)
        if record is None:
            return True
        return await self.resume(session_id, requestor, record, scope)

    def kept(self, session_id: str, record: McpSessionRecord) -> None:
        self.held.keep(session_id, record)
        self._apply_level(session_id, record)

    def forgotten(self, session_id: str) -> None:
        self.held.forget(session_id)

    async def _end_here(self, session_id: str) -> None:
        if self.holds(session_id):
            log.info("MCP session ended on another replica or expired: its copy here ends")
            await self.end(session_id)

    def _apply_level(self, session_id: str, record: McpSessionRecord) -> None:
        for level in LEVELS:
            if level == record.log_level and self._log_levels is not None:
                self._log_levels.set(session_id, level)

    # -- storing what initialize negotiated; liveness ------------------------------------

    async def _remember(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Server middleware: store a session when its ``initialize`` succeeds (before the
        answer leaves), and a ``logging/setLevel``."""
        result = await call_next(ctx)
        if ctx.method not in ("initialize", "logging/setLevel"):
            return result
        session_id = context_session_id(ctx)
        scope = getattr(ctx.request, "scope", None)
        owner = owner_of(requestor_of(scope)) if scope is not None else None
        if session_id is None or owner is None:
            return result
        try:
            if ctx.method == "initialize":
                record = await self.records.create(session_id, owner, ctx.params)
                self.kept(session_id, record)
            elif (held := self.held.get(session_id)) is not None:
                level = (ctx.params or {}).get("level")
                if isinstance(level, str):
                    await self.records.set_level(held.id_hash, level)
        except GatewayError as exc:
            raise MCPError(INTERNAL_ERROR, exc.message, {"code": exc.code}) from None
        return result

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with super().run(), anyio.create_task_group() as tg:
            tg.start_soon(self._keep_alive)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    async def _keep_alive(self) -> None:
        """Every touch interval: mark the sessions used here (a request served, or a stream
        open) as used in the store, end the copies of those gone from it, and sweep expired
        records now and then."""
        while True:
            await anyio.sleep(self.records.touch_every)
            try:
                await self.touch_now()
                await self.records.sweep_if_due()
            except GatewayError as exc:
                log.warning("could not refresh MCP sessions in the store: %s", exc.code)
            except Exception:  # a bug here must not end the endpoint's sessions
                log.exception("refreshing MCP sessions in the store failed")

    async def touch_now(self) -> None:
        """One round of :meth:`_keep_alive`'s refresh (public for tests). Raises
        StoreUnavailable."""
        by_hash = self.held.take_used(self.busy())
        alive = await self.records.touch(by_hash)
        for id_hash, session_id in by_hash.items():
            if id_hash not in alive:
                await self._end_here(session_id)
