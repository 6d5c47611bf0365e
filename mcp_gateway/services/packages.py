"""Package use cases: install, list, check for updates, upgrade atomically, uninstall, reconcile.

Package records are the desired state; the server definition they produce lives in the server
store like any other. One operation at a time per server name (a second gets 409
``install_in_progress``; in-process only, one gateway per packages dir). Upgrades install
beside the running version (see :mod:`mcp_gateway.installer.base` for the layout), start the
new one as a temporary server, and switch only if it lists its tools.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import anyio

from mcp_gateway.domain.names import DEFAULT_USERNAME, validate_server_name
from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.domain.servers import ServerConfig, ServerStatus
from mcp_gateway.errors import (
    GatewayError,
    InstallFailed,
    InstallInProgress,
    InvalidRequest,
    PackageNotFound,
    ServerAlreadyExists,
)
from mcp_gateway.installer.base import (
    Installer,
    InstallResult,
    InstallSpec,
    new_install_dir,
    remove_tree,
    slot_dir,
)
from mcp_gateway.installer.models import (
    InstallOutcome,
    InstallRequest,
    UpdateInfo,
    UpgradeOutcome,
    install_request_from_body,
    unchanged,
    update_info,
)
from mcp_gateway.installer.plan import (
    new_record,
    new_server,
    record_after_install,
    server_after_install,
    spec_for,
    spec_from_request,
)
from mcp_gateway.installer.process import LineCallback
from mcp_gateway.storage.ports import PackageStore, SecretStore, ServerStore

__all__ = [
    "InstallOutcome",
    "InstallRequest",
    "PackageService",
    "ServerRegistry",
    "UpdateInfo",
    "UpgradeOutcome",
    "install_request_from_body",
]

log = logging.getLogger("mcp_gateway.packages")


class ServerRegistry(Protocol):
    """The live side (``upstream.pool.UpstreamPool`` fits; see the report on caching)."""

    async def apply(self, server: ServerConfig) -> None: ...

    async def remove(self, name: str) -> None: ...

    async def list_tools(self, server: ServerConfig, *, username: str) -> Sequence[Any]: ...


class PackagesStore(PackageStore, ServerStore, SecretStore, Protocol):
    pass


class PackageService:
    def __init__(
        self,
        store: PackagesStore,
        registry: ServerRegistry,
        installers: Mapping[PackageRuntime, Installer],
        *,
        verify_timeout: float = 60.0,
    ) -> None:
        self._store = store
        self._registry = registry
        self._installers = dict(installers)
        self._verify_timeout = verify_timeout
        self._busy: set[str] = set()

    # -- helpers -----------------------------------------------------------------------------

    @contextmanager
    def _exclusive(self, server_name: str) -> Iterator[None]:
        if server_name in self._busy:
            raise InstallInProgress(server_name)
        self._busy.add(server_name)
        try:
            yield
        finally:
            self._busy.discard(server_name)

    def _installer(self, runtime: PackageRuntime | str) -> Installer:
        try:
            return self._installers[PackageRuntime(runtime)]
        except (ValueError, KeyError):
            raise InvalidRequest("runtime must be 'node' or 'python'") from None

    async def _install_into_new_dir(
        self,
        installer: Installer,
        server_name: str,
        spec: InstallSpec,
        on_line: LineCallback | None,
    ) -> InstallResult:
        target = new_install_dir(installer.root, server_name)
        try:
            return await installer.install(spec, target, on_line=on_line)
        except BaseException:
            await self._remove(installer, target)
            raise

    async def _probe(
        self, server: ServerConfig
    ) -> tuple[ServerStatus, tuple[Any, ...], str | None]:
        if not server.enabled:
            return ServerStatus.DISABLED, (), None
        try:
            with anyio.fail_after(self._verify_timeout):
                tools = await self._registry.list_tools(server, username=DEFAULT_USERNAME)
        except (GatewayError, TimeoutError, OSError) as exc:
            return ServerStatus.ERROR, (), str(exc) or type(exc).__name__
        return ServerStatus.CONNECTED, tuple(tools), None

    @staticmethod
    async def _remove(installer: Installer, path: str | Path) -> None:
        """Delete an install directory (in a worker thread, finishing even when cancelled);
        a path outside the installer's root is logged and left alone."""
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(remove_tree, path, installer.root)
            except GatewayError:
                log.warning("not removing %s: outside %s", path, installer.root)

    # -- queries -----------------------------------------------------------------------------

    async def list_packages(self) -> list[PackageRecord]:
        return await self._store.list_packages()

    async def get(self, server_name: str) -> PackageRecord:
        """Raises PackageNotFound."""
        record = await self._store.get_package(validate_server_name(server_name))
        if record is None:
            raise PackageNotFound(server_name)
        return record

    async def by_name(self, name: str) -> list[PackageRecord]:
        """Every install of package ``name``. Raises PackageNotFound if there is none."""
        records = await self._store.find_packages_by_name(name)
        if not records:
            raise PackageNotFound(name)
        return records

    async def updates(self, name: str | None = None) -> list[UpdateInfo]:
        """Latest registry version vs installed, per package (optionally only ``name``)."""
        records = await (self.by_name(name) if name else self.list_packages())
        results: dict[str, UpdateInfo] = {}
        limiter = anyio.CapacityLimiter(8)

        async def check(record: PackageRecord) -> None:
            async with limiter:
                results[record.server_name] = await self._update_info(record)

        async with anyio.create_task_group() as tg:
            for record in records:
                tg.start_soon(check, record)
        return [results[r.server_name] for r in records]

    async def _update_info(self, record: PackageRecord) -> UpdateInfo:
        installer = self._installer(record.runtime)
        try:
            latest = await installer.latest_version(spec_for(record, None))
        except GatewayError as exc:
            return update_info(record, None, False, str(exc))
        return update_info(record, latest, installer.is_newer(latest, record.version))

    # -- install -----------------------------------------------------------------------------

    def _validate(self, request: InstallRequest) -> tuple[Installer, InstallSpec]:
        validate_server_name(request.server_name)
        installer = self._installer(request.runtime)
        return installer, installer.validate(spec_from_request(request))

    async def install(
        self, request: InstallRequest, *, on_line: LineCallback | None = None
    ) -> InstallOutcome:
        """Install, register and start a package.

        Raises InvalidRequest (before any process runs), InstallInProgress,
        ServerAlreadyExists, InstallFailed (with the log; nothing is left behind). A server that
        installs but fails to start is kept and reported with status ``error``.
        """
        installer, spec = self._validate(request)
        name = request.server_name
        with self._exclusive(name):
            if await self._store.get_package(name) or await self._store.get_server(name):
                raise ServerAlreadyExists(name)
            result = await self._install_into_new_dir(installer, name, spec, on_line)
            try:
                record = new_record(request, spec, result, now=time.time())
                server = new_server(request, record, result)
                await self._store.put_package(record)
                try:
                    await self._store.create_server(server)
                except BaseException:
                    await self._store.delete_package(name)
                    raise
            except BaseException:
                await self._remove(installer, result.install_dir)
                raise
            await self._registry.apply(server)
            status, tools, error = await self._probe(server)
            log.info("installed %s %s as %s", record.name, record.version, name)
            return InstallOutcome(record, server, status, tools, error, result.log)

    # -- upgrade -----------------------------------------------------------------------------

    async def upgrade(
        self, server_name: str, version: str | None = None, *, on_line: LineCallback | None = None
    ) -> UpgradeOutcome:
        """Install ``version`` (default: latest) beside the running one and switch atomically.

        Returns ``up_to_date`` without touching anything when no version is given and the
        registry's latest is not newer. Raises PackageNotFound, InvalidRequest,
        InstallInProgress, InstallFailed (with the log; the old version keeps serving).
        """
        record = await self.get(server_name)
        installer = self._installer(record.runtime)
        spec = installer.validate(
            dataclasses.replace(spec_for(record, None), version=version or None)
        )
        with self._exclusive(record.server_name):
            record = await self.get(server_name)  # re-read under the lock
            if version is None:
                latest = await installer.latest_version(spec)
                if not installer.is_newer(latest, record.version):
                    return unchanged(record, "up_to_date")
                spec = dataclasses.replace(spec, version=latest)  # exactly what was checked
            result = await self._install_into_new_dir(installer, record.server_name, spec, on_line)
            try:
                await self._switch(record, result)
            except BaseException:
                await self._remove(installer, result.install_dir)
                raise
            if record.install_dir and record.install_dir != str(result.install_dir):
                await self._remove(installer, record.install_dir)
            log.info("upgraded %s %s -> %s", record.server_name, record.version, result.version)
            return UpgradeOutcome(
                record.server_name,
                record.name,
                record.version,
                result.version,
                "upgraded",
                log=result.log,
            )

    async def _switch(self, record: PackageRecord, result: InstallResult) -> None:
        """Verify the new install as a temporary server, then point the real one at it."""
        current = await self._store.get_server(record.server_name)
        base = current or ServerConfig(name=record.server_name, env=dict(record.env))
        new_record = record_after_install(record, result, now=time.time())
        new_server = server_after_install(base, new_record, result)
        if new_server.enabled:
            temp_name = f"{record.server_name[:48]}-upgrade-{secrets.token_hex(3)}"
            temp = dataclasses.replace(new_server, name=temp_name)
            await self._registry.apply(temp)
            try:
                status, _, error = await self._probe(temp)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._registry.remove(temp_name)
            if status is not ServerStatus.CONNECTED:
                raise InstallFailed(
                    f"{record.name} {result.version} did not start: {error}", result.log
                )
        await self._store.put_package(new_record)
        try:
            if current is None:
                await self._store.create_server(new_server)
            else:
                await self._store.update_server(new_server)
            await self._registry.apply(new_server)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._store.put_package(record)
                if current is not None:
                    await self._store.update_server(current)
                    await self._registry.apply(current)
            raise

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

    # -- uninstall / reconcile ---------------------------------------------------------------

    async def uninstall(self, server_name: str, *, purge: bool = False) -> PackageRecord:
        """Stop the server, delete its definition, package record and directory; with
        ``purge`` also every user's secrets for it. Raises PackageNotFound, InstallInProgress."""
        record = await self.get(server_name)
        installer = self._installer(record.runtime)
        with self._exclusive(record.server_name):
            await self._registry.remove(record.server_name)
            await self._store.delete_server(record.server_name)
            await self._store.delete_package(record.server_name)
            if purge:
                await self._store.delete_server_secrets(record.server_name)
            await self._remove(installer, slot_dir(installer.root, record.server_name))
            if record.install_dir:
                await self._remove(installer, record.install_dir)
        log.info("uninstalled %s (%s)", record.server_name, record.name)
        return record

    async def reconcile(self) -> list[str]:
        """Start-up: re-install (at the recorded exact version) every package whose directory
        is missing, and delete leftover attempt directories. Returns the re-installed server
        names; failures are logged and skipped."""
        done: list[str] = []
        for record in await self._store.list_packages():
            installer = self._installers.get(record.runtime)
            if installer is None or record.server_name in self._busy:
                continue
            try:
                with self._exclusive(record.server_name):
                    if await self._reconcile_one(installer, record):
                        done.append(record.server_name)
            except GatewayError as exc:
                log.error("could not restore package %s: %s", record.server_name, exc)
        return done

    async def _reconcile_one(self, installer: Installer, record: PackageRecord) -> bool:
        slot = slot_dir(installer.root, record.server_name)
        current = Path(record.install_dir) if record.install_dir else None
        if current is not None and current.is_dir():
            for leftover in slot.iterdir() if slot.is_dir() else ():
                if leftover.resolve() != current.resolve():
                    await self._remove(installer, leftover)
            return False
        spec = installer.validate(spec_for(record, record.version))
        result = await self._install_into_new_dir(installer, record.server_name, spec, None)
        new_record = record_after_install(record, result, now=time.time())
        server = await self._store.get_server(record.server_name)
        base = server or ServerConfig(name=record.server_name, env=dict(record.env))
        new_server = server_after_install(base, new_record, result)
        await self._store.put_package(new_record)
        if server is None:
            await self._store.create_server(new_server)
        else:
            await self._store.update_server(new_server)
        await self._registry.apply(new_server)
        log.info("restored %s %s into %s", record.name, result.version, result.install_dir)
        return True
