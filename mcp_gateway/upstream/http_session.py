"""Connecting to an HTTP upstream, in steps: resume a stored Streamable HTTP session,
else initialize a new one, else fall back to legacy SSE.

Resume: the stored ``Mcp-Session-Id`` is adopted with no handshake (the stored protocol
version); the tool listing that follows validates it, and a 404 drops the stored id so the
caller initializes afresh. Initialize: a new session whose id is persisted for the next start.
An ``initialize`` POST answered 400/404/405 says the endpoint is a legacy SSE server.
Each try opens its own exit stack and is either kept (moved into the connection's stack) or
closed, so a discarded try never marks the final connection dead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx2
import mcp_types as types
from mcp.client.session import ClientSession, MessageHandlerFnT
from mcp.shared.exceptions import MCPError

from mcp_gateway.domain.records import UpstreamSession
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.errors import GatewayError
from mcp_gateway.storage.ports import SessionStore
from mcp_gateway.upstream.direct import DirectCalls
from mcp_gateway.upstream.http_connect import (
    HttpObservations,
    HttpStreams,
    open_sse,
    open_streamable_http,
)
from mcp_gateway.upstream.live import Link, LiveSession, discover, handshake, initial_tools
from mcp_gateway.upstream.relay import Callbacks

logger = logging.getLogger(__name__)

SSE_FALLBACK_STATUSES = frozenset({400, 404, 405})


@dataclass(eq=False, slots=True)
class HttpTarget:
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
    callbacks: Callbacks  # sampling/elicitation/roots/logging (upstream/relay.py)


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


async def _open_attempt(target: HttpTarget, session_id: str | None) -> _Attempt:
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
            ClientSession(
                streams.read_stream,
                streams.write_stream,
                message_handler=target.handler,
                **target.callbacks.kwargs(),
            )
        )
    except BaseException:
        await attempt.exits.aclose()
        raise
    return attempt


async def _keep(target: HttpTarget, attempt: _Attempt, live: LiveSession) -> LiveSession:
    await target.stack.enter_async_context(attempt.exits)
    attempt.kept = True
    streams, session = attempt.streams, attempt.session
    if streams is not None and streams.client is not None and streams.transport is not None:
        assert session is not None
        live.direct = DirectCalls(
            streams.client,
            streams.transport,
            session,
            target.handler,
            target.callbacks.logging,
            attempt.on_closed(target.link),
        )
    return live


async def _resume(target: HttpTarget, stored: UpstreamSession) -> LiveSession | None:
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
        await initial_tools(live, target.list_timeout)
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


async def _initialize(target: HttpTarget) -> LiveSession | None:
    """A fresh Streamable HTTP session (its id persisted for the next start). None when the
    endpoint answered the opening POST like a legacy SSE server."""
    attempt = await _open_attempt(target, None)
    assert attempt.session is not None and attempt.streams is not None
    try:
        live = LiveSession(attempt.session, target.link, "streamable_http")
        live.protocol_version = await handshake(attempt.session, target.list_timeout)
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


async def _connect_sse(target: HttpTarget) -> LiveSession:
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
        ClientSession(
            streams.read_stream,
            streams.write_stream,
            message_handler=target.handler,
            **target.callbacks.kwargs(),
        )
    )
    version = await handshake(session, target.list_timeout)
    return LiveSession(session, link, "sse", protocol_version=version)


async def connect_http(target: HttpTarget) -> LiveSession:
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


async def connect_modern_http(target: HttpTarget) -> LiveSession:
    """A 2026-07-28 session over Streamable HTTP (upstream/eras.py): sessionless, so nothing
    is resumed, stored or ended. Raises MCPError when the upstream does not speak 2026-07-28
    (an ``sse`` definition never does)."""
    if target.server.transport_type is not TransportType.STREAMABLE_HTTP:
        raise MCPError(code=types.METHOD_NOT_FOUND, message="legacy SSE has no 2026-07-28 era")
    attempt = await _open_attempt(target, None)
    assert attempt.session is not None
    try:
        live = LiveSession(attempt.session, target.link, "streamable_http")
        live.protocol_version = await discover(attempt.session, target.list_timeout)
    except BaseException:
        await attempt.exits.aclose()
        raise
    return await _keep(target, attempt, live)


async def _persist(
    sessions: SessionStore, server: ServerConfig, scope: str, session_id: str, live: LiveSession
) -> None:
    record = UpstreamSession(server.name, scope, session_id, live.protocol_version, time.time())
    try:
        await sessions.put_session(record)
    except GatewayError:
        logger.warning("could not store the session of server %r", server.name)


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
