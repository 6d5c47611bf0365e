"""The SDK's Streamable HTTP session manager, opened up for the gateway's session policy.

The one module of the server side that reaches SDK internals: the manager's session tables
(``_server_instances``, ``_session_owners``), its creation lock, task group and lifespan
state, its request path (``_handle_stateful_request``), admission (``_admit_session``) and
discard hooks, its ``_error_response``, a transport's read-stream writer and request count,
and a request context's connection. tests/upstream/test_sdk_boundary.py keeps it that way,
as upstream/sdk.py is for the client side. Everything above it (sessions.py, the fast path,
the disconnect watch) goes through the public methods here.

What it changes of the SDK's behaviour:

- 192-bit session ids (the SDK's uuid4 carries 122 random bits; issue 12 wants >= 128), and
  admission refused at the per-caller limit counted on this replica as well as at the SDK's
  ``max_sessions``.
- Each session's transport gets its own event store (event_store.py), dropped when the
  session ends here; the SDK then sends a priming event (with ``retry``) on each 2025-11-25
  SSE stream and replays after ``Last-Event-ID``.
- A stored session can be opened here (:meth:`SdkSessions.resume`): a local transport with
  its id, served by a connection born ready with the stored protocol version, capabilities
  and clientInfo (the SDK's stateless path builds one the same way).
- Subclass hooks: :meth:`SdkSessions.handle_stateful` (a stateful request, before the SDK
  serves it with :meth:`SdkSessions.serve_by_sdk`), :meth:`SdkSessions.kept` (a resumed
  session registered) and :meth:`SdkSessions.forgotten` (a session ends here).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import anyio
from anyio.abc import TaskStatus
from mcp.server import Server
from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager, _error_response
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared._context_streams import ContextSendStream
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.message import SessionMessage
from mcp.shared.transport_context import TransportContext
from mcp_types import INTERNAL_ERROR
from starlette.types import Receive, Scope, Send

from mcp_gateway.api.downstream.event_store import EventBuffer
from mcp_gateway.api.downstream.sdk_replay import ResumingTransport
from mcp_gateway.domain.mcp_sessions import McpSessionRecord

log = logging.getLogger("mcp_gateway.mcp")

OnResume = Callable[[str, Connection, Scope], None]
"""Told of a session resumed here: its id, its connection (whose standalone channel is the
GET stream) and the scope of the request that resumed it (its caller)."""


def context_session_id(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The session id of the connection a request arrived on (None: no session)."""
    return ctx.session._connection.session_id


async def refuse_too_many(scope: Scope, receive: Receive, send: Send) -> None:
    """The SDK's answer when no session can be opened (503, a JSON-RPC error body)."""
    await _error_response("Too many open sessions", 503, INTERNAL_ERROR)(scope, receive, send)


class SdkSessions(StreamableHTTPSessionManager):
    def __init__(
        self,
        app: Server[Any],
        *,
        idle_timeout: float,
        max_sessions: int,
        max_per_caller: int,
        max_body: int,
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
        self._on_resume = on_resume
        self.resumed = 0  # sessions resumed from the store (for tests and benchmarks)

    # -- what the session tables say ------------------------------------------------------

    def holds(self, session_id: str) -> bool:
        """Whether this process has a transport for ``session_id`` (even one ending)."""
        return session_id in self._server_instances

    def owner(self, session_id: str) -> AuthorizationContext | None:
        """The identity bound to ``session_id`` here (``Caller.attach``), if any."""
        return self._session_owners.get(session_id)

    def serves(self, session_id: str, requestor: AuthorizationContext | None) -> bool:
        """Whether ``session_id`` is open here for ``requestor``: held, not terminated, not
        idled out (a session that idled out but is not terminated yet is the SDK path's to
        answer), and bound to that identity."""
        transport = self._server_instances.get(session_id)
        if transport is None or transport.is_terminated:
            return False
        if transport.idle_scope is not None and transport.idle_scope.cancel_called:
            return False
        return self._session_owners.get(session_id) == requestor

    def sessions_of(self, owner: AuthorizationContext | None) -> int:
        return sum(1 for known in self._session_owners.values() if known == owner)

    def sessions_of_key(self, key_id: str) -> list[str]:
        """The sessions held here that API key ``key_id`` opened."""
        return [
            session_id
            for session_id, owner in self._session_owners.items()
            if owner is not None and owner["client_id"] == key_id
        ]

    def busy(self) -> set[str]:
        """The sessions with a request in flight (an open GET stream counts)."""
        return {sid for sid, t in self._server_instances.items() if t._requests_in_flight}

    def session_writer(
        self, session_id: str
    ) -> ContextSendStream[SessionMessage | Exception] | None:
        """The stream into a live session's server loop (None when it ended): what the edge
        uses to deliver a cancellation the client could not send (api.downstream.disconnect)."""
        transport = self._server_instances.get(session_id)
        return transport._read_stream_writer if transport is not None else None

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

    # -- hooks for the subclass -----------------------------------------------------------

    async def handle_stateful(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request of a stateful (2025-era) session, or one opening it: by default the
        SDK's path (:meth:`serve_by_sdk`)."""
        await self.serve_by_sdk(scope, receive, send)

    def kept(self, session_id: str, record: McpSessionRecord) -> None:
        """A stored session was registered here by :meth:`resume`, before it serves."""

    def forgotten(self, session_id: str) -> None:
        """A session ends here (idle, DELETE, crash, :meth:`end`), before the SDK forgets
        it."""

    # -- the SDK's own paths --------------------------------------------------------------

    async def serve_by_sdk(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super()._handle_stateful_request(scope, receive, send)

    async def _handle_stateful_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle_stateful(scope, receive, send)

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
        transport = ResumingTransport(
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
        self.forgotten(session_id)
        if self.events is not None:
            self.events.drop(session_id)
        await super()._discard_session(session_id, transport)

    async def end(self, session_id: str) -> None:
        """End the copy of ``session_id`` held here, if any (its record is not touched)."""
        transport = self._server_instances.get(session_id)
        if transport is not None:
            await self._discard_session(session_id, transport)

    # -- opening a session another replica opened ----------------------------------------

    async def resume(
        self,
        session_id: str,
        requestor: AuthorizationContext | None,
        record: McpSessionRecord,
        scope: Scope,
    ) -> bool:
        """Serve stored session ``record`` (id ``session_id``, bound to ``requestor``) here.
        False only when this replica holds ``max_sessions`` already."""
        async with self._session_creation_lock:
            if session_id in self._server_instances:
                return True  # resumed by a concurrent request meanwhile
            if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
                log.warning("cannot resume an MCP session: this replica holds the most it may")
                return False
            transport = self._register(session_id, requestor)
            self.kept(session_id, record)
            assert self._task_group is not None
            run = functools.partial(self._serve_resumed, transport, record, scope)
            try:
                await self._task_group.start(run)
            except BaseException:
                await self._discard_session(session_id, transport)
                raise
        self.resumed += 1
        return True

    async def _serve_resumed(
        self,
        transport: StreamableHTTPServerTransport,
        record: McpSessionRecord,
        scope: Scope,
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
            if self._on_resume is not None:
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
