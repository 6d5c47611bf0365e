"""Resource subscriptions made upstream on the client's behalf, and the upstream's
``notifications/resources/updated`` delivered back.

A client subscribes to a URI of its endpoint (``resources/subscribe`` in 2025-11-25, the
``resourceSubscriptions`` of a ``subscriptions/listen`` stream in 2026-07-28; on ``/mcp`` a
``mcpgw:`` URI, routed as a read is). The gateway subscribes on the upstream session that
user's requests go to (``ServerContentService.session_scope``: the shared session, or the
user's own), once per (server, session, upstream URI) however many clients subscribe: it
subscribes upstream with the first and unsubscribes with the last, so one client's
unsubscribe never ends another's (possibly another user's, on a shared session). An
upstream's ``resources/updated`` of that session and URI reaches each of its subscribers as
the URI *the subscriber sent* (the gateway's form on ``/mcp``): no upstream text reaches a
client, and a notice of one user's own session reaches only that user.

A subscription ends with an unsubscribe, when its legacy session ends (DELETE or idle: found
by :meth:`ResourceSubscriptions.prune`, about once a second) or when its listen stream closes.
When one of a server's sessions (re)connects (a restart, a re-initialize, a user's session
reopened for new secrets: upstream/notices.py ``SESSION_STARTED``) every subscription held on
that session is made again (:meth:`ResourceSubscriptions.renew`): a new upstream session
knows none of them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import mcp_types as types

from mcp_gateway.api.downstream.caller import Caller
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.errors import GatewayError, InvalidRequest
from mcp_gateway.upstream.notices import Notice

log = logging.getLogger(__name__)

MAX_PER_OWNER = 256  # resource subscriptions of one session or listen stream

#: Sends ``notifications/resources/updated`` of one URI (the client's form) to its client.
Deliver = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Key:
    server: str
    scope: str  # the upstream session's pool scope
    uri: str  # the upstream's URI


@dataclass(frozen=True, slots=True)
class _Subscriber:
    caller: Caller
    client_uri: str
    deliver: Deliver
    legacy: bool  # its owner is a legacy session id (pruned once the session ends)


@dataclass(eq=False, slots=True)
class _Upstream:
    """One upstream subscription and its subscribers by owner."""

    lock: anyio.Lock = field(default_factory=anyio.Lock)
    subscribers: dict[str, _Subscriber] = field(default_factory=dict)


class ResourceSubscriptions:
    def __init__(self, runtime: GatewayRuntime) -> None:
        self._runtime = runtime
        self._upstream: dict[_Key, _Upstream] = {}
        self._owned: Counter[str] = Counter()  # subscriptions by owner

    def __len__(self) -> int:
        """The upstream subscriptions held."""
        return sum(1 for state in self._upstream.values() if state.subscribers)

    async def subscribe(
        self,
        owner: str,
        caller: Caller,
        client_uri: str,
        target: tuple[str, str],
        deliver: Deliver,
        *,
        legacy: bool,
    ) -> None:
        """Subscribe ``owner`` (a legacy session id, or a listen stream's token) to
        ``target`` (server, upstream URI). Raises the GatewayError of the upstream's refusal
        (then nothing is held), InvalidRequest beyond :data:`MAX_PER_OWNER`."""
        server, uri = target
        content = self._runtime.content
        key = _Key(server, await content.session_scope(caller.username, server), uri)
        state = self._upstream.setdefault(key, _Upstream())
        async with state.lock:
            try:
                if owner not in state.subscribers and self._owned[owner] >= MAX_PER_OWNER:
                    raise InvalidRequest(f"at most {MAX_PER_OWNER} resource subscriptions each")
                if not state.subscribers:
                    request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri))
                    await content.send(
                        caller.principal, caller.username, server, request, types.EmptyResult
                    )
                if owner not in state.subscribers:
                    self._owned[owner] += 1
                state.subscribers[owner] = _Subscriber(caller, client_uri, deliver, legacy)
            finally:
                self._settle(key, state)

    async def unsubscribe(self, owner: str, caller: Caller, target: tuple[str, str]) -> None:
        """End ``owner``'s subscription to ``target`` (nothing when it has none). Found by
        what it was made on, not by the session scope the caller's requests take now: that
        may have changed since (the user stored OAuth tokens), or be unknowable (their grant
        is gone), and the subscription must end either way."""
        server, uri = target
        for key in [k for k in self._upstream if (k.server, k.uri) == (server, uri)]:
            await self._drop(key, owner)  # under its lock: a subscribe in flight ends first

    async def end(self, owner: str) -> None:
        """End every subscription of ``owner`` (its session or stream is gone)."""
        for key in [k for k, s in self._upstream.items() if owner in s.subscribers]:
            await self._drop(key, owner)

    async def prune(self, is_live: Callable[[str], bool]) -> None:
        """End the subscriptions of legacy sessions that ended."""
        gone = {
            owner
            for state in list(self._upstream.values())
            for owner, sub in list(state.subscribers.items())
            if sub.legacy and not is_live(owner)
        }
        for owner in gone:
            await self.end(owner)

    async def renew(self, server: str, scope: str) -> None:
        """Subscribe again on ``scope``'s session of ``server``: it (re)connected, and a new
        upstream session holds none of the subscriptions made on the one before it. Best
        effort."""
        for key, state in list(self._upstream.items()):
            if (key.server, key.scope) != (server, scope):
                continue
            async with state.lock:
                subscriber = next(iter(state.subscribers.values()), None)
                if subscriber is not None:
                    await self._send(key, subscriber.caller, subscribe=True)

    async def deliver(self, notice: Notice) -> None:
        """Hand an upstream's ``resources/updated`` to the subscribers of its session and URI."""
        state = self._upstream.get(_Key(notice.server, notice.scope, notice.uri or ""))
        for sub in list(state.subscribers.values()) if state is not None else ():
            try:
                await sub.deliver(sub.client_uri)
            except Exception:  # noqa: BLE001 (a client gone meanwhile: its session is pruned)
                log.debug("could not deliver a resources/updated notification")

    async def _drop(self, key: _Key, owner: str) -> None:
        state = self._upstream.get(key)
        if state is None:
            return
        async with state.lock:
            try:
                sub = state.subscribers.pop(owner, None)
                if sub is not None:
                    self._owned[owner] -= 1
                    if self._owned[owner] <= 0:
                        del self._owned[owner]
                if sub is not None and not state.subscribers:
                    await self._send(key, sub.caller, subscribe=False)
            finally:
                self._settle(key, state)

    async def _send(self, key: _Key, caller: Caller, *, subscribe: bool) -> None:
        """(Un)subscribe upstream, not rate limited (a cleanup or a renewal must not be
        refused); a failure is logged (the server is gone, disabled or refuses). An
        unsubscribe goes to the session ``key`` names, the one that holds it."""
        content = self._runtime.content
        try:
            if subscribe:
                request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=key.uri))
                await content.send(
                    caller.principal,
                    caller.username,
                    key.server,
                    request,
                    types.EmptyResult,
                    limited=False,
                )
            else:
                await content.unsubscribe(caller.username, key.server, key.uri, key.scope)
        except GatewayError as exc:
            method = "resources/subscribe" if subscribe else "resources/unsubscribe"
            log.info("%s upstream on %r failed: %s", method, key.server, exc.code)

    def _settle(self, key: _Key, state: _Upstream) -> None:
        """Forget ``key`` when nobody holds or awaits it (called with its lock held)."""
        idle = not state.subscribers and state.lock.statistics().tasks_waiting == 0
        if idle and self._upstream.get(key) is state:
            del self._upstream[key]
