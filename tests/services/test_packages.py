"""PackageService end to end: real installs from a local registry, the real ServerService and
UpstreamPool, and the real SQLite store. Each server is the tiny fixture whose ``version`` tool
answers with its installed version (and its extra argv); the broken builds die of a missing
dependency at start after printing their ``FIXTURE_TOKEN``."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import pytest

from mcp_gateway.domain.records import PackageRuntime, StoredSecret
from mcp_gateway.domain.servers import ServerConfig, ServerStatus
from mcp_gateway.errors import (
    InstallFailed,
    InstallInProgress,
    InvalidRequest,
    ServerAlreadyExists,
)
from mcp_gateway.installer import NpmInstaller
from mcp_gateway.services.packages import InstallRequest, PackageService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME, PY_NAME, Artifacts, LocalRegistry
from tests.services.package_setup import answer, attempt_dirs, installers, pool, servers, service

__all__ = ["artifacts", "pool", "registry", "servers", "service"]
pytestmark = pytest.mark.anyio


async def test_install_records_the_exact_version_and_serves_its_tools(
    service: PackageService, pool: UpstreamPool, sqlite_store: Store, artifacts: Artifacts
) -> None:
    artifacts.marker.unlink(missing_ok=True)
    outcome = await service.install(InstallRequest(NPM_NAME, "fx", version="~1.9.0"))
    assert outcome.status is ServerStatus.CONNECTED
    assert [t.name for t in outcome.tools] == ["version"]
    record = await service.get("fx")
    assert record.version == "1.9.0" and record.requested_version == "~1.9.0"
    assert record == outcome.package
    assert [r.server_name for r in await service.by_name(NPM_NAME)] == ["fx"]
    assert await answer(pool, sqlite_store, "fx") == "1.9.0"
    assert not artifacts.marker.exists()  # postinstall did not run


async def test_python_package_installs_with_extra_args(
    service: PackageService, pool: UpstreamPool, sqlite_store: Store
) -> None:
    request = InstallRequest(
        PY_NAME, "pyfx", runtime=PackageRuntime.PYTHON, version="0.9.0", python_args=("--x",)
    )
    outcome = await service.install(request)
    assert outcome.status is ServerStatus.CONNECTED
    assert outcome.package.version == "0.9.0"
    assert await answer(pool, sqlite_store, "pyfx") == "0.9.0 --x"


async def test_malicious_request_leaves_nothing_behind(
    service: PackageService, sqlite_store: Store, tmp_path: Path
) -> None:
    for request in (
        InstallRequest("--index-url=http://evil.test", "fx"),
        InstallRequest("ok", "fx", version="x;touch /tmp/p"),
        InstallRequest("ok", "../../etc"),
        InstallRequest("git+https://github.com/x/y.git", "fx", runtime=PackageRuntime.PYTHON),
        InstallRequest("ok", "fx", runtime=PackageRuntime.PYTHON, pip_index_url="file:///etc"),
        InstallRequest("ok", "fx", env={"BAD NAME": "x"}),
    ):
        with pytest.raises(InvalidRequest):
            await service.install(request)
    assert await sqlite_store.list_packages() == []
    assert await sqlite_store.list_servers() == []
    assert not (tmp_path / "packages").exists()


async def test_existing_server_name_conflicts(service: PackageService, sqlite_store: Store) -> None:
    await sqlite_store.create_server(ServerConfig(name="taken", command="true"))
    with pytest.raises(ServerAlreadyExists):
        await service.install(InstallRequest(NPM_NAME, "taken", version="1.9.0"))


async def test_concurrent_install_for_the_same_server_gets_409(
    sqlite_store: Store, servers: ServerService, tmp_path: Path
) -> None:
    slow = tmp_path / "slow-npm"
    slow.write_text("#!/bin/sh\necho resolving\nexec sleep 60\n")
    slow.chmod(0o755)
    npm = NpmInstaller(tmp_path / "packages" / "node", timeout=60, npm_bin=str(slow))
    service = PackageService(sqlite_store, servers, {PackageRuntime.NODE: npm})
    started = anyio.Event()
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:

            async def first() -> None:
                await service.install(
                    InstallRequest(NPM_NAME, "fx"), on_line=lambda _line: started.set()
                )

            tg.start_soon(first)
            await started.wait()
            with pytest.raises(InstallInProgress):
                await service.install(InstallRequest(NPM_NAME, "fx"))
            tg.cancel_scope.cancel()
    assert not (tmp_path / "packages" / "node" / "fx").exists()  # the cancelled attempt
    assert await sqlite_store.list_packages() == []


async def test_failed_upgrade_keeps_the_old_version_serving(
    service: PackageService, pool: UpstreamPool, sqlite_store: Store, tmp_path: Path
) -> None:
    await service.install(InstallRequest(NPM_NAME, "fx", version="1.9.0"))
    before = await sqlite_store.get_server("fx")
    dirs = attempt_dirs(tmp_path, "fx")
    # latest is 2.0.0, a build that exits at start-up
    with pytest.raises(InstallFailed, match="upgrade of .* to 2.0.0 failed.*did not start") as exc:
        await service.upgrade("fx")
    # why it did not start: the new server's stderr, in the message and the log
    assert "Cannot find module 'mcpgw-missing-dependency'" in exc.value.message
    assert "--- server stderr" in exc.value.log and "MODULE_NOT_FOUND" in exc.value.log
    assert (await service.get("fx")).version == "1.9.0"
    assert await sqlite_store.get_server("fx") == before
    assert attempt_dirs(tmp_path, "fx") == dirs
    assert await answer(pool, sqlite_store, "fx") == "1.9.0"


async def test_upgrade_switches_atomically_and_custom_command_survives(
    service: PackageService, pool: UpstreamPool, sqlite_store: Store, tmp_path: Path
) -> None:
    request = InstallRequest(
        NPM_NAME,
        "fx",
        version="1.9.0",
        command="node",
        args=("{installDir}/node_modules/mcpgw-fixture-server/index.js", "--tag=custom"),
        env={"FIXTURE_MODE": "1"},
    )
    await service.install(request)
    old_dirs = attempt_dirs(tmp_path, "fx")
    assert await answer(pool, sqlite_store, "fx") == "1.9.0 --tag=custom"
    outcome = await service.upgrade("fx", "1.10.0")
    assert (outcome.status, outcome.from_version, outcome.to_version) == (
        "upgraded",
        "1.9.0",
        "1.10.0",
    )
    assert await answer(pool, sqlite_store, "fx") == "1.10.0 --tag=custom"
    record = await service.get("fx")
    assert record.custom_command and record.version == "1.10.0"
    assert record.args == request.args  # the template, not the rendered path
    server = await sqlite_store.get_server("fx")
    assert server is not None and server.env == {"FIXTURE_MODE": "1"}
    new_dirs = attempt_dirs(tmp_path, "fx")
    assert len(new_dirs) == 1 and new_dirs != old_dirs  # the old install is gone
    assert server.args[0].startswith(str(new_dirs[0]))


@pytest.mark.slow
async def test_updates_use_real_version_ordering_and_upgrade_all_reports_each(
    service: PackageService, pool: UpstreamPool, sqlite_store: Store, registry: LocalRegistry
) -> None:
    registry.npm[NPM_NAME]["dist-tags"]["latest"] = "1.10.0"
    await service.install(InstallRequest(NPM_NAME, "fx", version="1.9.0"))
    await service.install(
        InstallRequest(PY_NAME, "pyfx", runtime=PackageRuntime.PYTHON, version="0.9.0")
    )
    updates = {u.server_name: u for u in await service.updates()}
    assert (updates["fx"].latest_version, updates["fx"].update_available) == ("1.10.0", True)
    assert (updates["pyfx"].latest_version, updates["pyfx"].update_available) == ("1.0.0", True)
    # the npm and the PyPI fixture share one name: a package name finds both installs, a
    # server name (mcp-api's meaning) its own, an unknown name nothing (mcp-api: no 404)
    assert [u.server_name for u in await service.updates(NPM_NAME)] == ["fx", "pyfx"]
    assert [u.server_name for u in await service.updates("pyfx")] == ["pyfx"]
    assert await service.updates("not-installed") == []
    outcomes = {o.server_name: o for o in await service.upgrade_all()}
    assert outcomes["fx"].status == "upgraded"
    assert outcomes["pyfx"].status == "failed"  # 1.0.0 is broken: it keeps 0.9.0
    assert await answer(pool, sqlite_store, "fx") == "1.10.0"
    assert await answer(pool, sqlite_store, "pyfx") == "0.9.0"
    again = {u.server_name: u.update_available for u in await service.updates()}
    assert again == {"fx": False, "pyfx": True}
    assert (await service.upgrade("fx")).status == "up_to_date"


async def test_uninstall_removes_everything_but_secrets_unless_purged(
    service: PackageService, pool: UpstreamPool, sqlite_store: Store, tmp_path: Path
) -> None:
    for name in ("keep", "purge"):
        await service.install(InstallRequest(NPM_NAME, name, version="1.9.0"))
        await sqlite_store.put_secret(StoredSecret("alice", name, "TOKEN", b"\x01ct"))
    await service.uninstall("keep")
    await service.uninstall("purge", purge=True)
    for name in ("keep", "purge"):
        assert await sqlite_store.get_package(name) is None
        assert await sqlite_store.get_server(name) is None
        assert not (tmp_path / "packages" / "node" / name).exists()
        assert name not in pool.statuses()  # stopped and forgotten
    assert await sqlite_store.list_secret_names("alice", "keep") == ["TOKEN"]
    assert await sqlite_store.list_secret_names("alice", "purge") == []
    assert await service.uninstall("keep") is None  # idempotent: already gone


async def test_reconcile_reinstalls_a_missing_directory_at_the_recorded_version(
    sqlite_store: Store,
    pool: UpstreamPool,
    servers: ServerService,
    registry: LocalRegistry,
    service: PackageService,
    tmp_path: Path,
) -> None:
    await service.install(InstallRequest(NPM_NAME, "fx", version="~1.9.0"))
    registry.npm[NPM_NAME]["dist-tags"]["latest"] = "1.10.0"  # must not drift to latest
    old = await service.get("fx")
    definition = await sqlite_store.get_server("fx")
    shutil.rmtree(tmp_path / "packages")  # a wiped disk / a new replica
    fresh = PackageService(sqlite_store, servers, installers(tmp_path, registry))
    assert await fresh.reconcile() == ["fx"]
    record = await fresh.get("fx")
    # Into the recorded directory: the shared record and definition stay valid on every
    # replica (another one may run from that path on its own disk), so neither is rewritten.
    assert record == old and await sqlite_store.get_server("fx") == definition
    assert await anyio.Path(record.install_dir).is_dir()
    assert await answer(pool, sqlite_store, "fx") == "1.9.0"
    leftover = Path(record.install_dir).parent / "i-20000101000000-dead00"  # a crashed attempt
    await anyio.Path(leftover).mkdir()
    assert await fresh.reconcile() == []  # nothing missing any more
    assert attempt_dirs(tmp_path, "fx") == [Path(record.install_dir)]
