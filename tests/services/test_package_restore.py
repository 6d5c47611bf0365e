"""A package installed or upgraded by another replica is installed here too, at the recorded
path (services/package_reconcile.restore, run by the change feed): the shared record and server
definition are never rewritten by a follower."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import pytest

from mcp_gateway.installer import NpmInstaller
from mcp_gateway.services.packages import InstallRequest, PackageService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME, LocalRegistry
from tests.services.package_setup import answer, installers, pool, servers, service

__all__ = ["artifacts", "pool", "registry", "servers", "service"]

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_a_package_upgraded_elsewhere_is_installed_here_at_its_recorded_path(
    sqlite_store: Store,
    pool: UpstreamPool,
    servers: ServerService,
    registry: LocalRegistry,
    service: PackageService,
    tmp_path: Path,
) -> None:
    await service.install(InstallRequest(NPM_NAME, "fx", version="1.9.0"))
    await service.upgrade("fx", "1.10.0")
    record = await service.get("fx")
    definition = await sqlite_store.get_server("fx")
    shutil.rmtree(tmp_path / "packages")  # this replica's own disk has not got it yet
    here = PackageService(sqlite_store, servers, installers(tmp_path, registry))
    assert await here.restore("fx")
    assert await anyio.Path(record.install_dir).is_dir()
    assert await here.get("fx") == record
    assert await sqlite_store.get_server("fx") == definition
    assert await answer(pool, sqlite_store, "fx") == "1.10.0"
    assert not await here.restore("fx")  # nothing missing any more


async def test_a_follower_with_another_packages_path_leaves_the_shared_records_alone(
    sqlite_store: Store,
    servers: ServerService,
    registry: LocalRegistry,
    service: PackageService,
    tmp_path: Path,
) -> None:
    await service.install(InstallRequest(NPM_NAME, "fx", version="1.9.0"))
    record = await service.get("fx")
    definition = await sqlite_store.get_server("fx")
    npm = NpmInstaller(tmp_path / "elsewhere" / "node", timeout=60, registry=registry.npm_url)
    elsewhere = {runtime: npm for runtime in installers(tmp_path, registry)}
    here = PackageService(sqlite_store, servers, elsewhere)
    assert not await here.restore("fx")  # refused (logged): the paths must agree
    assert await here.get("fx") == record
    assert await sqlite_store.get_server("fx") == definition
    assert not (tmp_path / "elsewhere").exists()
