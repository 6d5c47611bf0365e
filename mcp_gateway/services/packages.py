"""Package use cases: install, list, check for updates, upgrade atomically, uninstall.

Package records are the desired state; the server definition a package produces is written
through :class:`~mcp_gateway.services.servers.ServerService` like any other (so validation, the
command check and the pool update always happen there). An install succeeds only when the new
server lists its tools within ``verify_timeout`` (or it is installed disabled); otherwise it
fails with 502 ``install_failed`` carrying the server's stderr, and nothing is left behind.
Upgrades install beside the running version (see :mod:`mcp_gateway.installer.base`), start the
new one as a temporary server, and switch only if it lists its tools (that check and the
error of a server that did not start live in :mod:`mcp_gateway.services.package_verify`).
Start-up reconcile lives in :mod:`mcp_gateway.services.package_reconcile`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager

import anyio

from mcp_gateway.domain.names import validate_new_server_name, validate_server_name
from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.errors import (
    GatewayError,
    InvalidRequest,
    PackageNotFound,
    ServerAlreadyExists,
)
from mcp_gateway.installer.base import Installer, InstallResult, InstallSpec
from mcp_gateway.installer.models import (
    InstallOutcome,
    InstallRequest,
    PackageView,
    ServerRemoval,
    UpdateInfo,
    UpgradeOutcome,
    install_request_from_body,
    unchanged,
    update_info,
)
from mcp_gateway.installer.plan import (
    new_record,
    new_server,
    spec_for,
    spec_from_request,
)
from mcp_gateway.installer.process import LineCallback
from mcp_gateway.services.install_lock import InstallLease, InstallLocks, exclusive
from mcp_gateway.services.package_dirs import PackageDirs, venv_command
from mcp_gateway.services.package_reconcile import READY, reconcile, restore
from mcp_gateway.services.package_replicas import PackageStatesStore, ReplicaPackages
from mcp_gateway.services.package_verify import start_failure, switch
from mcp_gateway.services.servers import ServerService, ServerView

__all__ = [
    "InstallOutcome",
    "InstallRequest",
    "PackageService",
    "PackageView",
    "ServerRemoval",
    "UpdateInfo",
    "UpgradeOutcome",
    "install_request_from_body",
]

log = logging.getLogger("mcp_gateway.packages")


class PackageService:
    def __init__(
        self,
        store: PackageStatesStore,
        servers: ServerService,
        installers: Mapping[PackageRuntime, Installer],
        *,
        verify_timeout: float = 60.0,
        locks: InstallLocks | None = None,
        replica: str | None = None,
    ) -> None:
        """``replica``: this replica's id, under which it records its own state of each
        package (services/package_replicas.py); None records nothing."""
        self._store = store
        self._servers = servers
        self._dirs = PackageDirs(installers)
        self._verify_timeout = verify_timeout
        self._locks = locks
        self.replicas = ReplicaPackages(store, self._dirs, replica)

    def _exclusive(self, server_name: str) -> AbstractAsyncContextManager[InstallLease | None]:
        return exclusive(self._dirs, self._locks, server_name)

    @property
    def install_observers(self) -> list[Callable[[str, str, float], None]]:
        """Called with (runtime, outcome, seconds) after every install run (metrics)."""
        return self._dirs.observers

    # -- queries -----------------------------------------------------------------------------

    async def list_packages(self) -> list[PackageRecord]:
        return await self._store.list_packages()

    async def get(self, server_name: str) -> PackageRecord:
        """Raises PackageNotFound."""
        record = await self._store.get_package(validate_server_name(server_name))
        if record is None:
            raise PackageNotFound(server_name)
        return record

    async def find(self, server_name: str) -> PackageRecord | None:
        """The package behind server ``server_name``, or None."""
        return await self._store.get_package(validate_server_name(server_name))

    async def set_enabled(self, server_name: str, enabled: bool) -> ServerView:
        """``PUT /packages/{serverName}/enable|disable``: the package's server, through
        ServerService. Raises PackageNotFound, ServerNotFound (removed with keepPackage)."""
        await self.get(server_name)
        return await self._servers.set_enabled(server_name, enabled)

    async def by_name(self, name: str) -> list[PackageRecord]:
        """Every install of package ``name``, oldest first. Raises PackageNotFound if there is
        none."""
        records = await self._store.find_packages_by_name(name)
        if not records:
            raise PackageNotFound(name)
        return sorted(records, key=lambda r: (r.installed_at, r.server_name))

    async def views(
        self, records: list[PackageRecord], *, check_updates: bool = False
    ) -> list[PackageView]:
        """``records`` with their servers' ``enabled``, the replicas whose state differs and,
        with ``check_updates``, the registry's latest version (looked up concurrently)."""
        enabled = {view.config.name: view.config.enabled for view in await self._servers.list()}
        infos = await self.check(records) if check_updates else [None] * len(records)
        differ = await self.replicas.differing(records)
        return [
            PackageView(
                r, enabled.get(r.server_name, False), info, tuple(differ.get(r.server_name, ()))
            )
            for r, info in zip(records, infos, strict=True)
        ]

    async def updates(self, name: str | None = None) -> list[UpdateInfo]:
        """Latest registry version vs installed, per package; ``name`` is a server name (as in
        mcp-api) or else a package name (every install of it). An unknown name gives []."""
        if name is None:
            return await self.check(await self.list_packages())
        try:
            record = await self._store.get_package(validate_server_name(name))
        except InvalidRequest:  # "@scope/pkg" is no server name, but may be a package name
            record = None
        if record is not None:
            return await self.check([record])
        return await self.check(await self._store.find_packages_by_name(name))

    async def check(self, records: list[PackageRecord]) -> list[UpdateInfo]:
        """The registry's latest version for each of ``records`` (in order; at most 8 look-ups
        at a time; a failed look-up is reported in its ``error``)."""
        results: dict[str, UpdateInfo] = {}
        limiter = anyio.CapacityLimiter(8)

        async def one(record: PackageRecord) -> None:
            async with limiter:
                results[record.server_name] = await self._update_info(record)

        async with anyio.create_task_group() as tg:
            for record in records:
                tg.start_soon(one, record)
        return [results[r.server_name] for r in records]

    async def _update_info(self, record: PackageRecord) -> UpdateInfo:
        installer = self._dirs.installer(record.runtime)
        try:
            latest = await installer.latest_version(spec_for(record, None))
        except GatewayError as exc:
            return update_info(record, None, False, str(exc))
        return update_info(record, latest, installer.is_newer(latest, record.version))

    # -- install -----------------------------------------------------------------------------

    def _validate(self, request: InstallRequest) -> tuple[Installer, InstallSpec]:
        validate_new_server_name(request.server_name)
        installer = self._dirs.installer(request.runtime)
        return installer, installer.validate(spec_from_request(request))

    async def install(
        self, request: InstallRequest, *, on_line: LineCallback | None = None
    ) -> InstallOutcome:
        """Install, register and start a package.

        Raises InvalidRequest (before any process runs; or the server's command cannot be
        found), InstallInProgress, ServerAlreadyExists, InstallFailed (the install failed, or
        the server did not list its tools within ``verify_timeout``: with its stderr). A failed
        install leaves no directory, package record or server behind.
        """
        installer, spec = self._validate(request)
        name = request.server_name
        async with self._exclusive(name) as lease:
            if await self._store.get_package(name) or await self._servers.find(name):
                raise ServerAlreadyExists(name)
            result = await self._dirs.install_new(installer, name, spec, on_line)
            record: PackageRecord | None = None
            created = False
            try:
                if lease is not None:
                    await lease.check()  # fencing: a holder that lost the lease writes nothing
                request = await venv_command(request, result)
                record = new_record(request, spec, result, now=time.time())
                server = new_server(request, record, result)
                await self._store.put_package(record)
                await self._servers.create(server)
                created = True
                check = await self._servers.check_start(server, within=self._verify_timeout)
                if check.failed:
                    what = f"{record.name} {record.version} installed"
                    raise start_failure(what, name, check, result.log)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._discard(name, record, created, installer, result)
                raise
            log.info("installed %s %s as %s", record.name, record.version, name)
            await self.replicas.record(name, READY, record.version)
            return InstallOutcome(record, server, check.status, check.tools, result.log)

    async def _discard(
        self,
        name: str,
        record: PackageRecord | None,
        created: bool,
        installer: Installer,
        result: InstallResult,
    ) -> None:
        """Undo a failed first install: the server it created (users' secrets stay; a server
        of that name registered meanwhile by someone else is not touched), its record and
        directory."""
        try:
            if created:
                await self._servers.delete(name, keep_secrets=True)
            if record is not None:
                await self._store.delete_package(name)
        finally:
            await self._dirs.remove(installer, result.install_dir.parent)

    # -- upgrade -----------------------------------------------------------------------------

    async def upgrade(
        self, server_name: str, version: str | None = None, *, on_line: LineCallback | None = None
    ) -> UpgradeOutcome:
        """Install ``version`` (default: latest) beside the running one and switch atomically.

        Returns ``up_to_date`` without touching anything when no version is given and the
        registry's latest is not newer. The server definition keeps its edits (args, env,
        cwd... set with ``servers update``). Raises PackageNotFound, InvalidRequest,
        InstallInProgress, InstallFailed (with the new server's stderr; the old version keeps
        serving).
        """
        record = await self.get(server_name)
        installer = self._dirs.installer(record.runtime)
        spec = installer.validate(
            dataclasses.replace(spec_for(record, None), version=version or None)
        )
        async with self._exclusive(record.server_name) as lease:
            record = await self.get(server_name)  # re-read under the lock
            latest: str | None = None
            if version is None:
                latest = await installer.latest_version(spec)
                if not installer.is_newer(latest, record.version):
                    return unchanged(record, "up_to_date", latest=latest)
                spec = dataclasses.replace(spec, version=latest)  # exactly what was checked
            result = await self._dirs.install_new(installer, record.server_name, spec, on_line)
            try:
                if lease is not None:
                    await lease.check()  # fencing: a holder that lost the lease writes nothing
                await switch(
                    self._store, self._servers, record, result, within=self._verify_timeout
                )
            except BaseException:
                await self._dirs.remove_install(installer, result.install_dir)
                raise
            if record.install_dir and record.install_dir != str(result.install_dir):
                await self._dirs.remove_install(installer, record.install_dir)
            log.info("upgraded %s %s -> %s", record.server_name, record.version, result.version)
            await self.replicas.record(record.server_name, READY, result.version)
            return UpgradeOutcome(
                record.server_name,
                record.name,
                record.version,
                result.version,
                "upgraded",
                log=result.log,
                latest_version=latest,
            )

    async def upgrade_all(self, *, on_line: LineCallback | None = None) -> list[UpgradeOutcome]:
        """Upgrade every package with a newer version, one at a time; failures are reported,
        never raised (each failed package keeps its old version)."""
        outcomes: list[UpgradeOutcome] = []
        for info in await self.updates():
            record = await self._store.get_package(info.server_name)
            if record is None:
                continue  # uninstalled meanwhile
            if not info.update_available:
                outcomes.append(
                    unchanged(record, "failed" if info.error else "up_to_date", info.error)
                )
                continue
            try:
                outcomes.append(
                    await self.upgrade(info.server_name, info.latest_version, on_line=on_line)
                )
            except GatewayError as exc:
                outcomes.append(unchanged(record, "failed", str(exc), getattr(exc, "log", "")))
        return outcomes

    # -- removal -----------------------------------------------------------------------------

    async def uninstall(self, server_name: str, *, purge: bool = False) -> PackageRecord | None:
        """Stop the server, delete its definition, package record and directory; with
        ``purge`` also every user's secrets for it. Idempotent: None when there is no package
        (already uninstalled, or never a package). Raises InstallInProgress."""
        record = await self._store.get_package(validate_server_name(server_name))
        if record is None:
            return None
        async with self._exclusive(record.server_name):
            await self._remove_package(record, keep_secrets=not purge)
        log.info("uninstalled %s (%s)", record.server_name, record.name)
        return record

    async def remove_server(self, name: str, *, keep_package: bool = False) -> ServerRemoval:
        """``DELETE /mcp/servers/{name}``: the server with every user's secrets, OAuth tokens
        and sessions, and the package behind it (record and directory) unless
        ``keep_package``. Idempotent: a server already gone gives ``existed=False`` (its
        orphaned package record still goes unless ``keep_package``). Raises
        InstallInProgress."""
        record = await self._store.get_package(validate_server_name(name))
        existed = await self._servers.find(name) is not None
        if record is None:
            if existed:
                await self._servers.delete(name)
            return ServerRemoval(name, existed=existed)
        async with self._exclusive(name):
            if keep_package:
                if existed:
                    await self._servers.delete(name)
            else:
                await self._remove_package(record, keep_secrets=False)
        log.info(
            "removed server %s (package %s %s)",
            name,
            record.name,
            "kept" if keep_package else "removed",
        )
        return ServerRemoval(name, record, package_removed=not keep_package, existed=existed)

    async def _remove_package(self, record: PackageRecord, *, keep_secrets: bool) -> None:
        if await self._servers.find(record.server_name) is not None:
            await self._servers.delete(record.server_name, keep_secrets=keep_secrets)
        await self._store.delete_package(record.server_name)
        await self._dirs.remove_all(record)
        await self._store.delete_package_states(record.server_name)

    async def reconcile(self) -> list[str]:
        """Start-up: see :mod:`mcp_gateway.services.package_reconcile`."""
        return await reconcile(self._store, self._servers, self._dirs, self.replicas)

    async def restore(self, server_name: str) -> bool:
        """Another replica changed this package: see ``package_reconcile.restore``."""
        return await restore(self._store, self._servers, self._dirs, self.replicas, server_name)

    async def restore_all(self) -> None:
        """The feed rescanned (changes may have been missed): ``restore`` every package."""
        for record in await self._store.list_packages():
            try:
                await self.restore(record.server_name)
            except GatewayError as exc:
                log.error("could not restore package %s: %s", record.server_name, exc)
