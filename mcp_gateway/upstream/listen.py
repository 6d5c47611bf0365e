"""The ``subscriptions/listen`` stream of a 2026-07-28 upstream session: how such a session
hears of list changes and resource updates (the era has no spontaneous notifications).

Every 2026-07-28 session (a 2026-07-28-only upstream's primary session, and the pool's modern
companion of a dual-era one: upstream/eras.py) keeps one listen stream open while it lives.
It runs in a task group of the session's owner task (the supervisor's, :meth:`Listener.running`)
and ends with the session. The events it carries reach the session's message handler like any
notification (upstream/session.py ``_message_handler``): ``tools/list_changed`` marks the
tool list dirty for the owner to re-list, the others become notices (upstream/notices.py).

What a stream asks for:

- a **primary** session: every list change, and ``resources/updated`` of the URIs subscribed
  through the gateway (:meth:`Listener.subscribe`: the pool answers ``resources/subscribe`` and
  ``resources/unsubscribe`` sent to such a session here, the era having removed both methods);
- a **companion** session: ``tools/list_changed`` only (it re-lists its own tools, whose
  ``x-mcp-header`` parameters its calls mirror); the dual-era upstream's legacy primary
  session already carries the other notices, which would otherwise be passed on twice.

A stream's filter is fixed when it is opened, so a changed URI set opens a new stream and
then closes the old one (no gap; an event in between may arrive twice, harmless for level
triggers). A stream that drops or ends is reopened after a capped exponential back-off
(:data:`FIRST_DELAY` doubling up to :data:`MAX_DELAY`; reset after a stream stayed up for
:data:`MAX_DELAY`). An upstream that refuses ``subscriptions/listen`` (method not found) is
not asked again on that connection: its subscriptions are refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.abc
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.subscriptions import ListenNotSupportedError, listen
from mcp.shared.exceptions import MCPError

from mcp_gateway.upstream.live import Link, LiveSession
from mcp_gateway.upstream.notices import PROMPTS_CHANGED, RESOURCE_UPDATED, RESOURCES_CHANGED

logger = logging.getLogger(__name__)

FIRST_DELAY = 0.25  # seconds before reopening a stream that dropped once
MAX_DELAY = 30.0  # the back-off cap; a stream up this long resets it


@dataclass(frozen=True, slots=True)
class _Filter:
    everything: bool  # list changes of resources and prompts too, not only of tools
    uris: frozenset[str]


@dataclass(eq=False, slots=True)
class _Stream:
    """One open listen stream, run by its own task of the listener's task group."""

    wanted: _Filter
    honored: frozenset[str] = frozenset()  # the resource URIs the upstream acknowledged
    opened: float = field(default_factory=time.monotonic)
    ended: bool = False
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)


class Listener:
    """The listen stream of one upstream session (a supervisor's: it outlives connections, so
    a reconnected session listens for the same URIs). ``primary``: see the module docstring."""

    def __init__(self, *, primary: bool) -> None:
        self.primary = primary
        self._uris: set[str] = set()
        self._wake = anyio.Event()  # the owner's listen loop: the filter or a stream changed
        self._settled = anyio.Event()  # subscribers: a stream opened, ended, or was refused
        self._current: _Stream | None = None
        self.refused = False  # the upstream does not serve subscriptions/listen

    @property
    def uris(self) -> frozenset[str]:
        """The upstream URIs subscribed through this session (a session holding any is never
        reaped for idleness: its subscribers would stop hearing of updates)."""
        return frozenset(self._uris)

    # -- subscribers (the pool's request path) -------------------------------------------

    async def subscribe(self, uri: str, within: float) -> types.EmptyResult:
        """Add ``uri`` to the stream's filter and wait until the upstream acknowledged a
        stream that includes it. Raises MCPError: the upstream refused listening or the URI,
        or did not acknowledge within ``within`` seconds (then nothing new is held: a URI
        already held stays, as the upstream's refusal of a renewal leaves a legacy one)."""
        if not self.primary:
            raise MCPError(types.INVALID_PARAMS, "resource subscriptions on a companion session")
        held = uri in self._uris  # a renewal (subscriptions.py): kept even if it fails
        self._uris.add(uri)
        self._poke()
        try:
            with anyio.fail_after(within):
                while True:
                    settled = self._settled
                    current = self._current
                    if self.refused:
                        raise MCPError(types.METHOD_NOT_FOUND, "subscriptions/listen refused")
                    if current is not None and uri in current.wanted.uris:
                        if uri in current.honored:
                            return types.EmptyResult()
                        raise MCPError(types.INVALID_PARAMS, "resource subscription refused")
                    await settled.wait()
        except BaseException as exc:
            if not held:
                self._uris.discard(uri)
                self._poke()
            if isinstance(exc, TimeoutError):
                raise MCPError(types.REQUEST_TIMEOUT, "listen stream not acknowledged") from exc
            raise

    def unsubscribe(self, uri: str) -> types.EmptyResult:
        """Drop ``uri`` from the filter (a new stream without it replaces the open one)."""
        self._uris.discard(uri)
        self._poke()
        return types.EmptyResult()

    # -- the owner task --------------------------------------------------------------------

    @asynccontextmanager
    async def running(self, live: LiveSession, ack_timeout: float) -> AsyncIterator[None]:
        """Keep ``live``'s listen stream open for the body's duration (nothing for a
        2025-11-25 session). Entered by the session's owner task; an exception of the body
        propagates as it is (not wrapped in a group)."""
        if not live.modern:
            yield
            return
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._run, live, ack_timeout)
                try:
                    yield
                except Exception as exc:  # re-raised below, outside the task group
                    failure = exc
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._current = None
            self._settle()  # a subscriber waiting for this session's stream looks again
        if failure is not None:
            raise failure

    def _poke(self) -> None:
        self._wake.set()

    def _settle(self) -> None:
        settled, self._settled = self._settled, anyio.Event()
        settled.set()

    def _wanted(self) -> _Filter:
        return _Filter(self.primary, frozenset(self._uris) if self.primary else frozenset())

    async def _run(self, live: LiveSession, ack_timeout: float) -> None:
        """Open, replace and reopen the stream until cancelled (the session ends)."""
        self.refused = False
        failures = 0
        dropped = False  # a stream of this connection ended: what it missed is unknown
        async with anyio.create_task_group() as streams:
            while True:
                self._wake = anyio.Event()
                current = self._current
                if current is not None and current.ended:
                    lived = time.monotonic() - current.opened
                    self._current = None
                    self._settle()
                    dropped = True
                    failures = 0 if lived >= MAX_DELAY else failures
                    await self._pause(failures := failures + 1)
                    continue
                wanted = self._wanted()
                if current is not None and current.wanted == wanted:
                    await self._wake.wait()
                    continue
                try:
                    with anyio.fail_after(ack_timeout):
                        stream = await streams.start(self._stream, live.session, wanted)
                except (ListenNotSupportedError, MCPError) as exc:
                    if isinstance(exc, ListenNotSupportedError) or (
                        exc.code == types.METHOD_NOT_FOUND
                    ):
                        logger.info("upstream does not serve subscriptions/listen")
                        self.refused = True
                        self._settle()
                        return
                    await self._pause(failures := failures + 1, exc)
                    continue
                except Exception as exc:  # noqa: BLE001 (a transport failure: tried again)
                    await self._pause(failures := failures + 1, exc)
                    continue
                if current is not None:
                    current.scope.cancel()  # after the new one was acknowledged: no gap
                else:
                    self._missed(live.link, dropped)
                self._current = stream
                self._settle()

    def _missed(self, link: Link, dropped: bool) -> None:
        """A stream opened with none before it: what changed meanwhile went unheard, so the
        tools are listed again (also after the connection's first stream: a change between
        its first listing and the stream's acknowledgment), and after a drop the notices
        say "refetch" (list changes, an update of each subscribed URI)."""
        link.tools_dirty = True
        link.poke()
        if not dropped or link.notice is None or not self.primary:
            return
        link.notice(RESOURCES_CHANGED, None)
        link.notice(PROMPTS_CHANGED, None)
        for uri in sorted(self._uris):
            link.notice(RESOURCE_UPDATED, uri)

    async def _pause(self, failures: int, exc: BaseException | None = None) -> None:
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - 1))
        if exc is not None:
            # The type only: an upstream's message may echo a user's secret.
            logger.info("listen stream failed (%s); again in %.2gs", type(exc).__name__, delay)
        await anyio.sleep(delay)

    async def _stream(
        self,
        session: ClientSession,
        wanted: _Filter,
        *,
        task_status: anyio.abc.TaskStatus[_Stream],
    ) -> None:
        """One stream: started once acknowledged, then drained until it ends or is replaced
        (each event was already handed to the session's message handler)."""
        stream = _Stream(wanted)
        started = False
        with stream.scope:
            try:
                async with listen(
                    session,
                    tools_list_changed=True,
                    prompts_list_changed=wanted.everything,
                    resources_list_changed=wanted.everything,
                    resource_subscriptions=sorted(wanted.uris),
                ) as subscription:
                    stream.honored = frozenset(subscription.honored.resource_subscriptions or ())
                    task_status.started(stream)
                    started = True
                    async for _event in subscription:
                        pass
            except Exception as exc:
                if not started:
                    raise
                logger.info("listen stream dropped (%s)", type(exc).__name__)
            finally:
                stream.ended = True
                self._poke()


async def answer_subscription(
    listener: Listener, request: types.ClientRequest, within: float
) -> types.EmptyResult | None:
    """``resources/subscribe`` or ``resources/unsubscribe`` sent to a 2026-07-28 session
    (removed in that era): answered by changing its listen stream's filter. None for any
    other request. Raises what :meth:`Listener.subscribe` raises."""
    if isinstance(request, types.SubscribeRequest):
        return await listener.subscribe(str(request.params.uri), within)
    if isinstance(request, types.UnsubscribeRequest):
        return listener.unsubscribe(str(request.params.uri))
    return None
