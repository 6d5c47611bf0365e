"""One install, upgrade or uninstall per server at a time across every replica: a store lease
(``install:<server>``) with a fencing token, renewed every third of its TTL while the operation
runs. Another replica asking meanwhile gets 409 ``install_in_progress``; a replica that dies
holding the lease loses it when the TTL runs out (``MCPGW_INSTALL_LEASE_TTL``).

Fencing: an operation that lost its lease (its process was paused past the TTL and another
replica took over, with a higher token) is cancelled by the renewal task, and
:meth:`InstallLease.check` (called before the records are written) refuses to commit.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from mcp_gateway.errors import InstallInProgress, StoreUnavailable
from mcp_gateway.services.package_dirs import PackageDirs
from mcp_gateway.storage.ports import LeaseStore

log = logging.getLogger("mcp_gateway.packages")


@dataclass(slots=True)
class InstallLease:
    key: str
    holder: str
    token: int
    ttl: float
    store: LeaseStore
    lost: bool = False

    async def check(self) -> None:
        """Renew now; raises InstallInProgress if the lease was lost (do not commit)."""
        if self.lost or not await self.store.renew_fenced_lease(
            self.key, self.holder, self.token, self.ttl
        ):
            self.lost = True
            raise InstallInProgress(self.key.removeprefix("install:"))


class InstallLocks:
    def __init__(self, store: LeaseStore, replica: str, ttl: float) -> None:
        self._store = store
        self._replica = replica
        self._ttl = ttl

    @asynccontextmanager
    async def hold(self, server_name: str) -> AsyncIterator[InstallLease]:
        """Hold the cluster-wide lease of ``server_name``. Raises InstallInProgress when
        another operation (on any replica) holds it, or when this one lost it midway."""
        key = f"install:{server_name}"
        holder = f"{self._replica}:{secrets.token_hex(4)}"
        token = await self._store.acquire_fenced_lease(key, holder, self._ttl)
        if token is None:
            raise InstallInProgress(server_name)
        lease = InstallLease(key, holder, token, self._ttl, self._store)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew, lease, tg.cancel_scope)
                try:
                    yield lease
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The operation's own error (ServerAlreadyExists, InstallFailed...), not a group:
            # the renewal task never raises.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self._store.release_fenced_lease(key, holder, token)
                except StoreUnavailable as exc:  # it expires after its TTL instead
                    log.warning("install lease %s not released (%s)", key, exc.code)
        if lease.lost:
            raise InstallInProgress(server_name)

    async def _renew(self, lease: InstallLease, scope: anyio.CancelScope) -> None:
        while True:
            await anyio.sleep(lease.ttl / 3)
            try:
                await lease.check()
            except InstallInProgress:
                log.error("install lease %s lost: cancelling the operation", lease.key)
                scope.cancel()
                return
            except StoreUnavailable as exc:  # the next renewal tries again
                log.warning("install lease %s not renewed (%s)", lease.key, exc.code)


@asynccontextmanager
async def exclusive(
    dirs: PackageDirs, locks: InstallLocks | None, server_name: str
) -> AsyncIterator[InstallLease | None]:
    """This process's lock of ``server_name``, then (with ``locks``) the cluster-wide lease.
    Raises InstallInProgress."""
    with dirs.exclusive(server_name):
        if locks is None:
            yield None
            return
        async with locks.hold(server_name) as lease:
            yield lease
