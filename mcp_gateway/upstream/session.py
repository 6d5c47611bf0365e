"""One live upstream connection: transport + ``ClientSession`` + handshake, entered and exited
by a single owner task (the supervisor's), used concurrently by any number of caller tasks.

Handshake policy: ``initialize`` first (a 2025-era session: an ``Mcp-Session-Id`` over HTTP,
spontaneous ``tools/list_changed`` notifications); a server that rejects it with -32022 (it only
speaks the sessionless 2026-07-28 protocol) is then probed with ``server/discover``. Over
Streamable HTTP a stored session id is resumed with no handshake at all (``adopt`` of the stored
protocol version); the tool listing that follows validates it, and a 404 drops the stored id and
re-initializes once. An ``initialize`` answered 400/404/405 falls back to legacy SSE.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import httpx2
import mcp_types as types
from mcp.client.session import ClientSession, IncomingMessage, MessageHandlerFnT
from mcp.shared.exceptions import MCPError
from mcp_types import UNSUPPORTED_PROTOCOL_VERSION

from mcp_gateway.config import DEFAULT_MAX_MESSAGE_BYTES
from mcp_gateway.domain.records import UpstreamSession
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.errors import GatewayError, InvalidRequest
from mcp_gateway.storage.ports import SessionStore
from mcp_gateway.upstream.childenv import child_environment
from mcp_gateway.upstream.http_connect import (
    HttpObservations,
    HttpStreams,
    open_sse,
    open_streamable_http,
)
from mcp_gateway.upstream.ringbuffer import LineRing
from mcp_gateway.upstream.stdio_transport import open_stdio

logger = logging.getLogger(__name__)

SSE_FALLBACK_STATUSES = frozenset({400, 404, 405})
MAX_TOOL_PAGES = 100  # a paginator that never ends cannot hang a listing


@dataclass(eq=False, slots=True)
class Link:
    """Flags the transport and notification callbacks raise for the owner, plus its wake-up."""

    poke: Callable[[], None]
    dead: bool = False
    tools_dirty: bool = False
    session_expired: bool = False
    exit_status: int | None = None  # a stdio child's return code, once it was reaped

    def exited(self, status: int | None) -> None:
        self.exit_status = status

    def mark_dead(self) -> None:
        if not self.dead:
            self.dead = True
            self.poke()

    def mark_expired(self) -> None:
        self.session_expired = True
        self.poke()


@dataclass(eq=False, slots=True)
class LiveSession:
    """A connected session. ``call_tool`` and ``fetch_tools`` may run from any task."""

    session: ClientSession
    link: Link
    transport: str
    pid: int | None = None
    protocol_version: str | None = None
    tools: tuple[types.Tool, ...] | None = None
    started_at: float = field(default_factory=time.monotonic)

    async def call_tool(
        self, tool: str, arguments: dict[str, object], read_timeout: float
    ) -> types.CallToolResult:
        """Raw SDK call (raises MCPError, transport errors). No output-schema validation: the
        gateway forwards results, its own clients validate."""
        request = types.CallToolRequest(
            params=types.CallToolRequestParams(name=tool, arguments=arguments)
        )
        return await self.session.send_request(
            request, types.CallToolResult, request_read_timeout_seconds=read_timeout
        )

    async def fetch_tools(self, read_timeout: float) -> tuple[types.Tool, ...]:
        """Every page of ``tools/list``; caches and returns the list."""
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await self.session.send_request(
                types.ListToolsRequest(params=params),
                types.ListToolsResult,
                request_read_timeout_seconds=read_timeout,
            )
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        self.tools = tuple(tools)
        return self.tools


def _message_handler(link: Link) -> MessageHandlerFnT:
    async def handle(message: IncomingMessage) -> None:
        # Runs on the dispatcher's read loop: never do session I/O here, wake the owner instead.
        if isinstance(message, types.ToolListChangedNotification):
            link.tools_dirty = True
            link.poke()

    return handle


async def _handshake(session: ClientSession) -> str | None:
    try:
        await session.initialize()
    except MCPError as exc:
        if exc.code != UNSUPPORTED_PROTOCOL_VERSION:
            raise
        await session.discover()  # a 2026-07-28-only server: sessionless
    return session.protocol_version


def _resumed(protocol_version: str, name: str) -> types.InitializeResult:
    return types.InitializeResult(
        protocol_version=protocol_version,
        capabilities=types.ServerCapabilities(tools=types.ToolsCapability(list_changed=True)),
        server_info=types.Implementation(name=name, version="resumed"),
    )


async def _stored(sessions: SessionStore, server: str, scope: str) -> UpstreamSession | None:
    try:
        return await sessions.get_session(server, scope)
    except GatewayError:  # the store is down: connect without resuming
        logger.warning("could not read the stored session of server %r", server)
        return None


async def _forget(sessions: SessionStore, server: str, scope: str) -> None:
    try:
        await sessions.delete_session(server, scope)
    except GatewayError:
        logger.warning("could not delete the stored session of server %r", server)


@asynccontextmanager
async def connect(
    server: ServerConfig,
    *,
    scope: str,
    link: Link,
    ring: LineRing,
    sessions: SessionStore,
    terminate: Callable[[], bool],
    user_env: Mapping[str, str] | None = None,
    user_headers: Mapping[str, str] | None = None,
    http_auth: httpx2.Auth | None = None,
    list_timeout: float = 30.0,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> AsyncIterator[LiveSession]:
    """Open, handshake and list tools; yields a :class:`LiveSession`. Must be entered and
    exited by the same task. Raises MCPError / OSError / httpx2 errors when the upstream
    cannot be reached or refuses the handshake, InvalidRequest for an incomplete definition."""
    handler = _message_handler(link)
    async with AsyncExitStack() as stack:
        if server.transport_type is TransportType.STDIO:
            if not server.command:
                raise InvalidRequest(f"server {server.name!r} has no command")
            child = await stack.enter_async_context(
                open_stdio(
                    server.command,
                    server.args,
                    env=child_environment(server.env, user_env),
                    cwd=server.cwd,
                    stderr_ring=ring,
                    on_eof=link.mark_dead,
                    on_exit=link.exited,
                    max_message_bytes=max_message_bytes,
                )
            )
            session = await stack.enter_async_context(
                ClientSession(child.read_stream, child.write_stream, message_handler=handler)
            )
            version = await _handshake(session)
            live = LiveSession(session, link, "stdio", pid=child.pid, protocol_version=version)
        else:
            if not server.url:
                raise InvalidRequest(f"server {server.name!r} has no url")
            target = _HttpTarget(
                stack,
                server,
                server.url,
                scope,
                {**server.headers, **(user_headers or {})},
                link,
                handler,
                sessions,
                terminate,
                list_timeout,
                http_auth,
                max_message_bytes,
            )
            live = await _connect_http(target)
        if live.tools is None:
            await _initial_tools(live, list_timeout)
        yield live


async def _initial_tools(live: LiveSession, read_timeout: float) -> None:
    try:
        await live.fetch_tools(read_timeout)
    except MCPError as exc:  # a server without tools still serves the rest
        # The code, not the message: an upstream may echo a per-user secret in it.
        logger.info("tools/list failed on connect (JSON-RPC error %s)", exc.code)


@dataclass(eq=False, slots=True)
class _HttpTarget:
    """Everything the HTTP connect steps share; ``stack`` is the connection's exit stack."""

    stack: AsyncExitStack
    server: ServerConfig
    url: str
    scope: str
    headers: dict[str, str] = field(repr=False)  # may carry credentials
    link: Link
    handler: MessageHandlerFnT
    sessions: SessionStore
    terminate: Callable[[], bool]
    list_timeout: float
    auth: httpx2.Auth | None
    max_message_bytes: int


@dataclass(eq=False, slots=True)
class _Attempt:
    """One Streamable HTTP connection try: kept (moved into the target's stack) or closed."""

    exits: AsyncExitStack
    observations: HttpObservations
    streams: HttpStreams | None = None
    session: ClientSession | None = None
    kept: bool = False

    def on_closed(self, link: Link) -> Callable[[], None]:
        def closed() -> None:
            if self.kept:  # a discarded try closing must not mark the final link dead
                link.mark_dead()

        return closed


async def _open_attempt(target: _HttpTarget, session_id: str | None) -> _Attempt:
    attempt = _Attempt(AsyncExitStack(), HttpObservations(on_expired=target.link.mark_expired))
    try:
        attempt.streams = await attempt.exits.enter_async_context(
            open_streamable_http(
                target.url,
                headers=target.headers,
                observations=attempt.observations,
                session_id=session_id,
                terminate=target.terminate,
                on_closed=attempt.on_closed(target.link),
                auth=target.auth,
                max_message_bytes=target.max_message_bytes,
            )
        )
        streams = attempt.streams
        attempt.session = await attempt.exits.enter_async_context(
            ClientSession(streams.read_stream, streams.write_stream, message_handler=target.handler)
        )
    except BaseException:
        await attempt.exits.aclose()
        raise
    return attempt


async def _keep(target: _HttpTarget, attempt: _Attempt, live: LiveSession) -> LiveSession:
    await target.stack.enter_async_context(attempt.exits)
    attempt.kept = True
    return live


async def _resume(target: _HttpTarget, stored: UpstreamSession) -> LiveSession | None:
    """Adopt a stored session id without a handshake; the tool listing validates it. None when
    the server forgot it (404): the stored id is dropped and the caller initializes afresh."""
    attempt = await _open_attempt(target, stored.session_id)
    assert attempt.session is not None and attempt.streams is not None
    try:
        live = LiveSession(attempt.session, target.link, "streamable_http")
        version = stored.protocol_version or "2025-11-25"
        attempt.session.adopt(_resumed(version, target.server.name))
        live.protocol_version = attempt.session.protocol_version
        assert attempt.streams.start_get_stream is not None
        attempt.streams.start_get_stream()
        await _initial_tools(live, target.list_timeout)
    except BaseException:
        await attempt.exits.aclose()
        raise
    if attempt.observations.session_expired:
        await _forget(target.sessions, target.server.name, target.scope)
        target.link.session_expired = False
        await attempt.exits.aclose()
        return None
    return await _keep(target, attempt, live)


def falls_back_to_sse(opening_status: int | None) -> bool:
    """An ``initialize`` POST answered with one of these is not a Streamable HTTP endpoint."""
    return opening_status in SSE_FALLBACK_STATUSES


async def _initialize(target: _HttpTarget) -> LiveSession | None:
    """A fresh Streamable HTTP session (its id persisted for the next start). None when the
    endpoint answered the opening POST like a legacy SSE server."""
    attempt = await _open_attempt(target, None)
    assert attempt.session is not None and attempt.streams is not None
    try:
        live = LiveSession(attempt.session, target.link, "streamable_http")
        live.protocol_version = await _handshake(attempt.session)
        transport = attempt.streams.transport
        assert transport is not None
        if transport.session_id:
            await _persist(target.sessions, target.server, target.scope, transport.session_id, live)
    except MCPError:
        await attempt.exits.aclose()
        if falls_back_to_sse(attempt.observations.opening_status):
            return None
        raise
    except BaseException:
        await attempt.exits.aclose()
        raise
    return await _keep(target, attempt, live)


async def _connect_sse(target: _HttpTarget) -> LiveSession:
    link = target.link
    streams = await target.stack.enter_async_context(
        open_sse(
            target.url,
            headers=target.headers,
            on_closed=link.mark_dead,
            auth=target.auth,
            max_message_bytes=target.max_message_bytes,
        )
    )
    session = await target.stack.enter_async_context(
        ClientSession(streams.read_stream, streams.write_stream, message_handler=target.handler)
    )
    version = await _handshake(session)
    return LiveSession(session, link, "sse", protocol_version=version)


async def _connect_http(target: _HttpTarget) -> LiveSession:
    """Streamable HTTP: resume the stored session, else initialize; legacy SSE when the server
    is configured as ``sse`` or the opening POST says it is one."""
    if target.server.transport_type is TransportType.STREAMABLE_HTTP:
        stored = await _stored(target.sessions, target.server.name, target.scope)
        live = await _resume(target, stored) if stored is not None else None
        if live is None:
            live = await _initialize(target)
        if live is not None:
            return live
    return await _connect_sse(target)


async def _persist(
    sessions: SessionStore, server: ServerConfig, scope: str, session_id: str, live: LiveSession
) -> None:
    record = UpstreamSession(server.name, scope, session_id, live.protocol_version, time.time())
    try:
        await sessions.put_session(record)
    except GatewayError:
        logger.warning("could not store the session of server %r", server.name)
