"""Resources, resource templates, prompts and completions of a server, for a user.

The one path for everything but tools that is sent to an upstream session (the MCP endpoint
uses it; REST could too): the server looked up and checked as a tool call checks it, the
rate limit, the user's secrets injected into the session the request goes to (a per-user
session is that user's; no other user's request can reach it), the upstream's errors and,
where other users' secrets reached a shared session, its results masked by the pool. Reads
(``resource_read``) and prompt fetches (``prompt_get``) are audited like tool calls: who, which
server, the resource URI without its query or the prompt's name, the outcome; never content
or arguments. Listings and completions are not audited, as tool listings are not.
"""

from __future__ import annotations

import logging
import time
from typing import Any, TypeVar

import anyio
import mcp_types as types
from pydantic import BaseModel

from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.domain.servers import SHARED_SCOPE, ServerConfig, ServerStatus, session_scope
from mcp_gateway.errors import GatewayError, ServerDisabled
from mcp_gateway.services.audit import AuditLog
from mcp_gateway.services.oauth.credentials import UpstreamCredentials
from mcp_gateway.services.oauth.google import is_google_server
from mcp_gateway.services.principal import Principal
from mcp_gateway.services.ratelimit import RateLimiter
from mcp_gateway.services.secrets import SecretService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.services.tool_calls import InstallGate
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import ServerStore

log = logging.getLogger("mcp_gateway.content")

R = TypeVar("R", bound=BaseModel)

#: A listing method and the capability a server must advertise for it.
LISTINGS = {
    "resources/list": "resources",
    "resources/templates/list": "resources",
    "prompts/list": "prompts",
}
MAX_PAGES = 100  # a paginator that never ends cannot hang an aggregated listing

SUBSCRIBE = "resources.subscribe"
"""A capability name of :func:`capability_names`: the server accepts ``resources/subscribe``."""


def capability_names(caps: types.ServerCapabilities) -> set[str]:
    """The capabilities ``caps`` advertises (``resources``, ``prompts``, ...), plus
    :data:`SUBSCRIBE` when its resources can be subscribed to."""
    names = set(caps.model_dump(exclude_none=True))
    if caps.resources is not None and caps.resources.subscribe:
        names.add(SUBSCRIBE)
    return names


def audited_uri(uri: str) -> str:
    """What the audit keeps of a resource URI: no query or fragment (they may carry a
    user's identifiers or tokens), at most 200 characters."""
    return uri.split("#", 1)[0].split("?", 1)[0][:200]


class ServerContentService:
    def __init__(
        self,
        store: ServerStore,
        servers: ServerService,
        secrets: SecretService,
        pool: UpstreamPort,
        audit: AuditLog,
        *,
        credentials: UpstreamCredentials | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._store = store
        self._servers = servers
        self._secrets = secrets
        self._pool = pool
        self._audit = audit
        self._credentials = credentials
        self._limiter = limiter  # the tool calls' limiter: one budget per key and user
        self.installs: InstallGate | None = None  # set by the runtime (external servers)

    async def send(
        self,
        principal: Principal,
        username: str,
        server_name: str,
        request: types.ClientRequest,
        result_type: type[R],
        *,
        limited: bool = True,
    ) -> R:
        """``request`` on ``server_name``'s session for ``username``; its result or a
        GatewayError (ServerNotFound, ServerDisabled, RateLimited, ReauthRequired, Upstream*
        with the upstream's JSON-RPC code in ``rpc_code``, messages masked)."""
        server = await self._servers.config(server_name)
        if not server.enabled:
            raise ServerDisabled(server.name)
        if limited and self._limiter is not None:
            self._limiter.check(server, principal.key_id, username)
        env, headers, secrets, own = await self._session_inputs(server, username)
        return await self._pool.request(
            server,
            request,
            result_type,
            username=username,
            env=env,
            headers=headers,
            secrets=secrets,
            own_session=own,
        )

    async def _session_inputs(
        self, server: ServerConfig, username: str
    ) -> tuple[dict[str, str] | None, dict[str, str] | None, frozenset[str], bool]:
        if self.installs is not None:
            await self.installs.check_call(server, username)  # external: installed?
        injection = await self._secrets.injection(server, username)
        own = await self._own(server, username)
        if self._credentials is not None:
            if self._credentials.applies_to(server) and not is_google_server(server):
                # An OAuth server without a usable grant: ReauthRequired with its login URL.
                # (Google credentials are tool arguments: nothing to add to a session.)
                injection = await self._credentials.prepare(server, username, "", injection)
        return (
            dict(injection.env) or None,
            dict(injection.headers) or None,
            frozenset(injection.values),
            own,
        )

    async def audited(
        self,
        principal: Principal,
        username: str,
        server_name: str,
        request: types.ClientRequest,
        result_type: type[R],
        *,
        action: str,
        target: str,
        request_id: str = "",
    ) -> R:
        """:meth:`send`, audited as ``action`` on ``target`` (never the content)."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self.send(principal, username, server_name, request, result_type)
        except GatewayError as exc:
            outcome = exc.code
            raise
        except BaseException:
            outcome = "cancelled"
            raise
        finally:
            self._audit.record(
                AuditEvent(
                    ts=time.time(),
                    request_id=request_id,
                    actor=principal.key_id,
                    role=principal.role.value,
                    action=action,
                    username=username,
                    server=server_name,
                    tool=target[:200],
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    outcome=outcome,
                )
            )

    async def capabilities(
        self, username: str, server_name: str
    ) -> types.ServerCapabilities | None:
        """What ``server_name``'s session for ``username`` advertises (starting it)."""
        server = await self._servers.config(server_name)
        if not server.enabled:
            raise ServerDisabled(server.name)
        env, headers, _, own = await self._session_inputs(server, username)
        return await self._pool.capabilities(
            server, username=username, env=env, headers=headers, own_session=own
        )

    async def session_scope(self, username: str, server_name: str) -> str:
        """The pool scope of the session ``username``'s requests to ``server_name`` go to
        (``SHARED_SCOPE``, or the username for their own session): whose notices are theirs."""
        server = await self._servers.config(server_name)
        own = await self._own(server, username)
        return username if own else session_scope(server, username)

    async def unsubscribe(self, username: str, server_name: str, uri: str, scope: str) -> None:
        """End the upstream subscription to ``uri`` that ``scope``'s session of ``server_name``
        holds (the session it was made on, whatever scope the user's requests take now), if
        that session still runs. Needs none of the user's secrets or tokens (it never starts
        a session), so a secret or OAuth grant gone since cannot keep that session subscribed,
        and so running, for good. Not rate limited. Raises what :meth:`send` raises."""
        server = await self._servers.config(server_name)
        await self._pool.unsubscribe(server, uri, scope=scope, username=username)

    async def _own(self, server: ServerConfig, username: str) -> bool:
        """Whether ``username`` has a session of their own on a shared server (stored OAuth
        tokens)."""
        if self._credentials is None:
            return False
        return await self._credentials.own_session(server, username)

    async def offered_everywhere(self, username: str) -> set[str] | None:
        """The capability names (:func:`capability_names`) some enabled server offers
        ``username``, or None when that cannot be told without starting a session (a
        per-user server, a shared one not connected yet, one that fails)."""
        states = self._pool.statuses()
        offered: set[str] = set()
        for server in await self._store.list_servers():
            if not server.enabled:
                continue
            state = states.get(server.name)
            if session_scope(server, username) != SHARED_SCOPE or (
                state is None or state.status is not ServerStatus.CONNECTED
            ):
                return None
            try:
                caps = await self.capabilities(username, server.name)
            except GatewayError:
                return None
            if caps is not None:
                offered |= capability_names(caps)
        return offered

    async def list_everywhere(
        self, principal: Principal, username: str, method: str
    ) -> list[tuple[str, list[Any]]]:
        """Every page of ``method`` (a key of :data:`LISTINGS`) from every enabled server
        that advertises it for ``username``, concurrently: ``[(server, items)]`` in server
        order. A shared server not connected yet, or one that fails, lists nothing (one
        unreachable server must not fail the whole listing)."""
        states = self._pool.statuses()
        servers = [s for s in await self._store.list_servers() if s.enabled]
        found: dict[str, list[Any]] = {}

        async def one(server: ServerConfig) -> None:
            state = states.get(server.name)
            shared = session_scope(server, username) == SHARED_SCOPE
            if shared and (state is None or state.status is not ServerStatus.CONNECTED):
                return
            try:
                caps = await self.capabilities(username, server.name)
                if caps is None or getattr(caps, LISTINGS[method]) is None:
                    return
                found[server.name] = await self.list_all(principal, username, server.name, method)
            except GatewayError as exc:
                log.info("%s of %s unavailable: %s", method, server.name, exc.code)

        async with anyio.create_task_group() as tg:
            for server in servers:
                tg.start_soon(one, server)
        return [(s.name, found[s.name]) for s in servers if s.name in found]

    async def list_all(
        self, principal: Principal, username: str, server_name: str, method: str
    ) -> list[Any]:
        """Every page of ``method`` (a key of :data:`LISTINGS`) of one server."""
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self.list_page(principal, username, server_name, method, cursor)
            items.extend(_items(page))
            cursor = page.next_cursor
            if not cursor:
                break
        return items

    async def list_page(
        self,
        principal: Principal,
        username: str,
        server_name: str,
        method: str,
        cursor: str | None,
    ) -> types.ListResourcesResult | types.ListResourceTemplatesResult | types.ListPromptsResult:
        """One page of a listing of one server (a pass-through of the client's cursor)."""
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        if method == "resources/list":
            return await self.send(
                principal,
                username,
                server_name,
                types.ListResourcesRequest(params=params),
                types.ListResourcesResult,
                limited=False,
            )
        if method == "resources/templates/list":
            return await self.send(
                principal,
                username,
                server_name,
                types.ListResourceTemplatesRequest(params=params),
                types.ListResourceTemplatesResult,
                limited=False,
            )
        return await self.send(
            principal,
            username,
            server_name,
            types.ListPromptsRequest(params=params),
            types.ListPromptsResult,
            limited=False,
        )


def _items(page: BaseModel) -> list[Any]:
    if isinstance(page, types.ListResourcesResult):
        return list(page.resources)
    if isinstance(page, types.ListResourceTemplatesResult):
        return list(page.resource_templates)
    if isinstance(page, types.ListPromptsResult):
        return list(page.prompts)
    raise TypeError(type(page).__name__)
