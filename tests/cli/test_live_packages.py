"""``mcp-gateway packages`` against a live gateway installing from a local (hermetic) registry."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from mcp_gateway.cli.main import app
from tests.cli.live import as_json, close_stderr, ok
from tests.gateway_process import GatewayProcess, gateway_env
from tests.installer.fixtures import artifacts
from tests.installer.local_registry import (
    EXTRA_NAME,
    NPM_NAME,
    PY_NAME,
    Artifacts,
    build_library_wheel,
    start_registry,
)

__all__ = ["artifacts"]

ADMIN_KEY = "mgw-cli-packages-admin-key-0123456789"


@pytest.fixture(scope="module")
def live(
    artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("cli-packages")
    registry = start_registry(artifacts, root / "registry")
    for version in ("1.0.0", "2.0.0"):  # a library for --pip-dependency
        registry.add_wheel(build_library_wheel(root / "extra", version), EXTRA_NAME)
    registry.npm[NPM_NAME]["versions"]["1.9.0"]["deprecated"] = "npm warns about this one"
    env = gateway_env(
        root / "gateway",
        MCPGW_ADMIN_API_KEY=ADMIN_KEY,
        MCPGW_NPM_REGISTRY=registry.npm_url,
        MCPGW_PIP_INDEX_URL=registry.index_url,
    )
    try:
        with GatewayProcess(env) as process:
            yield process
            process.terminate()
        close_stderr(process)
    finally:
        registry.stop()


def run(live: GatewayProcess, *args: str) -> Result:
    env = {"MCPGW_URL": live.url, "MCPGW_API_KEY": ADMIN_KEY}
    return CliRunner(env=env).invoke(app, list(args))


@pytest.mark.slow
def test_install_list_upgrade_and_remove_a_python_package(live: GatewayProcess) -> None:
    installed = run(live, "packages", "install", PY_NAME, "-r", "python", "-v", "0.9.0", "-s", "py")
    assert "installed mcpgw-fixture-server 0.9.0 as server py: connected" in ok(installed).stdout
    (package,) = as_json(run(live, "packages", "list", "--json"))
    assert (package["serverName"], package["version"], package["runtime"]) == (
        "py",
        "0.9.0",
        "python",
    )
    (update,) = as_json(run(live, "packages", "updates", PY_NAME, "--json"))
    assert update["latestVersion"] == "1.0.0" and update["updateAvailable"] is True
    checked = as_json(run(live, "packages", "list", "--check-updates", "--json"))
    assert checked[0]["latestVersion"] == "1.0.0"
    upgraded = run(live, "packages", "upgrade", "py", "--version", "0.10.0")
    assert "0.9.0 -> 0.10.0 (upgraded)" in ok(upgraded).stdout
    assert ok(run(live, "tools", "call", "py", "version")).stdout.startswith("0.10.0")
    assert "removed package of server py" in ok(run(live, "packages", "remove", "py")).stdout
    assert as_json(run(live, "packages", "list", "--json")) == []


def test_failed_install_exits_1_and_prints_the_installer_log(live: GatewayProcess) -> None:
    result = run(live, "packages", "install", PY_NAME, "-r", "python", "-v", "7.7.7", "-s", "bad")
    assert result.exit_code == 1
    assert "install_failed" in result.stderr
    log = result.stderr.split("--- install log ---", 1)[1]
    assert "7.7.7" in log and "--- end of install log ---" in log
    assert run(live, "servers", "show", "bad").exit_code == 1  # nothing left registered


def test_failed_upgrade_exits_1_and_the_old_version_keeps_serving(live: GatewayProcess) -> None:
    ok(run(live, "packages", "install", PY_NAME, "-r", "python", "-v", "0.9.0", "-s", "keep"))
    # 1.0.0 is a broken build: it installs, then exits at once.
    result = run(live, "packages", "upgrade", "keep")
    assert result.exit_code == 1
    assert "did not start" in result.stderr and "--- install log ---" in result.stderr
    assert "No module named 'mcpgw_missing_dependency'" in result.stderr  # why
    assert ok(run(live, "tools", "call", "keep", "version")).stdout.startswith("0.9.0")
    outcomes = run(live, "packages", "upgrade-all", "--json")
    assert outcomes.exit_code == 1
    assert [(o["serverName"], o["status"]) for o in json.loads(outcomes.stdout)] == [
        ("keep", "failed")
    ]


def test_install_of_a_server_that_dies_at_start_exits_1_saying_why(live: GatewayProcess) -> None:
    result = run(live, "packages", "install", PY_NAME, "-r", "python", "-v", "1.0.0", "-s", "dies")
    assert result.exit_code == 1
    assert "install_failed" in result.stderr and "did not start" in result.stderr
    assert "ModuleNotFoundError: No module named 'mcpgw_missing_dependency'" in result.stderr
    assert run(live, "servers", "show", "dies").exit_code == 1  # nothing left registered
    assert "dies" not in [p["serverName"] for p in as_json(run(live, "packages", "list", "--json"))]


def test_servers_remove_takes_the_package_along_unless_kept(live: GatewayProcess) -> None:
    for name in ("rm-all", "rm-keep"):
        ok(run(live, "packages", "install", PY_NAME, "-r", "python", "-v", "0.9.0", "-s", name))
    removed = ok(run(live, "servers", "remove", "rm-all", "--yes")).stdout
    assert f"removed server rm-all and its package {PY_NAME} 0.9.0" in removed
    kept = as_json(run(live, "servers", "remove", "rm-keep", "--yes", "--keep-package", "--json"))
    assert kept["package"]["removed"] is False
    listed = [p["serverName"] for p in as_json(run(live, "packages", "list", "--json"))]
    assert "rm-keep" in listed and "rm-all" not in listed


def test_install_takes_pip_dependencies_and_fail_on_warning(live: GatewayProcess) -> None:
    args = ["-r", "python", "-v", "0.9.0", "-s", "pydep"]
    ok(run(live, "packages", "install", PY_NAME, *args, "--pip-dependency", f"{EXTRA_NAME}<2"))
    (package,) = [
        p for p in as_json(run(live, "packages", "list", "--json")) if p["serverName"] == "pydep"
    ]
    assert package["pipDependencies"] == [f"{EXTRA_NAME}<2"]
    # npm warns that 1.9.0 is deprecated: only a warning unless --fail-on-warning
    strict = run(live, "packages", "install", NPM_NAME, "-v", "1.9.0", "-s", "strict",
                 "--fail-on-warning")  # fmt: skip
    assert strict.exit_code == 1 and "failOnWarning" in strict.stderr
    ok(run(live, "packages", "install", NPM_NAME, "-v", "1.9.0", "-s", "lenient"))
