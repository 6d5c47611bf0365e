"""This replica's own package directories against the shared records (docs/scaling.md,
"Packages"): which server definitions it must not switch to yet, and the state it records.

An upgrade on replica A writes the server's new definition (pointing at the new install
directory), then the new package record. Replica B, following the feed, must not run that
definition before the directory exists on its own disk: :meth:`ReplicaPackages.must_wait`
(ServerService's hold check) keeps B's running definition while the new one names an install
directory of the server's package slot that is missing here or still being installed here.
B installs it when the feed reports the record (``package_reconcile.restore``) and only then
switches (``ServerService.refresh``, handing calls over without failing them). Should B's
install fail, B keeps serving the old version and records the failure.

Each replica records its state of each package (:mod:`mcp_gateway.domain.package_states`) in
the store and touches its entries every third of :data:`STATE_TTL` while it runs; ``GET
/packages`` shows the entries that differ from the record and were touched within the TTL.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Protocol

import anyio

from mcp_gateway.domain.package_states import (
    ERROR_CHARS,
    ReplicaPackageState,
    ReplicaPackageStatus,
    differing,
)
from mcp_gateway.domain.records import PackageRecord
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import GatewayError
from mcp_gateway.installer.base import slot_dir
from mcp_gateway.services.package_dirs import PackageDirs
from mcp_gateway.storage.ports import PackageStateStore, PackageStore

log = logging.getLogger("mcp_gateway.packages")

#: Seconds after which a replica's entry counts as gone (a replica touches its entries every
#: third of it while it runs).
STATE_TTL = 60.0
#: Entries untouched for this long are deleted (by any replica).
STATE_RETENTION = 3600.0


class PackageStatesStore(PackageStore, PackageStateStore, Protocol):
    pass


class ReplicaPackages:
    def __init__(self, store: PackageStatesStore, dirs: PackageDirs, replica: str | None) -> None:
        self._store = store
        self._dirs = dirs
        self.replica = replica  # None: a single process, nothing recorded

    # -- the hold check --------------------------------------------------------------------

    def install_dirs(self, server: ServerConfig) -> set[Path]:
        """The install directories of ``server``'s package slots that its command, args, cwd
        or env values point into."""
        values = [server.command, server.cwd, *server.args, *server.env.values()]
        found: set[Path] = set()
        for installer in self._dirs.installers.values():
            try:
                slot = slot_dir(installer.root, server.name)
            except GatewayError:
                continue
            prefix = f"{slot}/"
            for value in values:
                if value and value.startswith(prefix):
                    found.add(slot / value.removeprefix(prefix).split("/", 1)[0])
        return found

    async def missing(self, server: ServerConfig) -> list[Path]:
        """``server``'s install directories not (yet) complete on this replica's disk."""
        return [
            path
            for path in sorted(self.install_dirs(server))
            if self._dirs.installing(path) or not await anyio.Path(path).is_dir()
        ]

    async def must_wait(self, running: ServerConfig, stored: ServerConfig) -> bool:
        """Keep ``running`` (do not switch to ``stored`` yet): ``stored`` points at a package
        install this replica has not got yet. A server with no package record is never held
        (nothing would ever install its directory)."""
        if not await self.missing(stored):
            return False
        if await self._store.get_package(stored.name) is None:
            return False
        log.info(
            "server %s: keeping the running version until its new install is here", stored.name
        )
        return True

    # -- recorded state --------------------------------------------------------------------

    async def own(self, server_name: str) -> ReplicaPackageState | None:
        for state in await self._store.list_package_states():
            if state.server_name == server_name and state.replica == self.replica:
                return state
        return None

    async def record(
        self,
        server_name: str,
        status: ReplicaPackageStatus,
        version: str,
        target: str = "",
        error: str | None = None,
    ) -> None:
        """Record this replica's state of a package (best effort: logged when the store is
        down, an install never fails for it)."""
        if self.replica is None:
            return
        state = ReplicaPackageState(
            server_name,
            self.replica,
            status,
            version,
            target,
            error[:ERROR_CHARS] if error else None,
            time.time(),
        )
        try:
            await self._store.put_package_state(state)
        except GatewayError as exc:
            log.warning("package state of %s not recorded (%s)", server_name, exc.code)

    async def differing(self, records: list[PackageRecord]) -> dict[str, list[ReplicaPackageState]]:
        """Per server name, the live replicas' states that differ from its record."""
        states = await self._store.list_package_states()
        now = time.time()
        return {
            r.server_name: found
            for r in records
            if (found := differing(r, states, now=now, ttl=STATE_TTL))
        }

    async def keep_fresh(self) -> None:
        """Touch this replica's entries every third of the TTL, and delete those of replicas
        gone for :data:`STATE_RETENTION` (runs until cancelled)."""
        if self.replica is None:
            return
        while True:
            now = time.time()
            try:
                await self._store.touch_package_states(self.replica, now)
                await self._store.prune_package_states(now - STATE_RETENTION)
            except GatewayError as exc:
                log.warning("package states not touched (%s)", exc.code)
            await anyio.sleep(STATE_TTL / 3)
