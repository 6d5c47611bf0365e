"""mcp-api's package controller testing plan (mcp-api-packages-testing-plan.md) and its README's
package section, replayed against a gateway process that installs from a local, hermetic npm
registry and package index (tests/installer/local_registry.py); the answers are checked for
mcp-api's shapes and keys (mcp-api-compat.md, "Answers that differ").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.compat.conftest import (
    McpApiClient,
    assert_error,
    assert_server_shape,
    start_gateway,
    unique,
)
from tests.installer.fixtures import artifacts
from tests.installer.local_registry import NPM_NAME, PY_MODULE, PY_NAME, Artifacts, start_registry

__all__ = ["artifacts"]

pytestmark = pytest.mark.slow  # real npm / pip installs

# mcp-api's package record (mcp-api-compat.md; README "List Installed Packages").
PACKAGE_KEYS = {
    "name", "version", "installPath", "installed", "lastUpgraded", "status", "runtime",
    "mcpServerId", "enabled", "venvPath", "pythonModule", "pythonArgs", "pipIndexUrl",
    "pipExtraIndexUrl",
}  # fmt: skip
UPDATE_KEYS = {"serverName", "currentVersion", "latestVersion", "updateAvailable"}


@pytest.fixture(scope="module")
def packaged(
    artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[McpApiClient]:
    """A gateway (auth none) whose installer uses the local registry; npm 1.9.0 and 1.10.0,
    wheels 0.9.0 and 0.10.0 are good (the registry's highest versions are broken on purpose,
    so they are not published here)."""
    root = tmp_path_factory.mktemp("compat-registry")
    registry = start_registry(
        artifacts, root, npm_versions=("1.9.0", "1.10.0"), py_versions=("0.9.0", "0.10.0")
    )
    process = start_gateway(
        tmp_path_factory.mktemp("compat-packages"),
        "sqlite",
        MCPGW_NPM_REGISTRY=registry.npm_url,
        MCPGW_PIP_INDEX_URL=registry.index_url,
    )
    client = McpApiClient(process)
    try:
        yield client
    finally:
        client.close()
        process.terminate()
        registry.stop()


def _install(client: McpApiClient, **body: Any) -> dict[str, Any]:
    resp = client.post("/packages/install", body)
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    assert answer["success"] is True
    return answer


def _npm(client: McpApiClient, version: str = "1.9.0") -> str:
    server = unique("openai")
    _install(client, name=NPM_NAME, serverName=server, version=version, enabled=True)
    client.wait_status(server, "connected")
    return server


def assert_package_shape(package: dict[str, Any]) -> None:
    missing = PACKAGE_KEYS - package.keys()
    assert not missing, f"missing mcp-api keys {sorted(missing)}"
    assert isinstance(package["installed"], str) and package["status"] == "installed"


# -- 1. install -----------------------------------------------------------------------------


def test_install_answers_success_with_package_and_server(packaged: McpApiClient) -> None:
    server = unique("openai")
    body = {"name": NPM_NAME, "serverName": server, "version": "1.9.0", "enabled": True}
    answer = _install(packaged, **body)
    assert answer["server"]["name"] == server and answer["server"]["enabled"] is True
    assert_server_shape(answer["server"])
    package = answer["package"]
    assert (package["name"], package["version"], package["mcpServerId"]) == (
        NPM_NAME, "1.9.0", server
    )  # fmt: skip


def test_install_answers_mcp_api_package_record(packaged: McpApiClient) -> None:
    server = unique("openai")
    answer = _install(packaged, name=NPM_NAME, serverName=server, version="1.9.0", enabled=True)
    assert_package_shape(answer["package"])
    package = answer["package"]
    assert (package["mcpServerId"], package["enabled"]) == (server, True)
    assert package["installPath"] and package.get("lastUpgraded") is None


def test_install_without_name_or_server_name_is_a_400(packaged: McpApiClient) -> None:
    for body in ({"name": NPM_NAME}, {"serverName": "openai"}, {}):
        body_ = assert_error(packaged.post("/packages/install", body), 400, "invalid_request")
        assert "name" in body_["error"].lower()


def test_install_a_python_package_with_the_readme_fields(packaged: McpApiClient) -> None:
    server = unique("python-mcp")
    answer = _install(
        packaged,
        name=PY_NAME,
        serverName=server,
        version="0.9.0",
        runtime="python",
        pythonModule=PY_MODULE,
        pythonArgs=[],
        enabled=True,
    )
    package = answer["package"]
    assert (package["runtime"], package["pythonModule"]) == ("python", PY_MODULE)
    packaged.wait_status(server, "connected")


# -- 2.-4. list, by-name, by-id ---------------------------------------------------------------


def test_list_packages_answers_wrapped_records(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    resp = packaged.get("/packages")
    assert resp.status_code == 200 and resp.json()["success"] is True
    mine = [p for p in resp.json()["packages"] if p["mcpServerId"] == server]
    assert len(mine) == 1 and mine[0]["name"] == NPM_NAME


def test_list_packages_with_check_updates_adds_latest_version_to_each_record(
    packaged: McpApiClient,
) -> None:
    server = _npm(packaged)
    resp = packaged.get("/packages", checkUpdates="true")
    assert resp.status_code == 200
    (mine,) = [p for p in resp.json()["packages"] if p["mcpServerId"] == server]
    assert_package_shape(mine)
    assert (mine["latestVersion"], mine["updateAvailable"]) == ("1.10.0", True)


def test_get_package_by_id_answers_one_package(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    resp = packaged.get(f"/packages/by-id/{server}")
    assert resp.status_code == 200
    assert resp.json()["package"]["mcpServerId"] == server


def test_get_package_by_name_answers_one_package_record(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    resp = packaged.get(f"/packages/by-name/{NPM_NAME}", checkUpdates="true")
    assert resp.status_code == 200, resp.text
    package = resp.json()["package"]
    assert isinstance(package, dict) and package["name"] == NPM_NAME
    assert_package_shape(package)
    assert "latestVersion" in package and "updateAvailable" in package
    assert server


def test_unknown_packages_are_a_404(packaged: McpApiClient) -> None:
    assert_error(packaged.get("/packages/by-name/openai-mcp"), 404, "package_not_found")
    assert_error(packaged.get("/packages/by-id/openai"), 404, "package_not_found")
    assert_error(packaged.put("/packages/openai/upgrade", {"version": "1.1.0"}), 404,
                 "package_not_found")  # fmt: skip


# -- 5. uninstall -----------------------------------------------------------------------------


def test_uninstall_answers_success_and_removes_the_server(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    for _ in range(2):  # idempotent (mcp-api: 500 "Package ... not found" the second time)
        resp = packaged.delete(f"/packages/{server}")
        assert resp.status_code == 200 and resp.json()["success"] is True
    assert_error(packaged.get(f"/mcp/servers/{server}"), 404, "server_not_found")


# -- 6./7. enable, disable --------------------------------------------------------------------


def test_disable_and_enable_a_package_answer_its_server(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    resp = packaged.put(f"/packages/{server}/disable")
    assert resp.status_code == 200, resp.text
    view = resp.json()["server"]
    assert (view["name"], view["status"], view["enabled"]) == (server, "disconnected", False)
    resp = packaged.put(f"/packages/{server}/enable")
    assert resp.status_code == 200 and resp.json()["server"]["enabled"] is True
    packaged.wait_status(server, "connected")


def test_enable_or_disable_an_unknown_package_is_a_404(packaged: McpApiClient) -> None:
    for action in ("enable", "disable"):
        assert_error(packaged.put(f"/packages/openai/{action}"), 404, "package_not_found")


# -- 8. updates -------------------------------------------------------------------------------


def test_updates_for_a_server_name_answer_mcp_api_items(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    resp = packaged.get("/packages/updates", name=server)
    assert resp.status_code == 200, resp.text
    (item,) = resp.json()["updates"]
    assert UPDATE_KEYS <= item.keys()
    assert (item["serverName"], item["currentVersion"], item["latestVersion"]) == (
        server, "1.9.0", "1.10.0"
    )  # fmt: skip
    assert item["updateAvailable"] is True


def test_updates_for_an_unknown_name_are_an_empty_list(packaged: McpApiClient) -> None:
    resp = packaged.get("/packages/updates", name="openai")
    assert resp.status_code == 200 and resp.json() == {"success": True, "updates": []}


# -- 9./10. upgrade, upgrade-all --------------------------------------------------------------


def test_upgrade_answers_package_and_server(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    resp = packaged.put(f"/packages/{server}/upgrade", {"version": "1.10.0"})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["success"] is True and answer["package"]["version"] == "1.10.0"
    assert answer["server"]["name"] == server


def test_upgrade_answers_mcp_api_package_record(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    answer = packaged.put(f"/packages/{server}/upgrade", {"version": "1.10.0"}).json()
    assert_package_shape(answer["package"])
    assert answer["package"]["lastUpgraded"]
    assert_server_shape(answer["server"])


def test_upgrade_all_answers_one_result_per_server(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    resp = packaged.put("/packages/upgrade-all")
    assert resp.status_code == 200 and resp.json()["success"] is True, resp.text
    assert server in {r["serverName"] for r in resp.json()["results"]}


def test_upgrade_all_results_carry_success_and_error(packaged: McpApiClient) -> None:
    server = _npm(packaged)
    resp = packaged.put("/packages/upgrade-all")
    results = {r["serverName"]: r for r in resp.json()["results"]}
    assert results[server]["success"] is True
    assert all(isinstance(r["success"], bool) for r in results.values())
    assert all("error" in r for r in results.values() if r["success"] is False)


# -- README install examples -------------------------------------------------------------------


def test_install_body_fields_of_the_readme_are_accepted_without_warnings(
    packaged: McpApiClient,
) -> None:
    server = unique("unique-server-name")
    answer = _install(
        packaged,
        name=NPM_NAME,
        version="1.9.0",
        serverName=server,
        transportType="stdio",
        env={"NODE_ENV": "production"},
        secretName="API_KEY",
        enabled=True,
        failOnWarning=False,
    )
    assert "warnings" not in answer, answer.get("warnings")
    assert answer["server"]["secretNames"] == ["API_KEY"]
    assert answer["server"]["env"] == {"NODE_ENV": "production"}


def test_install_with_command_node_and_args_keeps_the_entry_script(
    packaged: McpApiClient,
) -> None:
    server = unique("filesystem")
    answer = _install(
        packaged, name=NPM_NAME, version="1.9.0", serverName=server, command="node",
        args=["--flag-for-the-server"],
    )  # fmt: skip
    args = answer["server"]["args"]
    assert args[-1] == "--flag-for-the-server" and len(args) >= 2  # entry script first
    packaged.wait_status(server, "connected")
