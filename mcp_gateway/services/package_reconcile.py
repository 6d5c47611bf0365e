"""Start-up reconcile of package records (the desired state) with the packages directory.

Re-installs, at the recorded exact version, every package whose directory is missing (a wiped
disk, a new replica) and deletes leftover attempt directories of crashed installs. The server
definition keeps its edits (see :func:`~mcp_gateway.installer.plan.server_after_upgrade`); a
package whose server was removed with ``keepPackage`` stays without one.
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
