"""``/mcp``, ``/mcp/{server}`` and ``/mcp/toolsets/{toolset}``: the routes, and the one session
manager behind all three.

:class:`McpEndpoint` is built by ``create_app``; its :meth:`run` is entered by the app's
lifespan inside the runtime, so every MCP session ends before the services close.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import anyio
from mcp.server.connection import Connection
from mcp.server.streamable_http import LAST_EVENT_ID_HEADER, MCP_SESSION_ID_HEADER
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from mcp_gateway.api.downstream.caller import caller_of
from mcp_gateway.api.downstream.disconnect import DisconnectWatch
from mcp_gateway.api.downstream.edge import HostOriginPolicy, identify, refused
from mcp_gateway.api.downstream.event_store import EventBuffer
from mcp_gateway.api.downstream.fastpath import FastPath
from mcp_gateway.api.downstream.notify import ListChanges
from mcp_gateway.api.downstream.relay import LogLevels
from mcp_gateway.api.downstream.rounds import Rounds
from mcp_gateway.api.downstream.server import build_server
from mcp_gateway.api.downstream.sessions import SessionManager
from mcp_gateway.api.errors import error_response
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain.changes import Change, ChangeKind
from mcp_gateway.domain.names import is_reserved_server_name
from mcp_gateway.errors import GatewayError

METHODS = ["GET", "POST", "DELETE"]


class McpEndpoint:
    """The ASGI app of the three routes."""

    def __init__(self, runtime: GatewayRuntime) -> None:
        settings = runtime.settings
        cfg = settings.endpoint
        self.runtime = runtime
        self.rounds = Rounds()
        self.changes = ListChanges(runtime, self._is_live)
        self.log_levels = LogLevels(self._is_live)
        self.manager = SessionManager(
            build_server(runtime, self.rounds, self.changes, self.log_levels),
            store=lambda: runtime.store,
            idle_timeout=cfg.session_idle,
            max_sessions=cfg.max_sessions,
            max_per_caller=cfg.max_sessions_per_caller,
            max_body=settings.http.max_body,
            log_levels=self.log_levels,
            on_resume=self._watch_resumed,
            events=EventBuffer(
                per_stream=cfg.resume_events_per_stream,
                total=cfg.resume_events,
                max_bytes=cfg.resume_bytes,
            )
            if cfg.resume_events and cfg.resume_bytes
            else None,
            retry_ms=cfg.sse_retry_ms,
        )
        self.disconnects = DisconnectWatch(self.manager, cfg.resume_grace)
        self.fast = FastPath(self.manager)
        self.policy = HostOriginPolicy(settings.http.host, cfg.allowed_hosts, cfg.allowed_origins)

    def _watch_resumed(self, session_id: str, connection: Connection, scope: Scope) -> None:
        """A session another replica opened is served here now: its GET stream here hears of
        list changes (notify.py)."""
        self.changes.watch_resumed(session_id, connection, caller_of(scope))

    def _is_live(self, session_id: str) -> bool:
        """Whether a legacy session still exists."""
        return self.manager.session_writer(session_id) is not None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        # Sessions deleted (or their log level set) on another replica (sessions.py).
        self.runtime.follower.subscribe(ChangeKind.MCP_SESSION, self.manager.on_change)
        # A revoked key's open sessions and streams end (its new requests already get 401).
        self.runtime.follower.subscribe(ChangeKind.API_KEY, self._key_changed)
        async with (
            self.rounds.run(),
            self.manager.run(),
            self.disconnects.run(),
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(self.changes.run)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    async def _key_changed(self, change: Change) -> None:
        """An API key changed on some replica: if it no longer exists (revoked), what it
        holds open here ends. Raises StoreUnavailable (the follower retries)."""
        if any(key.id == change.key for key in await self.runtime.store.list_api_keys()):
            return
        self.changes.end_for_key(change.key)
        await self.manager.end_for_key(change.key)

    def routes(self) -> list[Route]:
        """Placed after the REST routes: ``/mcp/tools`` and the other REST paths match first."""
        return [
            Route("/mcp", self, methods=METHODS, name="mcp"),
            Route("/mcp/{server}", self, methods=METHODS, name="mcp-server"),
            Route("/mcp/toolsets/{toolset}", self, methods=METHODS, name="mcp-toolset"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server: str | None = scope.get("path_params", {}).get("server")
        if server is not None and is_reserved_server_name(server):
            await _rest_answer(scope)(scope, receive, send)
            return
        request = Request(scope, receive)
        problem = self.policy.check(request)
        if problem is not None:
            await problem(scope, receive, send)
            return
        toolset: str | None = scope.get("path_params", {}).get("toolset")
        try:
            caller = replace(await identify(request, server), toolset=toolset)
            if server is not None and MCP_SESSION_ID_HEADER not in request.headers:
                await self.runtime.servers.config(server)  # ServerNotFound -> 404
            if toolset is not None and MCP_SESSION_ID_HEADER not in request.headers:
                # ToolsetNotFound -> 404 (cached until a toolset changes: services/catalogue.py)
                await self.runtime.catalogue.toolset(caller.username, toolset)
        except GatewayError as exc:
            await refused(exc)(scope, receive, send)
            return
        caller.attach(scope)
        if request.method == "POST":  # a plain request is answered there, else by the SDK
            await self.fast(scope, receive, send, self._sdk)
            return
        await self._sdk(scope, receive, send)

    async def _sdk(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Request(scope, receive).headers
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        if session_id is not None and scope["method"] == "POST":
            await self.disconnects.serve_post(
                self.manager.handle_request, session_id, scope, receive, send
            )
            return
        if session_id is not None and LAST_EVENT_ID_HEADER in headers:  # a resumed stream
            await self.disconnects.serve_get(
                self.manager.handle_request, session_id, scope, receive, send
            )
            return
        await self.manager.handle_request(scope, receive, send)


def _rest_answer(scope: Scope) -> Response:
    """What a path under ``/mcp/`` that is not an MCP endpoint answered before this route
    existed: 405 when a REST route serves it with another method, else 404 (REST bodies)."""
    allowed: set[str] = set()
    for route in scope["app"].routes:
        if isinstance(route, Route) and route.endpoint is not scope.get("endpoint"):
            match, _ = route.matches({**scope, "method": "__none__"})
            if match is not Match.NONE and route.methods:
                allowed |= route.methods
    if allowed:
        headers = {"Allow": ", ".join(sorted(allowed))}
        return error_response(405, "method_not_allowed", "Method Not Allowed", headers=headers)
    return error_response(404, "not_found", "Not Found")
