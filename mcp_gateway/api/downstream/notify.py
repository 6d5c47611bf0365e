"""``list_changed`` of tools, resources and prompts, and ``resources/updated``: to 2025-11-25
clients on their GET stream, to 2026-07-28 clients on their ``subscriptions/listen`` streams.

A legacy session that listed tools (resources, prompts) is told when that list may have
changed: a server was added, removed, enabled or disabled, connected or lost, or an upstream
announced a new list (tools: the pool re-lists them; resources and prompts: the upstream's
own ``list_changed``, an :class:`~mcp_gateway.upstream.notices.Notice`). ``/mcp`` sessions
hear about every server, ``/mcp/{server}`` sessions about theirs only, toolset sessions about
tools only (and of a change of their toolset, made through this replica); a notice of a
user's own upstream session reaches that user's clients only. A
session is told only of what its endpoint advertises (with ``listChanged``: capabilities.py).

Server changes are found by comparing the pool's state snapshots (status and cached tool list
per server) every :data:`WATCH_INTERVAL` seconds: one reader of public state, nothing on the
call path, at the price of up to a second of delay. Notices are queued by the pool's read
loop and passed on at once. Sessions are forgotten when they end (the session manager no
longer knows them) or when a notification cannot be delivered; their resource subscriptions
are ended then (subscriptions.py).

2026-07-28 clients have no session: they open a ``subscriptions/listen`` stream (served by the
SDK's ``ListenHandler`` over a bus of that stream's own, so that a stream hears what its
endpoint serves only); at most :data:`MAX_LISTENERS` at once. Its ``resourceSubscriptions``
are subscribed upstream for as long as it is open.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import anyio.abc
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from mcp_types import SubscriptionsListenRequestParams, SubscriptionsListenResult, Tool

from mcp_gateway.api.downstream.caller import Caller, caller_of
from mcp_gateway.api.downstream.capabilities import offered_at
from mcp_gateway.api.downstream.subscriptions import MAX_PER_OWNER, ResourceSubscriptions
from mcp_gateway.api.downstream.targets import resource_target
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain.servers import SHARED_SCOPE, ServerStatus
from mcp_gateway.errors import GatewayError
from mcp_gateway.upstream.notices import (
    PROMPTS_CHANGED,
    RESOURCES_CHANGED,
    SESSION_STARTED,
    Notice,
)

logger = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0  # seconds between two looks at the pool's state
MAX_LISTENERS = 1024  # open subscriptions/listen streams, all callers
MAX_QUEUED = 1024  # upstream notices not yet passed on (more are dropped, logged)
CLEANUP_LIMIT = 10.0  # seconds a closed listen stream's upstream unsubscribes may take

KINDS = ("tools", "resources", "prompts")
_EVENTS: dict[str, ServerEvent] = {
    "tools": ToolsListChanged(),
    "resources": ResourcesListChanged(),
    "prompts": PromptsListChanged(),
}
_NOTICE_KINDS = {RESOURCES_CHANGED: "resources", PROMPTS_CHANGED: "prompts"}

_Print = tuple[ServerStatus, tuple[Tool, ...] | None]


@dataclass(frozen=True, slots=True)
class _ToolsetChanged:
    name: str


_Queued = Notice | _ToolsetChanged


class _Notifiable(Protocol):
    """A legacy session's standalone channel (its GET stream): a ``ServerSession``, or the
    ``Connection`` of a session resumed from the store (sdk_sessions.py)."""

    async def send_tool_list_changed(self) -> None: ...

    async def send_resource_list_changed(self) -> None: ...

    async def send_prompt_list_changed(self) -> None: ...


@dataclass(eq=False, slots=True)
class _Watcher:
    session: _Notifiable
    caller: Caller
    kinds: set[str] = field(default_factory=set)  # the lists it asked for


@dataclass(eq=False, slots=True)
class _Listener:
    bus: InMemorySubscriptionBus
    caller: Caller
    offered: set[str] | None  # capabilities behind its endpoint (None: not known)
    ended: anyio.CancelScope = field(default_factory=anyio.CancelScope)  # its key was revoked


def _hears(caller: Caller, server: str | None, kind: str) -> bool:
    """Whether a client at ``caller``'s endpoint cares about ``kind`` of ``server`` (None:
    some server)."""
    if kind != "tools" and caller.toolset is not None:
        return False  # a toolset endpoint serves only tools
    return caller.server is None or server is None or caller.server == server


def _sends(session: _Notifiable, kind: str) -> Callable[[], Any]:
    if kind == "tools":
        return session.send_tool_list_changed
    if kind == "resources":
        return session.send_resource_list_changed
    return session.send_prompt_list_changed


class ListChanges:
    def __init__(self, runtime: GatewayRuntime, is_live: Callable[[str], bool]) -> None:
        self._runtime = runtime
        self._is_live = is_live
        self._watchers: dict[str, _Watcher] = {}
        self._listeners: set[_Listener] = set()
        self._seen: dict[str, _Print] | None = None
        self.subscriptions = ResourceSubscriptions(runtime)
        self._queue: MemoryObjectSendStream[_Queued] | None = None  # while running

    async def watch(
        self, session_id: str, session: ServerSession, caller: Caller, kind: str
    ) -> None:
        """Tell legacy session ``session_id`` (which listed ``kind``) about later changes of
        ``kind``, if its endpoint advertises it (resources and prompts: capabilities.py).
        ``session`` is the request's proxy of the connection (any of them sends)."""
        watcher = self._watchers.get(session_id)
        if watcher is None:
            if not self._is_live(session_id):
                return  # not a session this replica serves: nothing to hold a watcher for
            watcher = self._watchers[session_id] = _Watcher(session, caller)
        if kind in watcher.kinds:
            return
        if kind != "tools":
            offered = await offered_at(self._runtime, caller)
            if offered is not None and kind not in offered:
                return
        watcher.kinds.add(kind)

    def watch_resumed(self, session_id: str, session: _Notifiable, caller: Caller) -> None:
        """Tell a session resumed from the store (opened on another replica, where it may
        have listed tools) of later tool list changes, on its GET stream here; the other lists
        once it lists them here."""
        self._watchers.setdefault(session_id, _Watcher(session, caller, {"tools"}))

    # -- 2026-07-28 -----------------------------------------------------------------------

    async def listen(
        self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        """``subscriptions/listen`` (2026-07-28): changes until the client leaves."""
        caller = caller_of(getattr(ctx.request, "scope", None))
        wanted = params.notifications.resource_subscriptions or ()
        if len(wanted) > MAX_PER_OWNER:
            message = f"at most {MAX_PER_OWNER} resource subscriptions per stream"
            raise MCPError(types.INVALID_PARAMS, message)
        offered = await offered_at(self._runtime, caller)
        ended = anyio.CancelScope()
        with self.listening(caller, offered, ended) as bus:
            owner = f"listen:{secrets.token_hex(8)}"
            try:
                with ended:
                    for uri in wanted:
                        await self._listen_to(owner, caller, uri, bus)
                    return await ListenHandler(bus, max_subscriptions=1)(ctx, params)
            finally:
                with anyio.move_on_after(CLEANUP_LIMIT, shield=True):
                    await self.subscriptions.end(owner)
        raise MCPError(types.INVALID_REQUEST, "the API key of this stream was revoked")

    async def _listen_to(
        self, owner: str, caller: Caller, uri: str, bus: InMemorySubscriptionBus
    ) -> None:
        """Subscribe upstream for a listen stream; a URI that names no server, or that its
        server refuses, is honored and never fires (as the SDK does for unknown URIs)."""

        async def deliver(client_uri: str) -> None:
            await bus.publish(ResourceUpdated(uri=client_uri))

        try:
            target = await resource_target(self._runtime, caller, uri)
            await self.subscriptions.subscribe(owner, caller, uri, target, deliver, legacy=False)
        except (MCPError, GatewayError) as exc:
            logger.info("listen stream: no upstream subscription (%s)", type(exc).__name__)

    @contextmanager
    def listening(
        self,
        caller: Caller,
        offered: set[str] | None = None,
        ended: anyio.CancelScope | None = None,
    ) -> Iterator[InMemorySubscriptionBus]:
        """A bus that carries the changes ``caller``'s endpoint serves meanwhile; ``ended``
        is cancelled when the caller's API key is revoked (:meth:`end_for_key`). Raises
        MCPError beyond MAX_LISTENERS."""
        if len(self._listeners) >= MAX_LISTENERS:
            raise MCPError(types.INTERNAL_ERROR, "Subscription limit reached")
        listener = _Listener(
            InMemorySubscriptionBus(), caller, offered, ended or anyio.CancelScope()
        )
        self._listeners.add(listener)
        try:
            yield listener.bus
        finally:
            self._listeners.discard(listener)

    def end_for_key(self, key_id: str) -> None:
        """API key ``key_id`` was revoked: its listen streams end and its legacy sessions'
        watchers go (the sessions themselves end in sessions.py)."""
        for listener in list(self._listeners):
            if listener.caller.principal.key_id == key_id:
                listener.ended.cancel()
        for session_id, watcher in list(self._watchers.items()):
            if watcher.caller.principal.key_id == key_id:
                del self._watchers[session_id]

    # -- watching ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Watch until cancelled (the endpoint's lifespan)."""
        send, receive = anyio.create_memory_object_stream[_Queued](MAX_QUEUED)
        self._queue = send
        forget = self._runtime.pool.notices.observe(self._enqueue)
        toolsets = self._runtime.toolsets.observers
        toolsets.append(self._toolset_changed)
        try:
            async with send, receive, anyio.create_task_group() as tg:
                tg.start_soon(self._pass_notices, receive, tg)
                while True:
                    await anyio.sleep(WATCH_INTERVAL)
                    changed = self.changed_servers()
                    if changed:
                        await self.notify(changed)
                    await self.subscriptions.prune(self._is_live)
        finally:
            forget()
            toolsets.remove(self._toolset_changed)
            self._queue = None

    def _toolset_changed(self, name: str) -> None:
        self._enqueue(_ToolsetChanged(name))

    def _enqueue(self, notice: _Queued) -> None:
        try:
            if self._queue is not None:
                self._queue.send_nowait(notice)
        except anyio.WouldBlock:
            logger.warning("dropped an upstream notification: too many queued")
        except anyio.ClosedResourceError:
            pass  # stopping

    async def _pass_notices(
        self, queued: MemoryObjectReceiveStream[_Queued], tg: anyio.abc.TaskGroup
    ) -> None:
        async for notice in queued:
            if isinstance(notice, _ToolsetChanged):
                await self.notify(set(), ("tools",), toolset=notice.name)
                continue
            if notice.method == SESSION_STARTED:  # a new upstream session holds none
                renew = self.subscriptions.renew
                tg.start_soon(renew, notice.server, notice.scope)  # may wait on upstreams
                continue
            kind = _NOTICE_KINDS.get(notice.method)
            if kind is None:
                await self.subscriptions.deliver(notice)
            else:
                await self.notify({notice.server}, (kind,), scope=notice.scope)

    def changed_servers(self) -> set[str]:
        """The servers whose state differs from the last look (none on the first look)."""
        if not self._runtime.is_open:
            return set()
        now = {name: (s.status, s.tools) for name, s in self._runtime.pool.statuses().items()}
        before, self._seen = self._seen, now
        if before is None:
            return set()
        changed = set(before) ^ set(now)
        for name in set(before) & set(now):
            (status, tools), (was, had) = now[name], before[name]
            if status is not was or not (tools is had or tools == had):
                changed.add(name)
        return changed

    async def notify(
        self,
        changed: set[str],
        kinds: tuple[str, ...] = KINDS,
        *,
        scope: str = SHARED_SCOPE,
        toolset: str | None = None,
    ) -> None:
        """Tell the clients that hear of ``changed`` servers that their ``kinds`` lists may
        have changed (``scope``: a notice of that user's own session only; ``toolset``: the
        clients of that toolset's endpoint instead, its definition changed)."""

        def hears(caller: Caller, kind: str) -> bool:
            if toolset is not None:
                return caller.toolset == toolset
            mine = scope == SHARED_SCOPE or scope == caller.username
            return mine and any(_hears(caller, server, kind) for server in changed)

        for listener in list(self._listeners):
            for kind in kinds:
                offered = listener.offered
                if hears(listener.caller, kind) and (
                    kind == "tools" or offered is None or kind in offered
                ):
                    await listener.bus.publish(_EVENTS[kind])
        for session_id, watcher in list(self._watchers.items()):
            if not self._is_live(session_id):
                self._watchers.pop(session_id, None)
                continue
            for kind in kinds:
                if kind in watcher.kinds and hears(watcher.caller, kind):
                    try:
                        await _sends(watcher.session, kind)()
                    except Exception:  # noqa: BLE001 (a client gone meanwhile: forget it)
                        logger.debug("could not notify an MCP session of a list change")
                        self._watchers.pop(session_id, None)
                        break
