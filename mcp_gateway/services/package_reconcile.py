"""Reconcile of package records (the desired state) with this replica's packages directory,
at start-up and when another replica installed or upgraded a package (services/follow.py).

Re-installs, at the recorded exact version, every package whose directory is missing (a wiped
disk, a new replica, another replica's upgrade) and deletes leftover attempt directories of
crashed installs. Where the recorded directory lies in this replica's packages directory (every
replica configured with the same ``MCPGW_PACKAGES_DIR``), it installs into exactly that path, so
the shared server definition and record stay as they are and stay valid on every replica;
elsewhere it installs into a new directory and points the definition at it (which keeps its
edits, see :func:`~mcp_gateway.installer.plan.server_after_upgrade`). A package whose server was
removed with ``keepPackage`` stays without one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from mcp_gateway.domain.records import PackageRecord
from mcp_gateway.errors import GatewayError
from mcp_gateway.installer.base import Installer, slot_dir
from mcp_gateway.installer.plan import record_after_install, server_after_upgrade, spec_for
from mcp_gateway.services.package_dirs import PackageDirs
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import PackageStore

log = logging.getLogger("mcp_gateway.packages")


async def reconcile(store: PackageStore, servers: ServerService, dirs: PackageDirs) -> list[str]:
    """Returns the re-installed server names; failures are logged and skipped."""
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
    return done


async def restore(
    store: PackageStore, servers: ServerService, dirs: PackageDirs, server_name: str
) -> bool:
    """Another replica installed or upgraded ``server_name``'s package: install it here too
    if its directory is missing, then restart its server (it failed, or is waiting to retry,
    on a directory that did not exist yet). True if it installed. Raises GatewayError."""
    record = await store.get_package(server_name)
    installer = dirs.installers.get(record.runtime) if record is not None else None
    if record is None or installer is None or dirs.busy(server_name):
        return False  # gone, or this replica is installing it itself
    with dirs.exclusive(server_name):
        # No clean-up of other attempt directories here: with a packages directory shared by
        # several replicas (one host), one of them may be another replica's install running.
        if not await _reconcile_one(store, servers, dirs, installer, record, follower=True):
            return False
    server = await servers.find(server_name)
    if server is not None and server.enabled:
        await servers.restart(server_name)  # it could only fail without its directory
    return True


async def _reconcile_one(
    store: PackageStore,
    servers: ServerService,
    dirs: PackageDirs,
    installer: Installer,
    record: PackageRecord,
    *,
    follower: bool = False,
) -> bool:
    slot = slot_dir(installer.root, record.server_name)
    current = Path(record.install_dir) if record.install_dir else None
    if current is not None and current.is_dir():
        for leftover in slot.iterdir() if not follower and slot.is_dir() else ():
            if leftover.resolve() != current.resolve():
                await dirs.remove(installer, leftover)
        return False
    spec = installer.validate(spec_for(record, record.version))
    if current is not None and _in_slot(current, slot):
        await dirs.install_new(installer, record.server_name, spec, None, at=current)
        log.info("restored %s %s into %s", record.name, record.version, current)
        return True
    if follower:
        # Rewriting the shared definition to this replica's own path would break it on the
        # replica that wrote it, which would rewrite it back: replicas must agree on the path.
        log.warning(
            "package %s is installed at %s, outside this replica's packages directory: "
            "give every replica the same MCPGW_PACKAGES_DIR (docs/scaling.md)",
            record.server_name,
            current,
        )
        return False
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
