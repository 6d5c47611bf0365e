"""Following the store: every replica applies the changes other replicas (and offline CLI
commands) write, within about a second (docs/scaling.md).

:class:`ChangeFollower` reads the store's change feed (:class:`~mcp_gateway.storage.ports.
ChangeStore`: a MongoDB change stream, or polling a change log) and hands each change to the
handlers subscribed to its kind; a ``Rescan`` (feed start, lost history) runs every rescan
handler. A change names a record, never its value: handlers re-read the store, so applying a
change twice, or one this replica made itself, is harmless.

:func:`follow_services` subscribes the services that keep state in memory: server definitions
(the pool starts, restarts or stops servers), the API key cache (revocation) and users'
upstream sessions started before a change to their secrets (the writer's wall clock decides:
a session started since already has the new value and is kept, so the writer's own feed never
cuts the calls it started right after the change). OAuth grants are not subscribed: they are
read from the store on every upstream request, nothing is kept. Other services subscribe with
one line, e.g. ``follower.subscribe(ChangeKind.TOOLSET, toolsets.on_change)``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from types import TracebackType
from typing import Self

import anyio
from anyio.abc import TaskGroup, TaskStatus

from mcp_gateway.domain.changes import Change, ChangeEvent, ChangeKind, Rescan
from mcp_gateway.errors import GatewayError, StoreUnavailable
from mcp_gateway.services.apikeys import ApiKeyService
from mcp_gateway.services.packages import PackageService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import ChangeStore

log = logging.getLogger("mcp_gateway.follow")

ChangeHandler = Callable[[Change], Awaitable[None]]
RescanHandler = Callable[[], Awaitable[None]]
_RETRY = 1.0  # seconds between two tries of a handler while the store is down


class ChangeFollower:
    """An async context manager: entering it starts following and returns once the feed's
    position is fixed and the first rescan ran; leaving it stops."""

    def __init__(self, store: ChangeStore, *, mode: str = "auto", poll_interval: float = 0.25):
        self._store = store
        self._mode = mode
        self._poll_interval = poll_interval
        self._handlers: dict[ChangeKind, list[ChangeHandler]] = {}
        self._rescans: list[RescanHandler] = []
        self._tg: TaskGroup | None = None
        self.applied = 0  # changes handled (for /metrics and tests)
        self.rescans = 0
        self.last_applied_at: float | None = None  # wall clock

    def subscribe(self, kind: ChangeKind, handler: ChangeHandler) -> None:
        self._handlers.setdefault(kind, []).append(handler)

    def on_rescan(self, handler: RescanHandler) -> None:
        self._rescans.append(handler)

    def start_soon(self, work: Callable[[], Awaitable[object]], what: str) -> None:
        """Run a handler's long work (a package install) beside the feed, not holding up the
        changes after it; its errors are logged."""
        if self._tg is not None:
            self._tg.start_soon(self._quietly, work, what)

    @staticmethod
    async def _quietly(work: Callable[[], Awaitable[object]], what: str) -> None:
        try:
            await work()
        except GatewayError as exc:
            log.error("could not apply a %s change: %s", what, exc)

    async def __aenter__(self) -> Self:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        try:
            await tg.start(self._run)
        except BaseException as exc:
            tg.cancel_scope.cancel()
            await tg.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._tg = tg
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tg, self._tg = self._tg, None
        if tg is not None:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)

    async def _run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        started = False
        feed = self._store.follow_changes(mode=self._mode, poll_interval=self._poll_interval)
        async with aclosing(feed) as events:
            async for event in events:
                await self._handle(event)
                if not started:
                    started = True
                    task_status.started()

    async def _handle(self, event: ChangeEvent) -> None:
        if isinstance(event, Rescan):
            log.info("rescanning shared state (%s)", event.reason)
            self.rescans += 1
            for rescan in self._rescans:
                await self._retrying(rescan, "rescan")
            return
        for handler in self._handlers.get(event.kind, ()):
            await self._retrying(functools.partial(handler, event), event.kind.value)
        self.applied += 1
        self.last_applied_at = time.time()

    @staticmethod
    async def _retrying(fn: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``fn``; while the store is down, try again (later changes wait: applying them
        out of order could bring an older state back). Other errors are logged and skipped."""
        while True:
            try:
                await fn()
                return
            except StoreUnavailable:
                log.warning("store unavailable while applying a %s change; retrying", what)
                await anyio.sleep(_RETRY)
            except GatewayError as exc:
                log.error("could not apply a %s change: %s", what, exc.code)
                return


def follow_services(
    follower: ChangeFollower,
    *,
    servers: ServerService,
    apikeys: ApiKeyService,
    pool: UpstreamPort,
    packages: PackageService | None = None,
) -> None:
    """Subscribe the services that keep shared records in memory."""

    async def server_changed(change: Change) -> None:
        await servers.refresh(change.key)

    async def key_changed(change: Change) -> None:
        apikeys.forget(change.key)

    async def secret_changed(change: Change) -> None:
        # The user's session here was started with the old value: close it (the next call
        # starts one with the new value), unless it started after the change (it has it).
        if change.user is not None and change.at is not None:
            await pool.invalidate_user(change.key, change.user, before=change.at)

    async def package_changed(change: Change) -> None:
        # Installed or upgraded elsewhere: install it here too (in the background: an install
        # takes seconds, key revocations behind it must not wait).
        if packages is not None:
            follower.start_soon(functools.partial(packages.restore, change.key), "package")

    async def rescan() -> None:
        apikeys.forget_all()
        await servers.resync()
        if packages is not None:  # not at the feed's start: start-up reconcile does it then
            follower.start_soon(packages.restore_all, "package")

    follower.subscribe(ChangeKind.SERVER, server_changed)
    follower.subscribe(ChangeKind.API_KEY, key_changed)
    follower.subscribe(ChangeKind.SECRET, secret_changed)
    follower.subscribe(ChangeKind.PACKAGE, package_changed)
    follower.on_rescan(rescan)
