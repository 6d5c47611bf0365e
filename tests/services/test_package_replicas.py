"""Replica B following replica A's upgrade in one process (two pools and server services on
one SQLite store; B's own disk is simulated by deleting A's new directory): B keeps serving
the old version until its own install of the new one is done, then switches; a failed install
keeps the old version and is recorded; the states show in the package views
(services/package_replicas.py). The process-based version is tests/cluster/test_packages.py."""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.package_states import ReplicaPackageStatus
from mcp_gateway.errors import InstallFailed
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


@dataclass
class ReplicaB:
    pool: UpstreamPool
    servers: ServerService
    packages: PackageService


class RefreshingLate(ServerService):
    """B's ServerService whose ``refresh`` (the feed's, and the one that ends B's restore)
    waits for ``go``, and whose calls re-read the definition every time (no cache): so a
    call's own re-read sees B's finished install first, as when its cache entry expires
    between the end of that install and the refresh."""

    def __init__(self, store: Store, pool: UpstreamPool) -> None:
        super().__init__(store, pool, cache_ttl=0)
        self.go = anyio.Event()

    async def refresh(self, name: str) -> bool:
        await self.go.wait()
        return await super().refresh(name)


@asynccontextmanager
async def _replica_b(
    store: Store, registry: LocalRegistry, tmp_path: Path, servers: type[ServerService]
) -> AsyncIterator[ReplicaB]:
    """Replica B: same packages path, its npm registry requests under ``/held/``."""
    npm = NpmInstaller(tmp_path / "packages" / "node", timeout=120, registry=registry.held_npm_url)
    own = {**installers(tmp_path, registry), npm.runtime: npm}
    async with UpstreamPool(sessions=store, settings=UpstreamSettings()) as pool_b:
        servers_b = servers(store, pool_b)
        packages_b = PackageService(store, servers_b, own, replica="b")
        servers_b.hold = packages_b.replicas.must_wait
        yield ReplicaB(pool_b, servers_b, packages_b)


@pytest.fixture
async def b(
    sqlite_store: Store, registry: LocalRegistry, tmp_path: Path
) -> AsyncIterator[ReplicaB]:
    async with _replica_b(sqlite_store, registry, tmp_path, ServerService) as replica:
        yield replica


@pytest.fixture
async def b_late(
    sqlite_store: Store, registry: LocalRegistry, tmp_path: Path
) -> AsyncIterator[ReplicaB]:
    async with _replica_b(sqlite_store, registry, tmp_path, RefreshingLate) as replica:
        yield replica


async def _upgraded_on_a(service: PackageService, b: ReplicaB, sqlite_store: Store) -> str:
    """A installs 1.9.0 (B starts it too), then upgrades to 1.10.0; the new directory is
    removed as if B's disk had not got it. Returns that directory."""
    await service.install(InstallRequest(NPM_NAME, "fx", version="1.9.0"))
    await b.servers.load_all()
    assert await answer(b.pool, sqlite_store, "fx") == "1.9.0"
    await service.upgrade("fx", "1.10.0")
    new_dir = (await service.get("fx")).install_dir
    shutil.rmtree(new_dir)
    return new_dir


async def _b_installing(service: PackageService, b: ReplicaB) -> None:
    """Until B records that it installs ``fx``."""
    with anyio.fail_after(60):
        while True:
            (view,) = await b.packages.views([await service.get("fx")])
            if view.replicas:
                (state,) = view.replicas
                assert state.status is ReplicaPackageStatus.INSTALLING
                return
            await anyio.sleep(0.05)


async def _b_answers(b: ReplicaB) -> str:
    """What B serves for ``fx`` (through its ServerService, as a tool call would)."""
    config = await b.servers.config("fx")
    result = await b.pool.call_tool(config, "version", {}, username="default")
    return result.content[0].text  # type: ignore[union-attr]


async def test_b_keeps_the_old_version_while_it_installs_the_new_one_then_switches(
    sqlite_store: Store, registry: LocalRegistry, service: PackageService, b: ReplicaB
) -> None:
    new_dir = await _upgraded_on_a(service, b, sqlite_store)
    assert not await b.servers.refresh("fx")  # the feed's server change: held
    assert await _b_answers(b) == "1.9.0"
    registry.held = threading.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(b.packages.restore_all)  # after a rescan; the feed's change: restore
        with anyio.fail_after(60):
            while True:
                (view,) = await b.packages.views([await service.get("fx")])
                if view.replicas:
                    break
                await anyio.sleep(0.05)
        (state,) = view.replicas
        assert (state.replica, state.status) == ("b", ReplicaPackageStatus.INSTALLING)
        assert state.target == "1.10.0"
        assert not await b.servers.refresh("fx")  # the directory is there, but not complete
        assert await _b_answers(b) == "1.9.0"
        registry.held.set()
    assert await anyio.Path(new_dir).is_dir()
    assert await _b_answers(b) == "1.10.0"
    (view,) = await b.packages.views([await service.get("fx")])
    assert view.replicas == ()  # ready at the recorded version: agrees


async def test_a_failed_install_on_b_keeps_the_old_version_and_is_shown(
    sqlite_store: Store, registry: LocalRegistry, service: PackageService, b: ReplicaB
) -> None:
    await _upgraded_on_a(service, b, sqlite_store)
    registry.refused = True
    with pytest.raises(InstallFailed):
        await b.packages.restore("fx")
    assert await _b_answers(b) == "1.9.0"
    (view,) = await b.packages.views([await service.get("fx")])
    (state,) = view.replicas
    assert (state.status, state.target) == (ReplicaPackageStatus.FAILED, "1.10.0")
    assert state.error and NPM_NAME in state.error


async def test_an_upgrade_made_while_b_installs_the_previous_one_is_installed_next(
    sqlite_store: Store, registry: LocalRegistry, service: PackageService, b: ReplicaB
) -> None:
    first = await _upgraded_on_a(service, b, sqlite_store)
    registry.held = threading.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(b.packages.restore, "fx")
        with anyio.fail_after(60):
            while True:
                (view,) = await b.packages.views([await service.get("fx")])
                if view.replicas:
                    break
                await anyio.sleep(0.05)
        # A upgrades again (to 1.9.0, into a directory of its own) while B installs 1.10.0.
        record = await service.get("fx")
        second = str(Path(first).parent / "i-second")
        definition = await sqlite_store.get_server("fx")
        assert definition is not None
        moved = tuple(a.replace(first, second) for a in definition.args)
        await sqlite_store.update_server(dataclasses.replace(definition, args=moved))
        await sqlite_store.put_package(
            dataclasses.replace(record, version="1.9.0", install_dir=second)
        )
        registry.held.set()
    assert await anyio.Path(second).is_dir()
    assert second in " ".join((await b.servers.config("fx")).args)  # switched to the latest
    assert await _b_answers(b) == "1.9.0"
    (view,) = await b.packages.views([await service.get("fx")])
    assert view.replicas == ()


async def test_a_switch_made_by_a_call_right_after_b_installed_is_not_restarted_by_b(
    sqlite_store: Store,
    registry: LocalRegistry,
    service: PackageService,
    b_late: ReplicaB,
) -> None:
    """The cluster test's flake (one call on B got 404 ``server 'fx' not found``): a call's
    re-read switched B to the new version between the end of B's install and the refresh
    that ends B's restore; that refresh then found nothing to switch and B restarted the
    server (its pool forgets the name meanwhile: 404 for the calls arriving then), though
    what ran had been started with its directory. Only a definition started without its
    directory is restarted (tests/services/test_package_restore.py)."""
    await _upgraded_on_a(service, b_late, sqlite_store)
    registry.held = threading.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(b_late.packages.restore, "fx")
        await _b_installing(service, b_late)
        assert await _b_answers(b_late) == "1.9.0"  # a call's re-read: held while installing
        registry.held.set()
        with anyio.fail_after(60):
            while True:  # until installed: then a call's re-read switches
                if await _b_answers(b_late) == "1.10.0":
                    break
                await anyio.sleep(0.05)
        pid = b_late.pool.status("fx").pid
        assert pid is not None
        b_late.servers.go.set()  # B's restore refreshes: nothing left to switch
    assert b_late.pool.status("fx").pid == pid  # the same process: not restarted
    assert await _b_answers(b_late) == "1.10.0"
