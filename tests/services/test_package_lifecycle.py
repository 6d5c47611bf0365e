"""Package installs that fail, upgrades that keep edits, and removing package-backed servers:
the real installers, ServerService, pool and SQLite store (see package_setup)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from mcp_gateway.domain.records import PackageRuntime, StoredSecret
from mcp_gateway.errors import InstallFailed, InvalidRequest
from mcp_gateway.services.packages import InstallRequest, PackageService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME, PY_NAME, LocalRegistry
from tests.services.package_setup import answer, attempt_dirs, installers, pool, servers, service

__all__ = ["artifacts", "pool", "registry", "servers", "service"]
pytestmark = pytest.mark.anyio

CANARY = "fixture-token-canary-91c4e"


async def _nothing_left(store: Store, pool: UpstreamPool, tmp_path: Path, name: str) -> None:
    assert await store.get_package(name) is None
    assert await store.get_server(name) is None
    assert name not in pool.statuses()
    assert [p.name for p in (tmp_path / "packages").glob(f"*/{name}")] == []


@pytest.mark.parametrize(
    ("runtime", "version", "cause"),
    [
        (PackageRuntime.NODE, "2.0.0", "Error: Cannot find module 'mcpgw-missing-dependency'"),
        (
            PackageRuntime.PYTHON,
            "1.0.0",
            "ModuleNotFoundError: No module named 'mcpgw_missing_dependency'",
        ),
    ],
)
async def test_install_of_a_server_that_dies_at_start_fails_with_its_stderr_and_leaves_nothing(
    service: PackageService,
    sqlite_store: Store,
    pool: UpstreamPool,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    runtime: PackageRuntime,
    version: str,
    cause: str,
) -> None:
    request = InstallRequest(
        NPM_NAME, "dies", runtime=runtime, version=version, env={"FIXTURE_TOKEN": CANARY}
    )
    with caplog.at_level(logging.WARNING, "mcp_gateway.packages"):
        with pytest.raises(InstallFailed) as exc:
            await service.install(request)
    error = exc.value
    assert f"{NPM_NAME} {version} installed: server 'dies' did not start" in error.message
    assert error.message.endswith(f"its stderr says: {cause}")
    assert "--- server stderr" in error.log and "starting with token=***" in error.log
    assert "--- installer output ---" in error.log
    assert cause in caplog.text  # the gateway log says why too
    for text in (error.message, error.log, caplog.text):
        assert CANARY not in text
    await _nothing_left(sqlite_store, pool, tmp_path, "dies")


async def test_a_custom_command_missing_after_install_is_refused_naming_it(
    service: PackageService, sqlite_store: Store, pool: UpstreamPool, tmp_path: Path
) -> None:
    request = InstallRequest(NPM_NAME, "nocmd", version="1.9.0", command="{installDir}/bin/nope")
    with pytest.raises(InvalidRequest, match=r"command '.*/bin/nope' not found") as exc:
        await service.install(request)
    assert "{installDir}" not in exc.value.message  # the command as it was looked up
    await _nothing_left(sqlite_store, pool, tmp_path, "nocmd")


async def test_upgrade_keeps_args_env_cwd_and_settings_set_with_servers_update(
    service: PackageService, servers: ServerService, pool: UpstreamPool, sqlite_store: Store
) -> None:
    await service.install(InstallRequest(NPM_NAME, "fx", version="1.9.0"))
    installed = await servers.config("fx")
    old_dir = (await service.get("fx")).install_dir
    edits = {
        "args": (*installed.args, "--added"),
        "env": {"EXTRA": "1"},
        "cwd": old_dir,
        "call_timeout": 12.0,
    }
    await servers.update("fx", edits)
    assert await answer(pool, sqlite_store, "fx") == "1.9.0 --added"
    await service.upgrade("fx", "1.10.0")
    assert await answer(pool, sqlite_store, "fx") == "1.10.0 --added"
    new_dir = (await service.get("fx")).install_dir
    upgraded = await servers.config("fx")
    assert upgraded.args == (installed.args[0].replace(old_dir, new_dir), "--added")
    assert (upgraded.env, upgraded.cwd, upgraded.call_timeout) == ({"EXTRA": "1"}, new_dir, 12.0)


async def test_upgrade_of_an_unedited_python_server_derives_its_command_again(
    service: PackageService, servers: ServerService, pool: UpstreamPool, sqlite_store: Store
) -> None:
    request = InstallRequest(
        PY_NAME, "py", runtime=PackageRuntime.PYTHON, version="0.9.0", python_args=("--x",)
    )
    await service.install(request)
    await service.upgrade("py", "0.10.0")
    assert await answer(pool, sqlite_store, "py") == "0.10.0 --x"
    command = (await servers.config("py")).command
    assert command is not None and command.startswith((await service.get("py")).install_dir)


async def test_removing_a_package_backed_server_removes_its_package_unless_kept(
    service: PackageService,
    sqlite_store: Store,
    pool: UpstreamPool,
    registry: LocalRegistry,
    servers: ServerService,
    tmp_path: Path,
) -> None:
    for name in ("gone", "kept"):
        await service.install(InstallRequest(NPM_NAME, name, version="1.9.0"))
        await sqlite_store.put_secret(StoredSecret("alice", name, "TOKEN", b"\x01ct"))
    removal = await service.remove_server("gone")
    assert removal.package_removed and removal.package is not None
    assert removal.package.version == "1.9.0"
    await _nothing_left(sqlite_store, pool, tmp_path, "gone")
    assert await sqlite_store.list_secret_names("alice", "gone") == []

    kept = await service.remove_server("kept", keep_package=True)
    assert not kept.package_removed and kept.package is not None
    assert await sqlite_store.get_server("kept") is None and "kept" not in pool.statuses()
    record = await service.get("kept")
    assert await anyio.Path(record.install_dir).is_dir()
    # a kept package is not registered again by reconcile or upgrade...
    fresh = PackageService(sqlite_store, servers, installers(tmp_path, registry))
    assert await fresh.reconcile() == []
    await service.upgrade("kept", "1.10.0")
    assert await sqlite_store.get_server("kept") is None
    # ...and uninstalling it later removes what is left
    await service.uninstall("kept")
    assert attempt_dirs(tmp_path, "kept") == [] and await sqlite_store.get_package("kept") is None

    again = await service.remove_server("gone")  # idempotent: already gone
    assert not again.existed and again.package is None


async def test_an_install_the_registry_cannot_satisfy_leaves_no_directory(
    service: PackageService, sqlite_store: Store, pool: UpstreamPool, tmp_path: Path
) -> None:
    with pytest.raises(InstallFailed, match="npm install"):
        await service.install(InstallRequest(NPM_NAME, "nover", version="9.9.9"))
    await _nothing_left(sqlite_store, pool, tmp_path, "nover")
