"""One live upstream connection: transport + ``ClientSession`` + handshake, entered and exited
by a single owner task (the supervisor's), used concurrently by any number of caller tasks.

Handshake policy: ``initialize`` first (a 2025-era session: an ``Mcp-Session-Id`` over HTTP,
spontaneous ``tools/list_changed`` notifications); a server that rejects it with -32022 (it only
speaks the sessionless 2026-07-28 protocol) is then probed with ``server/discover``. HTTP
upstreams connect in the steps of :mod:`~mcp_gateway.upstream.http_session` (resume,
initialize, legacy-SSE fallback).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import httpx2
import mcp_types as types
from mcp.client.session import ClientSession, IncomingMessage, MessageHandlerFnT

from mcp_gateway.config import DEFAULT_MAX_MESSAGE_BYTES
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.process.env import child_environment
from mcp_gateway.process.output import OutputTail
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.storage.ports import SessionStore
from mcp_gateway.upstream.http_session import HttpTarget, connect_http, connect_modern_http
from mcp_gateway.upstream.live import Link, LiveSession, discover, handshake, initial_tools
from mcp_gateway.upstream.notices import PROMPTS_CHANGED, RESOURCE_UPDATED, RESOURCES_CHANGED
from mcp_gateway.upstream.relay import InFlight, client_callbacks
from mcp_gateway.upstream.stdio_transport import open_stdio


def _message_handler(link: Link) -> MessageHandlerFnT:
    async def handle(message: IncomingMessage) -> None:
        # Runs on the dispatcher's read loop: never do session I/O here, wake the owner instead.
        if isinstance(message, types.ToolListChangedNotification):
            link.tools_dirty = True
            link.poke()
        elif link.notice is not None:
            if isinstance(message, types.ResourceListChangedNotification):
                link.notice(RESOURCES_CHANGED, None)
            elif isinstance(message, types.PromptListChangedNotification):
                link.notice(PROMPTS_CHANGED, None)
            elif isinstance(message, types.ResourceUpdatedNotification):
                link.notice(RESOURCE_UPDATED, str(message.params.uri))

    return handle


@asynccontextmanager
async def connect(
    server: ServerConfig,
    *,
    scope: str,
    link: Link,
    ring: OutputTail,
    sessions: SessionStore,
    terminate: Callable[[], bool],
    user_env: Mapping[str, str] | None = None,
    user_headers: Mapping[str, str] | None = None,
    http_auth: httpx2.Auth | None = None,
    list_timeout: float = 30.0,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    sandbox: Sandbox | None = None,
    modern: bool = False,
) -> AsyncIterator[LiveSession]:
    """Open, handshake and list tools; yields a :class:`LiveSession`. Must be entered and
    exited by the same task. Raises MCPError / OSError / httpx2 errors when the upstream
    cannot be reached or refuses the handshake, InvalidRequest for an incomplete definition.

    The session forwards the upstream's requests and log messages to the caller of the call
    that caused them (upstream/relay.py): by the sender's context over Streamable HTTP, by the
    sole call in flight over stdio and legacy SSE.

    ``modern``: a 2026-07-28 session (upstream/eras.py): ``server/discover`` only (MCPError
    when the upstream does not speak it), never a stored HTTP session."""
    handler = _message_handler(link)
    in_flight = InFlight(by_context=server.transport_type is TransportType.STREAMABLE_HTTP)
    callbacks = client_callbacks(in_flight)
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
                    sandbox=sandbox,
                )
            )
            session = await stack.enter_async_context(
                ClientSession(
                    child.read_stream,
                    child.write_stream,
                    message_handler=handler,
                    **callbacks.kwargs(),
                )
            )
            opening = discover if modern else handshake
            version = await opening(session, list_timeout)
            live = LiveSession(session, link, "stdio", pid=child.pid, protocol_version=version)
        else:
            if not server.url:
                raise InvalidRequest(f"server {server.name!r} has no url")
            target = HttpTarget(
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
                callbacks,
            )
            live = await (connect_modern_http(target) if modern else connect_http(target))
        # Over legacy SSE (a fallback of an HTTP definition) nothing carries the context.
        in_flight.by_context = in_flight.by_context and live.transport == "streamable_http"
        live.in_flight = in_flight
        if live.tools is None:
            await initial_tools(live, list_timeout)
        yield live
