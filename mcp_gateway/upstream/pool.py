"""The pool of upstream sessions the services layer calls tools (and sends requests) through.

:class:`~mcp_gateway.upstream.sessions.SessionPool` keeps the sessions; this adds what is sent
on them, every request through :func:`~mcp_gateway.upstream.calls.admitted`: admission fair per
user (:mod:`~mcp_gateway.upstream.admission`: one user flooding a server gets 503
``upstream_busy`` while other users' calls are still admitted), one retry on an expired
session, errors translated and masked.

Hot path (``call_tool``): three dict lookups, a semaphore ``acquire_nowait`` and the SDK
request; no store I/O, no task per call. :meth:`UpstreamPool.request` takes the same path for
any other request (resources, prompts, completions, listings).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, TypeVar, cast

from mcp_types import (
    CallToolResult,
    ClientRequest,
    EmptyResult,
    InputRequiredResult,
    ServerCapabilities,
    SubscribeRequest,
    Tool,
    UnsubscribeRequest,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel

from mcp_gateway.domain.redaction import NO_SECRETS, Masker
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import Restarting
from mcp_gateway.upstream.calls import admitted, masked_model, ready, translated
from mcp_gateway.upstream.entry import ServerEntry
from mcp_gateway.upstream.eras import CALL_ERA, RELAYED_METHODS, relayed
from mcp_gateway.upstream.listen import answer_subscription
from mcp_gateway.upstream.live import LiveSession
from mcp_gateway.upstream.progress import masked_progress
from mcp_gateway.upstream.relay import masked_relay
from mcp_gateway.upstream.sessions import SHUTDOWN_GRACE, HttpAuthFactory, SessionPool
from mcp_gateway.upstream.supervisor import Supervisor
from mcp_gateway.upstream.translate import CALL_ERRORS, masked_result

__all__ = ["SHUTDOWN_GRACE", "HttpAuthFactory", "UpstreamPool"]

R = TypeVar("R", bound=BaseModel)
T = TypeVar("T")


class UpstreamPool(SessionPool):
    """Long-lived MCP client sessions shared by concurrent tool calls. Use as ``async with``."""

    async def call_tool(
        self,
        server: ServerConfig,
        tool: str,
        arguments: dict[str, Any],
        *,
        username: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (a per-call upstream deadline)
        secrets: Collection[str] = (),
        own_session: bool = False,
    ) -> CallToolResult:
        """Call ``tool``; a result with ``isError`` true is returned, not raised.

        ``env``/``headers`` are this user's injected secrets, used only to create this user's
        own session (when ``session_scope(server, username)`` is not shared, or
        ``own_session``: the user stored OAuth tokens for a shared HTTP server). ``secrets``
        are every value the gateway put into this call: the session remembers them for its
        whole life and masks them in what it reports (errors, ``isError`` results, logs).

        Raises ServerDisabled; UpstreamUnavailable (503 not connected, 502 died during the
        call); UpstreamBusy; UpstreamTimeout; UpstreamError (the upstream answered an error);
        whatever the session's auth reports (``translate.ReportsFailure``: ReauthRequired).
        """
        chosen: list[Supervisor] = []  # the session pick() takes: its masker masks progress

        def masker() -> Masker:
            return chosen[0].masker if chosen else NO_SECRETS

        progress = masked_progress(masker)  # None unless a client or a run listens
        relay = masked_relay(masker)  # None unless an MCP client can answer

        async def run(entry: ServerEntry) -> CallToolResult:
            call_timeout = timeout if timeout is not None else entry.config.call_timeout

            async def send(sup: Supervisor, live: LiveSession) -> CallToolResult:
                result = await live.call_tool(tool, arguments, call_timeout, progress, relay)
                if isinstance(result, InputRequiredResult):
                    raise relayed(result, sup.masker)
                others = sup.holds_secrets_of_others(username)
                return await masked_result(result, sup.masker, others, secrets)

            modern = await self._era(entry, username, env, headers, own_session)
            pick = self._picker(entry, username, env, headers, own_session, secrets, chosen, modern)
            return await admitted(entry, username, self._settings, pick, send, call_timeout)

        return await self._on_entry(server, run)

    async def request(
        self,
        server: ServerConfig,
        request: ClientRequest,
        result_type: type[R],
        *,
        username: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
        secrets: Collection[str] = (),
        own_session: bool = False,
    ) -> R:
        """Send ``request`` (``resources/read``, ``prompts/get``, a listing, ...) to the
        session :meth:`call_tool` would use for ``username``, admitted and retried the same
        way; the result is masked when other users' secrets reached that session. The
        upstream's requests of a ``prompts/get`` or ``resources/read`` (and the input-required
        rounds of a 2026-07-28 one) go to this task's caller as a tool call's do. Raises what
        :meth:`call_tool` raises."""
        chosen: list[Supervisor] = []
        relay = None  # only these may need the client's input (never a listing)
        if request.method in RELAYED_METHODS:
            relay = masked_relay(lambda: chosen[0].masker if chosen else NO_SECRETS)

        async def run(entry: ServerEntry) -> R:
            read_timeout = timeout if timeout is not None else entry.config.call_timeout

            async def send(sup: Supervisor, live: LiveSession) -> R:
                if live.modern:  # no resources/subscribe in 2026-07-28: the listen filter
                    held = await answer_subscription(sup.listener, request, read_timeout)
                    if held is not None:
                        return cast(R, held)
                result = await live.request(request, result_type, read_timeout, relay)
                if isinstance(request, SubscribeRequest):  # held by this session from now on
                    sup.subscribed.add(str(request.params.uri))
                if isinstance(result, InputRequiredResult):
                    raise relayed(result, sup.masker)
                others = sup.holds_secrets_of_others(username)
                return await masked_model(result, sup.masker, others, secrets)

            modern = None
            if request.method in RELAYED_METHODS:
                modern = await self._era(entry, username, env, headers, own_session)
            pick = self._picker(entry, username, env, headers, own_session, secrets, chosen, modern)
            return await admitted(entry, username, self._settings, pick, send, read_timeout)

        return await self._on_entry(server, run)

    async def capabilities(
        self,
        server: ServerConfig,
        *,
        username: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        own_session: bool = False,
    ) -> ServerCapabilities | None:
        """What the session ``username`` would use advertises (waiting for it to start),
        None when the upstream advertised nothing."""

        async def run(entry: ServerEntry) -> ServerCapabilities | None:
            sup = self._supervisor(entry, username, env, headers, own_session)
            live = await ready(entry, sup, entry.config.startup_timeout)
            sup.last_used = time.monotonic()
            return live.session.server_capabilities

        return await self._on_entry(server, run)

    def _picker(
        self,
        entry: ServerEntry,
        username: str,
        env: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        own: bool,
        secrets: Collection[str],
        chosen: list[Supervisor],
        modern: Supervisor | None = None,
    ) -> Callable[[], Supervisor]:
        def pick() -> Supervisor:
            sup = modern or self._supervisor(entry, username, env, headers, own)
            sup.remember(secrets, username)  # before the upstream can see (and print) them
            if (twin := entry.twin(sup)) is not None:
                twin.remember(secrets, username)  # the same upstream may print them there
            chosen[:] = [sup]
            return sup

        return pick

    async def _era(
        self,
        entry: ServerEntry,
        username: str,
        env: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        own: bool,
    ) -> Supervisor | None:
        """The 2026-07-28 session for a 2026-07-28 caller (upstream/eras.py), else None."""
        caller = CALL_ERA.get()
        if caller is None:
            return None
        return await self._modern(entry, username, env, headers, own, caller.retrying)

    async def list_tools(
        self,
        server: ServerConfig,
        *,
        username: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        own_session: bool = False,
    ) -> list[Tool]:
        """The session's tools (all pages), from the cache when it has them."""

        async def run(entry: ServerEntry) -> list[Tool]:
            within = entry.config.startup_timeout
            sup = self._supervisor(entry, username, env, headers, own_session)
            live = await ready(entry, sup, within)
            sup.last_used = time.monotonic()
            if live.tools is None:
                try:
                    await live.fetch_tools(within)
                except CALL_ERRORS as exc:
                    raise translated(exc, sup, live, within) from exc
            return list(live.tools or ())

        return await self._on_entry(server, run)

    async def unsubscribe(
        self, server: ServerConfig, uri: str, *, scope: str, username: str
    ) -> None:
        """End the subscription to ``uri`` that ``scope``'s session of ``server`` holds (the
        session it was made on; SHARED_SCOPE: the shared one), admitted for ``username``.
        Never starts a session: one that stopped holds nothing upstream any more. Raises what
        :meth:`request` raises."""

        async def run(entry: ServerEntry) -> None:
            await self._unsubscribe(entry, uri, scope, username)

        await self._on_entry(server, run)

    async def _unsubscribe(self, entry: ServerEntry, uri: str, scope: str, username: str) -> None:
        holder = entry.running(scope)
        if holder is None or (uri not in holder.subscribed and uri not in holder.listener.uris):
            return
        # Released whatever comes of the unsubscribe (busy, unavailable, refused): the caller
        # forgets the subscription either way and never asks again, so a session kept for it
        # would be kept forever.
        holder.subscribed.discard(uri)
        if uri in holder.listener.uris:  # 2026-07-28: the listen filter, even while reconnecting
            holder.listener.unsubscribe(uri)
            return
        request = UnsubscribeRequest(params=UnsubscribeRequestParams(uri=uri))
        timeout = entry.config.call_timeout

        async def send(sup: Supervisor, live: LiveSession) -> None:
            await live.request(request, EmptyResult, timeout, None)

        await admitted(entry, username, self._settings, lambda: holder, send, timeout)

    async def _on_entry(
        self, server: ServerConfig, run: Callable[[ServerEntry], Awaitable[T]]
    ) -> T:
        """``run`` on ``server``'s entry. One the pool let go of before ``run`` needed a session
        of it gives Restarting (503, try again); ServerNotFound when the name is removed now,
        ServerDisabled when it is disabled now. Not retried here: the services computed the
        call's inputs (secrets, injection) from the definition they read, which the new one
        may place differently."""
        try:
            return await run(await self._entry(server))
        except Restarting:
            self._refuse(server.name)  # removed or disabled now: that, not "try again"
            raise
