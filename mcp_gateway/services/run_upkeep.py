"""The run service's periodic upkeep: liveness of replicas, retention, runs ended elsewhere.

Every ``poll`` seconds: renew this replica's lease and reap gone replicas (below); cancel local
runs the store says are finished (cancelled on another replica, or reaped); every minute,
delete finished runs older than ``MCPGW_RUN_RETENTION`` in batches of ``PURGE_BATCH``.

Liveness: a replica that is gone must not leave runs ``running``.

Each replica holds a lease ``runs/replica/<id>`` in the store (the OAuth refresh's lease port)
and renews it every third of ``timeout``. Any replica that sees active runs of another replica
whose lease it can take (expired, or never taken) marks those runs ``interrupted``: that
replica stopped renewing more than ``timeout`` seconds ago (killed, host lost, cut off from the
store). A replica that was only cut off finds its runs terminal when it reaches the store again
and cancels their upstream calls (``RunService``'s watcher), so a run is never reported twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import anyio

from mcp_gateway.config import RunsSettings
from mcp_gateway.errors import StoreUnavailable
from mcp_gateway.storage.ports import OAuthTokenStore, RunStore

log = logging.getLogger("mcp_gateway.runs")


PURGE_BATCH = 500
PURGE_EVERY = 60.0


class UpkeepStore(RunStore, OAuthTokenStore, Protocol):
    pass


def lease_key(replica: str) -> str:
    return f"runs/replica/{replica}"


class ReplicaLiveness:
    def __init__(self, store: UpkeepStore, replica: str, timeout: float) -> None:
        self._store = store
        self.replica = replica
        self.timeout = timeout
        self._renew_at = 0.0
        self._reap_at = 0.0  # at start-up too: a killed predecessor's lease may have lapsed

    async def tick(self) -> int:
        """Renew our lease and reap gone replicas when due; returns how many runs were marked
        interrupted. Raises StoreUnavailable."""
        now = time.monotonic()
        if now >= self._renew_at:
            self._renew_at = now + self.timeout / 3
            if not await self._store.acquire_lease(
                lease_key(self.replica), self.replica, self.timeout
            ):
                log.warning(
                    "replica %r was taken for gone by another replica: its runs were marked "
                    "interrupted (is MCPGW_REPLICA_ID shared by two processes?)",
                    self.replica,
                )
        if now < self._reap_at:
            return 0
        self._reap_at = now + self.timeout / 2
        reaped = 0
        for other in await self._store.list_run_replicas():
            if other != self.replica:
                reaped += await self._reap(other)
        return reaped

    async def _reap(self, other: str) -> int:
        key = lease_key(other)
        if not await self._store.acquire_lease(key, self.replica, self.timeout):
            return 0  # alive: it renewed within the timeout
        try:
            count = await self._store.interrupt_runs(
                other,
                "interrupted",
                f"the gateway replica {other!r} that ran this run stopped (no sign of life for "
                f"{self.timeout:g} s)",
                time.time(),
            )
        finally:
            await self._store.release_lease(key, self.replica)
        if count:
            log.warning("marked %d run(s) of gone replica %r interrupted", count, other)
        return count


class RunUpkeep:
    def __init__(
        self, store: UpkeepStore, settings: RunsSettings, replica: str, poll: float
    ) -> None:
        self._store = store
        self._retention = settings.retention
        self.poll = poll
        self.liveness = ReplicaLiveness(store, replica, settings.replica_timeout)

    async def run(self, local: Callable[[], dict[str, anyio.CancelScope]]) -> None:
        """Forever; ``local()`` gives the cancel scope of each run executing here."""
        next_purge = 0.0
        while True:
            await anyio.sleep(self.poll)
            try:
                await self.liveness.tick()
                for run_id, scope in local().items():
                    stored = await self._store.get_run(run_id)
                    if stored is None or not stored.active:
                        scope.cancel()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_EVERY
                    await self.purge()
            except StoreUnavailable as exc:
                log.warning("runs upkeep skipped: %s", exc)

    async def purge(self) -> int:
        """Delete finished runs older than the retention, in batches; returns how many."""
        before = time.time() - self._retention
        total = 0
        while True:
            deleted = await self._store.purge_runs(before, PURGE_BATCH)
            total += deleted
            if deleted < PURGE_BATCH:
                return total
