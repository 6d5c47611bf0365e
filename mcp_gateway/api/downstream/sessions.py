"""The SDK's Streamable HTTP session manager, made to share legacy sessions across replicas.

The one module of the server side that reaches SDK internals (the manager's session tables
and request path, its admission hook, a transport's streams and request count, a session's
connection); tests/upstream/test_sdk_boundary.py keeps it that way, as upstream/sdk.py is for
the client side.

The SDK binds each ``Mcp-Session-Id`` to the identity that opened it (any other gets 404;
:meth:`Caller.attach` makes that identity the API key id, username and endpoint), ends idle
sessions, caps the total and ends one on DELETE. Added here:

- **Any replica serves any session** (shared_sessions.py has the store side). ``initialize``
  stores the session (a server middleware, so the record exists before the client has the
  id). A request with an id this process does not hold is looked up in the store; when the
  owner matches, the session is *resumed*: a local transport with that id, served by a
  connection born ready with the stored protocol version, capabilities and clientInfo (the
  SDK's stateless path builds one the same way), so capability checks (sampling, elicitation,
  roots passthrough) and the log level behave as on the replica that opened it.
- **DELETE** deletes the record (then ends the local copy, as the SDK does); the change feed
  tells every other replica, which ends its copy (:meth:`SessionManager.on_change`).
  ``logging/setLevel`` is stored and followed the same way.
- Idle timeout, liveness and the per-caller limit across replicas: shared_sessions.py. A
  copy that idles out here ends here only; the record lives while any replica uses it.
- 192-bit session ids (the SDK's uuid4 carries 122 random bits; issue 12 wants >= 128).
- Resumable response streams: each session's transport gets its own event store
  (event_store.py), dropped when the session ends here; the SDK then sends a priming event
  (with ``retry``) on each 2025-11-25 SSE stream and replays after ``Last-Event-ID``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskStatus
from mcp.server import Server
from mcp.server.auth.middleware.bearer_auth import (
    AuthorizationContext,
)
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager, _error_response
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared._context_streams import ContextSendStream
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.message import SessionMessage
from mcp.shared.transport_context import TransportContext
from mcp_types import INTERNAL_ERROR
from starlette.types import Receive, Scope, Send

from mcp_gateway.api.downstream.edge import refused
from mcp_gateway.api.downstream.event_store import EventBuffer
from mcp_gateway.api.downstream.relay import LEVELS, LogLevels
from mcp_gateway.api.downstream.shared_sessions import (
    SessionFacts,
    SessionRecords,
    facts_of,
    owner_of,
    requestor_of,
    session_id_of,
)
from mcp_gateway.domain.changes import Change
from mcp_gateway.domain.mcp_sessions import McpSessionRecord
from mcp_gateway.errors import GatewayError
from mcp_gateway.storage.ports import McpSessionStore

__all__ = ["SessionFacts", "SessionManager", "requestor_of"]

log = logging.getLogger("mcp_gateway.mcp")

OnResume = Callable[[str, Connection, Scope], None]
"""Told of a session resumed here: its id, its connection (whose standalone channel is the
GET stream) and the scope of the request that resumed it (its caller)."""


@dataclass(slots=True)
class _Local:
    """A stored session this process holds a copy of."""

    id_hash: str
    facts: SessionFacts


class SessionManager(StreamableHTTPSessionManager):
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
            # Host and Origin are checked by the endpoint's edge (the gateway's own rules);
            # the SDK still checks Content-Type.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            session_idle_timeout=idle_timeout,
            max_sessions=max_sessions,
            max_request_body_size=max_body,
            retry_interval=retry_ms,
        )
        self.events = events  # None: streams are not resumable
        self.max_per_caller = max_per_caller
        self.records = SessionRecords(store, idle_timeout)
        self._log_levels = log_levels
        self._on_resume = on_resume
        self._local: dict[str, _Local] = {}  # session id -> its stored identity here
        self._by_hash: dict[str, str] = {}  # id hash -> session id
        self._used: set[str] = set()  # ids used here since the last touch
        self._deleting: set[str] = set()  # ids whose DELETE this process is serving
        self.resumed = 0  # sessions resumed from the store (for tests and benchmarks)
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
        transport = self._server_instances.get(session_id)
        local = self._local.get(session_id)
        if transport is None or local is None or transport.is_terminated:
            return None
        if transport.idle_scope is not None and transport.idle_scope.cancel_called:
            return None  # idled out, not yet terminated: the SDK path answers (as it would)
        if self._session_owners.get(session_id) != requestor:
            return None
        self._used.add(session_id)
        return local.facts

    def session_writer(
        self, session_id: str
    ) -> ContextSendStream[SessionMessage | Exception] | None:
        """The stream into a live session's server loop (None when it ended): what the edge
        uses to deliver a cancellation the client could not send (api.downstream.disconnect)."""
        transport = self._server_instances.get(session_id)
        return transport._read_stream_writer if transport is not None else None

    def sessions_of(self, owner: AuthorizationContext | None) -> int:
        return sum(1 for known in self._session_owners.values() if known == owner)

    @contextlib.contextmanager
    def holding(self, session_id: str) -> Iterator[None]:
        """Holds a session's idle clock while the fast path serves a request outside its
        transport, as the transport does for its own (the countdown restarts at the end): the
        SDK's ``StreamableHTTPServerTransport.handle_request`` bookkeeping, mirrored."""
        transport = self._server_instances.get(session_id)
        idle = transport.idle_scope if transport is not None else None
        if transport is None or idle is None or self.session_idle_timeout is None:
            yield
            return
        transport._requests_in_flight += 1
        idle.deadline = math.inf
        try:
            yield
        finally:
            transport._requests_in_flight -= 1
            if not transport._requests_in_flight:
                idle.deadline = anyio.current_time() + self.session_idle_timeout

    @property
    def lifespan_state(self) -> Any:  # the fast path runs the SDK's kernel with it too
        return self._lifespan_state

    async def on_change(self, change: Change) -> None:
        """A stored session changed (change feed): a deleted one's copy here ends, a new log
        level applies here. Raises StoreUnavailable (the follower retries)."""
        session_id = self._by_hash.get(change.key)
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
        for session_id, owner in list(self._session_owners.items()):
            if owner is not None and owner["client_id"] == key_id:
                await self._end_here(session_id)

    # -- the request path -----------------------------------------------------------------

    async def _handle_stateful_request(self, scope: Scope, receive: Receive, send: Send) -> None:
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
                    too_many = _error_response("Too many open sessions", 503, INTERNAL_ERROR)
                    await too_many(scope, receive, send)
                    return
            else:
                if session_id not in self._server_instances:
                    if not await self._resume(session_id, requestor, scope):
                        full = _error_response("Too many open sessions", 503, INTERNAL_ERROR)
                        await full(scope, receive, send)
                        return
                local = self._local.get(session_id)
                if local is not None and self._session_owners.get(session_id) == requestor:
                    self._used.add(session_id)  # another's request keeps nothing alive
                    if scope.get("method") == "DELETE":
                        # Our own feed reports this delete too, maybe before the SDK below
                        # serves the DELETE: the copy here is this request's to end (else
                        # the client's DELETE could find it gone and get 404).
                        deleting = True
                        self._deleting.add(session_id)
                        await self.records.delete(local.id_hash)  # every replica, by the feed
        except GatewayError as exc:  # the store: 503 store_unavailable
            if deleting and session_id is not None:
                self._deleting.discard(session_id)
            await refused(exc)(scope, receive, send)
            return
        try:
            await super()._handle_stateful_request(scope, receive, send)
        finally:
            if deleting and session_id is not None:
                self._deleting.discard(session_id)
                await self._end_here(session_id)  # a DELETE cut short: its record is gone

    def _admit_session(
        self, requestor: AuthorizationContext | None
    ) -> StreamableHTTPServerTransport | None:
        # Called under the SDK's session-creation lock: the counts cannot race. The SDK's own
        # body, but with a 192-bit id and the local per-caller count (the store's was checked
        # before, counting every replica's).
        if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
            return None
        if self.sessions_of(requestor) >= self.max_per_caller:
            return None
        return self._register(secrets.token_hex(24), requestor)

    def _register(
        self, session_id: str, requestor: AuthorizationContext | None
    ) -> StreamableHTTPServerTransport:
        transport = StreamableHTTPServerTransport(
            mcp_session_id=session_id,
            is_json_response_enabled=self.json_response,
            event_store=self.events.for_session(session_id) if self.events is not None else None,
            security_settings=self.security_settings,
            retry_interval=self.retry_interval,
            idle_timeout=self.session_idle_timeout,
        )
        if requestor is not None:
            self._session_owners[session_id] = requestor
        self._server_instances[session_id] = transport
        return transport

    async def _discard_session(
        self, session_id: str, transport: StreamableHTTPServerTransport
    ) -> None:
        # The local copy only (idle here, DELETE, crash): the record is the store's.
        local = self._local.pop(session_id, None)
        if local is not None:
            self._by_hash.pop(local.id_hash, None)
        self._used.discard(session_id)
        if self.events is not None:
            self.events.drop(session_id)
        await super()._discard_session(session_id, transport)

    async def _end_here(self, session_id: str) -> None:
        transport = self._server_instances.get(session_id)
        if transport is not None:
            log.info("MCP session ended on another replica or expired: its copy here ends")
            await self._discard_session(session_id, transport)

    # -- resuming a session another replica opened ---------------------------------------

    async def _resume(
        self, session_id: str, requestor: AuthorizationContext | None, scope: Scope | None = None
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
        async with self._session_creation_lock:
            if session_id in self._server_instances:
                return True  # resumed by a concurrent request meanwhile
            if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
                log.warning("cannot resume an MCP session: this replica holds the most it may")
                return False
            transport = self._register(session_id, requestor)
            self._keep(session_id, record)
            assert self._task_group is not None
            run = functools.partial(self._serve_resumed, transport, record, scope)
            try:
                await self._task_group.start(run)
            except BaseException:
                await self._discard_session(session_id, transport)
                raise
        self.resumed += 1
        return True

    def _keep(self, session_id: str, record: McpSessionRecord) -> None:
        self._local[session_id] = _Local(record.id_hash, facts_of(record))
        self._by_hash[record.id_hash] = session_id
        self._apply_level(session_id, record)

    def _apply_level(self, session_id: str, record: McpSessionRecord) -> None:
        for level in LEVELS:
            if level == record.log_level and self._log_levels is not None:
                self._log_levels.set(session_id, level)

    async def _serve_resumed(
        self,
        transport: StreamableHTTPServerTransport,
        record: McpSessionRecord,
        scope: Scope | None,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """The SDK's session task (``_serve_opening_request``), on a born-ready connection."""
        session_id = transport.mcp_session_id
        assert session_id is not None
        async with transport.connect() as (read_stream, write_stream):
            dispatcher: JSONRPCDispatcher[TransportContext] = JSONRPCDispatcher(
                read_stream, write_stream, inline_methods=frozenset({"initialize"})
            )
            connection = Connection.from_envelope(
                record.protocol_version,
                json.loads(record.client_info_json),
                json.loads(record.capabilities_json),
                outbound=dispatcher,  # the GET stream carries list_changed here too
            )
            connection.session_id = session_id
            if self._on_resume is not None and scope is not None:
                self._on_resume(session_id, connection, scope)
            task_status.started()
            try:
                idle_scope = transport.idle_scope or anyio.CancelScope()
                with idle_scope:
                    await serve_connection(
                        self.app,
                        dispatcher,
                        connection=connection,
                        lifespan_state=self._lifespan_state,
                    )
            except Exception:
                log.exception("a resumed MCP session crashed")
            finally:
                await self._discard_session(session_id, transport)

    # -- storing what initialize negotiated; liveness ------------------------------------

    async def _remember(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Server middleware: store a session when its ``initialize`` succeeds (before the
        answer leaves), and a ``logging/setLevel``."""
        result = await call_next(ctx)
        if ctx.method not in ("initialize", "logging/setLevel"):
            return result
        session_id = ctx.session._connection.session_id
        scope = getattr(ctx.request, "scope", None)
        owner = owner_of(requestor_of(scope)) if scope is not None else None
        if session_id is None or owner is None:
            return result
        try:
            if ctx.method == "initialize":
                record = await self.records.create(session_id, owner, ctx.params)
                self._keep(session_id, record)
            elif (local := self._local.get(session_id)) is not None:
                level = (ctx.params or {}).get("level")
                if isinstance(level, str):
                    await self.records.set_level(local.id_hash, level)
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
        used = self._used | {
            sid for sid, t in self._server_instances.items() if t._requests_in_flight
        }
        self._used = set()
        by_hash = {self._local[sid].id_hash: sid for sid in used if sid in self._local}
        alive = await self.records.touch(by_hash)
        for id_hash, session_id in by_hash.items():
            if id_hash not in alive:
                await self._end_here(session_id)
