"""Tool calls: the hot path (server lookup, secret injection, pool call, audit).

What is secret in a call is decided once, here: the user's stored secrets placed by
``injection.build_injection`` plus what :class:`UpstreamCredentials` adds (Google credentials),
each with every form worth masking (``domain.redaction.secret_values``). The pool's session for
the call remembers those values for its whole life and masks them in every error, ``isError``
result and log line it reports, so nothing here rewrites results or exceptions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from mcp_types import CallToolResult, Tool

from mcp_gateway import logcontext
from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.domain.servers import SHARED_SCOPE, ServerConfig, session_scope
from mcp_gateway.errors import GatewayError, ServerDisabled, ServerNotFound
from mcp_gateway.observability import tracing
from mcp_gateway.services.audit import AuditLog
from mcp_gateway.services.oauth.credentials import UpstreamCredentials
from mcp_gateway.services.principal import Principal
from mcp_gateway.services.ratelimit import RateLimiter
from mcp_gateway.services.secrets import SecretService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.services.tool_listing import hidden_for, tool_json
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import SecretStore, ServerStore
from mcp_gateway.upstream.state import ServerState

log = logging.getLogger("mcp_gateway.tools")

# (server label, tool, outcome, seconds): e.g. Prometheus metrics. Unknown servers are labelled
# "-" so a caller cannot grow label sets with made-up names (the tool is the caller's: the
# observer bounds it).
CallObserver = Callable[[str, str, str, float], None]


class ToolsStore(ServerStore, SecretStore, Protocol):
    pass


class InstallGate(Protocol):
    """Who may use a user's external server (``services.user_servers.UserServerService``)."""

    async def check_call(self, server: ServerConfig, username: str) -> None:
        """Raise NotInstalled unless ``username`` may call ``server``."""

    async def visible(self, server: ServerConfig, username: str) -> bool: ...


class ToolCallService:
    def __init__(
        self,
        store: ToolsStore,
        secrets: SecretService,
        pool: UpstreamPort,
        audit: AuditLog,
        *,
        servers: ServerService | None = None,
        credentials: UpstreamCredentials | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._store = store
        self._credentials = credentials
        self._secrets = secrets
        self._pool = pool
        self._audit = audit
        self._servers = servers
        self.observers: list[CallObserver] = []
        self.installs: InstallGate | None = None  # set by the runtime
        self.limiter = limiter if limiter is not None else RateLimiter()

    async def _server(self, name: str) -> ServerConfig:
        if self._servers is not None:
            return await self._servers.config(name)
        server = await self._store.get_server(name)
        if server is None:
            raise ServerNotFound(name)
        return server

    async def call(
        self,
        principal: Principal,
        username: str,
        server_name: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        request_id: str = "",
    ) -> CallToolResult:
        """Call ``tool`` on ``server_name`` as ``username`` with that user's secrets injected.

        The caller's values for arguments the gateway injects are dropped. A tool's own failure
        is a result with ``isError`` (masked). Raises ServerNotFound, ServerDisabled,
        RateLimited, MissingSecret, ReauthRequired, Upstream* (messages masked), StoreUnavailable.
        Every call, whatever its outcome, is counted and audited (never argument values).
        """
        started = time.perf_counter()
        outcome = "ok"
        label = "-"
        span = tracing.start_tool_call(server_name, tool)  # a shared no-op while traces are off
        logcontext.SERVER.set(server_name)  # for JSON log lines written during this call
        logcontext.TOOL.set(tool[:200])
        try:
            server = await self._server(server_name)
            label = server.name
            if not server.enabled:
                raise ServerDisabled(server.name)
            self.limiter.check(server, principal.key_id, username)  # before any store or upstream
            if self.installs is not None:
                await self.installs.check_call(server, username)  # external: installed?
            injection = await self._secrets.injection(server, username)
            credentials = self._credentials
            own = credentials is not None and await credentials.own_session(server, username)
            if credentials is not None and credentials.applies_to(server):
                injection = await credentials.prepare(server, username, tool, injection)
            args = (
                injection.apply_args(arguments)
                if injection.args or injection.reserved
                else arguments
            )
            result = await self._pool.call_tool(
                server,
                tool,
                args,
                username=username,
                env=injection.env or None,
                headers=injection.headers or None,
                secrets=injection.values,
                own_session=own,
            )
            if result.is_error:
                outcome = "tool_error"
            return result
        except GatewayError as exc:
            outcome = exc.code
            raise
        except Exception as exc:
            # A foreign exception's text may carry arguments or secrets: keep only its type.
            outcome = "internal_error"
            log.error("tool call %s/%s failed with %s", label, tool, type(exc).__name__)
            raise GatewayError(f"internal error during tool call ({type(exc).__name__})") from None
        except BaseException:
            outcome = "cancelled"  # the client went away or the gateway is shutting down
            raise
        finally:
            elapsed = time.perf_counter() - started
            logcontext.OUTCOME.set(outcome)
            self._audit.record(
                AuditEvent(
                    ts=time.time(),
                    request_id=request_id,
                    actor=principal.key_id,
                    role=principal.role.value,
                    action="tool_call",
                    username=username,
                    server=server_name if label != "-" else None,
                    tool=tool[:200],
                    duration_ms=round(elapsed * 1000, 3),
                    outcome=outcome,
                )
            )
            span.end(outcome)
            for observe in self.observers:
                observe(label, tool, outcome, elapsed)

    async def list_tools(self, username: str) -> list[tuple[str, list[dict[str, Any]]]]:
        """Every enabled server's tools as MCP JSON, without the arguments the gateway injects
        for ``username``. Servers not connected yet list no tools."""
        states = self._pool.statuses()
        return [
            (server.name, await self._listed(server, username, states))
            for server in await self._store.list_servers()
            if server.enabled and await self._visible(server, username)
        ]

    async def _visible(self, server: ServerConfig, username: str) -> bool:
        return self.installs is None or await self.installs.visible(server, username)

    async def list_server_tools(self, username: str, server_name: str) -> list[dict[str, Any]]:
        """One server's tools as :meth:`list_tools` shows them (none while it is disabled or
        not connected yet). Raises ServerNotFound."""
        server = await self._server(server_name)
        if not server.enabled or not await self._visible(server, username):
            return []
        return await self._listed(server, username, self._pool.statuses())

    async def _listed(
        self, server: ServerConfig, username: str, states: Mapping[str, ServerState]
    ) -> list[dict[str, Any]]:
        state = states.get(server.name)
        tools: tuple[Tool, ...] | list[Tool] | None = state.tools if state else None
        if tools is None:
            own = await self._own_session(server, username)
            if own or session_scope(server, username) != SHARED_SCOPE:
                tools = await self._user_tools(server, username, own)
        hidden = hidden_for(server, await self._store.list_secret_names(username, server.name))
        return [tool_json(t, hidden) for t in tools or ()]

    async def _own_session(self, server: ServerConfig, username: str) -> bool:
        """Whether the user's tokens give them a session of their own (False when unsure)."""
        if self._credentials is None:
            return False
        try:
            return await self._credentials.own_session(server, username)
        except GatewayError:
            return False

    async def _user_tools(self, server: ServerConfig, username: str, own: bool) -> list[Tool]:
        try:
            server = await self._server(server.name)  # the definition object the pool runs
            injection = await self._secrets.injection(server, username)
            return await self._pool.list_tools(
                server,
                username=username,
                env=injection.env or None,
                headers=injection.headers or None,
                own_session=own,
            )
        except GatewayError as exc:  # one unreachable server must not fail the whole listing
            log.info("tools of %s for a user unavailable: %s", server.name, exc.code)
            return []
