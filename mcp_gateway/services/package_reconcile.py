"""Reconcile of package records (the desired state) with this replica's packages directory,
at start-up and when another replica installed or upgraded a package (services/follow.py).

Re-installs, at the recorded exact version, every package whose directory is missing (a wiped
disk, a new replica, another replica's upgrade); at start-up it also deletes leftover attempt
directories (of crashed installs, and the previous versions a follower switched away from).
Each outcome is recorded as this replica's state of the package
(services/package_replicas.py). Where the recorded directory lies in this replica's packages
directory (every replica configured with the same ``MCPGW_PACKAGES_DIR``), it installs into
exactly that path, so the shared server definition and record stay as they are and stay valid
on every replica; elsewhere (start-up only) it installs into a new directory and points the
definition at it (which keeps its edits, see
:func:`~mcp_gateway.installer.plan.server_after_upgrade`). A package whose server was removed
with ``keepPackage`` stays without one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import anyio

from mcp_gateway.domain.package_states import ReplicaPackageStatus
from mcp_gateway.domain.records import PackageRecord
from mcp_gateway.errors import GatewayError
from mcp_gateway.installer.base import Installer, slot_dir
from mcp_gateway.installer.plan import record_after_install, server_after_upgrade, spec_for
from mcp_gateway.services.package_dirs import PackageDirs
from mcp_gateway.services.package_replicas import ReplicaPackages
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import PackageStore

log = logging.getLogger("mcp_gateway.packages")


async def reconcile(
    store: PackageStore,
    servers: ServerService,
    dirs: PackageDirs,
    replicas: ReplicaPackages,
) -> list[str]:
    """Returns the re-installed server names; failures are logged, recorded and skipped."""
    done: list[str] = []
    for record in await store.list_packages():
        installer = dirs.installers.get(record.runtime)
        if installer is None or dirs.busy(record.server_name):
            continue
        try:
            with dirs.exclusive(record.server_name):
                if await _reconcile_one(store, servers, dirs, installer, record):
                    done.append(record.server_name)
        except GatewayError as exc:
            log.error("could not restore package %s: %s", record.server_name, exc)
            await replicas.record(record.server_name, FAILED, "", record.version, _error(exc))
            continue
        await replicas.record(record.server_name, READY, record.version)
    return done


async def restore(
    store: PackageStore,
    servers: ServerService,
    dirs: PackageDirs,
    replicas: ReplicaPackages,
    server_name: str,
) -> bool:
    """Another replica installed or upgraded ``server_name``'s package: install it here too
    if its directory is missing, then switch its server to it (a definition held until now,
    see ``ReplicaPackages.must_wait``; or restart one that was started without its directory).
    While installing, and should the install fail, the running version keeps serving; the
    state is recorded. True if it installed. Raises GatewayError."""
    record = await store.get_package(server_name)
    if record is None or dirs.busy(server_name):
        return False  # gone, or installing it here (itself, or an earlier change: the loop)
    installed = refused = started_without = False
    if record.install_dir and await anyio.Path(record.install_dir).is_dir():
        pass  # nothing to install: no local lock (a user's request here meanwhile is no 409)
    else:
        # Only what runs here pointing at the directory about to be installed (applied before
        # this replica had it) was started without it and needs a restart once installed. A
        # definition held until now is switched to instead, by ``refresh`` below or by a call
        # re-reading it first (ServerService.config); restarting it then would fail the calls
        # in flight on its sessions for nothing.
        running = servers.running(server_name)
        started_without = running is None or (
            Path(record.install_dir) in replicas.install_dirs(running)
        )
        installed, refused = await _install_latest(store, dirs, replicas, server_name)
        record = await store.get_package(server_name) or record  # upgraded again meanwhile
    if not await servers.refresh(server_name) and installed and started_without:
        server = await servers.find(server_name)
        if server is not None and server.enabled:
            await servers.restart(server_name)  # it could only fail without its directory
    if not refused:
        await replicas.record(server_name, READY, record.version)
    return installed


async def _install_latest(
    store: PackageStore, dirs: PackageDirs, replicas: ReplicaPackages, server_name: str
) -> tuple[bool, bool]:
    """Under this process's lock of the server: install the recorded version here, and again
    if it was upgraded meanwhile. Returns (installed, refused)."""
    installed = False
    with dirs.exclusive(server_name):
        done = ""
        while True:  # upgraded again while this replica installed: that version too
            record = await store.get_package(server_name)
            installer = dirs.installers.get(record.runtime) if record is not None else None
            if record is None or installer is None or record.install_dir == done:
                return installed, False  # done, or uninstalled meanwhile
            here = await _install_here(dirs, replicas, installer, record)
            if here is None:
                return installed, True
            installed = installed or here
            done = record.install_dir


async def _install_here(
    dirs: PackageDirs, replicas: ReplicaPackages, installer: Installer, record: PackageRecord
) -> bool | None:
    """Install ``record`` at its recorded path if missing here: True if it did, False if it
    was here, None if it cannot be (recorded outside this replica's packages directory)."""
    name = record.server_name
    current = Path(record.install_dir) if record.install_dir else None
    if current is None or await anyio.Path(current).is_dir():
        return False
    own = await replicas.own(name)
    serving = own.version if own is not None else ""
    if not _in_slot(current, slot_dir(installer.root, name)):
        # Rewriting the shared definition to this replica's own path would break it on the
        # replica that wrote it, which would rewrite it back: replicas must agree on the path.
        log.warning(
            "package %s is installed at %s, outside this replica's packages directory: "
            "give every replica the same MCPGW_PACKAGES_DIR (docs/scaling.md)",
            name,
            current,
        )
        error = "installed outside this replica's packages directory (MCPGW_PACKAGES_DIR)"
        await replicas.record(name, FAILED, serving, record.version, error)
        return None
    await replicas.record(name, INSTALLING, serving, record.version)
    try:
        # No clean-up of other attempt directories here: with a packages directory shared
        # by several replicas (one host), one of them may be another replica's install.
        spec = installer.validate(spec_for(record, record.version))
        await dirs.install_new(installer, name, spec, None, at=current)
    except GatewayError as exc:
        await replicas.record(name, FAILED, serving, record.version, _error(exc))
        raise
    log.info("restored %s %s into %s", record.name, record.version, current)
    return True


async def _reconcile_one(
    store: PackageStore,
    servers: ServerService,
    dirs: PackageDirs,
    installer: Installer,
    record: PackageRecord,
) -> bool:
    slot = slot_dir(installer.root, record.server_name)
    current = Path(record.install_dir) if record.install_dir else None
    if current is not None and current.is_dir():
        for leftover in slot.iterdir() if slot.is_dir() else ():
            if leftover.resolve() != current.resolve():
                await dirs.remove(installer, leftover)
        return False
    spec = installer.validate(spec_for(record, record.version))
    if current is not None and _in_slot(current, slot):
        await dirs.install_new(installer, record.server_name, spec, None, at=current)
        log.info("restored %s %s into %s", record.name, record.version, current)
        return True
    result = await dirs.install_new(installer, record.server_name, spec, None)
    try:
        new_record = record_after_install(record, result, now=time.time())
        server = await servers.find(record.server_name)
        if server is not None:
            await servers.replace(server_after_upgrade(server, record, new_record, result))
        await store.put_package(new_record)
    except BaseException:
        await dirs.remove(installer, result.install_dir)
        raise
    log.info("restored %s %s into %s", record.name, result.version, result.install_dir)
    return True


def _in_slot(install_dir: Path, slot: Path) -> bool:
    """``install_dir`` is an attempt directory of this replica's slot for the server."""
    return install_dir.parent.resolve() == slot.resolve()


def _error(exc: GatewayError) -> str:
    return str(exc) or exc.code


FAILED = ReplicaPackageStatus.FAILED
INSTALLING = ReplicaPackageStatus.INSTALLING
READY = ReplicaPackageStatus.READY
