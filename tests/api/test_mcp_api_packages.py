"""mcp-api's package answers and install bodies against the gateway, installing from the local
(hermetic) registry: ``{package}`` records, ``checkUpdates``, ``updates``, ``upgrade-all``
items, ``failOnWarning``, ``pipDependencies`` and mcp-api's command forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.installer.plan import spec_for
from mcp_gateway.migration.mapping import map_package
from tests.api.conftest import Gateway, MakeGateway
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import (
    EXTRA_NAME,
    NPM_NAME,
    PY_MODULE,
    PY_NAME,
    LocalRegistry,
    build_library_wheel,
)

__all__ = ["artifacts", "registry"]

# mcp-api's PackageInfo keys (its README, openapi-packages.json and compat measurements).
MCP_API_PACKAGE_KEYS = {
    "name", "version", "installPath", "installed", "lastUpgraded", "status", "runtime",
    "mcpServerId", "enabled", "venvPath", "pythonModule", "pythonArgs", "pipIndexUrl",
    "pipExtraIndexUrl",
}  # fmt: skip
UPDATE_KEYS = {"serverName", "currentVersion", "latestVersion", "updateAvailable"}
NODE_ENTRY = f"node_modules/{NPM_NAME}/index.js"
CANARY = "pipdep-token-canary-91c3"


@pytest.fixture
async def gw(make_gateway: MakeGateway, registry: LocalRegistry) -> AsyncIterator[Gateway]:
    installer = {"npm_registry": registry.npm_url, "pip_index_url": registry.index_url}
    async with make_gateway(installer=installer) as gateway:
        yield gateway


async def install(gw: Gateway, server: str, version: str, **fields: Any) -> httpx2.Response:
    body = {"name": NPM_NAME, "serverName": server, "version": version, **fields}
    return await gw.client.post("/packages/install", json=body, headers=gw.admin)


async def get(gw: Gateway, path: str, **params: str) -> dict[str, Any]:
    resp = await gw.client.get(path, params=params, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def tool_text(gw: Gateway, server: str) -> str:
    resp = await gw.call(gw.admin_key, server, "version")
    assert resp.status_code == 200, resp.text
    text: str = resp.json()["data"]["content"][0]["text"]
    return text


@pytest.mark.slow
@pytest.mark.anyio
async def test_package_records_have_mcp_api_keys_and_check_updates_adds_the_latest_version(
    gw: Gateway,
) -> None:
    resp = await install(gw, "fx", "1.9.0")
    assert resp.status_code == 200, resp.text
    assert MCP_API_PACKAGE_KEYS <= resp.json()["package"].keys()
    assert (resp.json()["package"]["mcpServerId"], resp.json()["server"]["name"]) == ("fx", "fx")

    (record,) = (await get(gw, "/packages"))["packages"]
    assert MCP_API_PACKAGE_KEYS <= record.keys()
    assert "latestVersion" not in record and "updateAvailable" not in record
    assert (
        record["installPath"] == record["installDir"]
        and await anyio.Path(record["installPath"]).is_dir()
    )
    assert record["installed"].endswith("Z")
    installed = datetime.fromisoformat(record["installed"].replace("Z", "+00:00"))
    assert installed.timestamp() == pytest.approx(record["installedAt"], abs=0.001)
    assert (record["name"], record["version"], record["status"], record["runtime"]) == (
        NPM_NAME, "1.9.0", "installed", "node",
    )  # fmt: skip
    assert (record["mcpServerId"], record["enabled"], record["lastUpgraded"]) == ("fx", True, None)
    assert (record["venvPath"], record["pythonModule"], record["pythonArgs"]) == (None, None, [])

    # checkUpdates=true: every record gains latestVersion/updateAvailable (the registry's
    # latest is 2.0.0), on the list, by-id and by-name alike
    checked = await get(gw, "/packages", checkUpdates="true")
    assert (checked["packages"][0]["latestVersion"], checked["packages"][0]["updateAvailable"]) == (
        "2.0.0",
        True,
    )
    for path in ("/packages/by-id/fx", f"/packages/by-name/{NPM_NAME}"):
        package = (await get(gw, path, checkUpdates="true"))["package"]
        assert (package["mcpServerId"], package["latestVersion"], package["updateAvailable"]) == (
            "fx", "2.0.0", True,
        ), path  # fmt: skip
    # by-name answers one package (mcp-api), and every install of the name (ours)
    by_name = await get(gw, f"/packages/by-name/{NPM_NAME}")
    assert by_name["package"]["mcpServerId"] == "fx" and "latestVersion" not in by_name["package"]
    assert [p["mcpServerId"] for p in by_name["packages"]] == ["fx"]

    # enabled follows the server; an upgrade stamps lastUpgraded and answers {package, server}
    assert (await gw.client.put("/packages/fx/disable", headers=gw.admin)).status_code == 200
    assert (await get(gw, "/packages/by-id/fx"))["package"]["enabled"] is False
    resp = await gw.client.put("/packages/fx/upgrade", json={"version": "1.10.0"}, headers=gw.admin)
    body = resp.json()
    assert (resp.status_code, body["package"]["version"], body["server"]["name"]) == (
        200, "1.10.0", "fx",
    )  # fmt: skip
    assert body["package"]["lastUpgraded"].endswith("Z") and body["package"]["enabled"] is False
    assert "latestVersion" not in body["package"]  # a pinned version: the registry not asked
    assert body["package"]["installed"] == record["installed"]


@pytest.mark.anyio
async def test_updates_name_a_server_or_a_package_and_an_unknown_name_gives_none(
    gw: Gateway,
) -> None:
    for server, version in (("fx", "1.9.0"), ("fy", "1.10.0")):
        assert (await install(gw, server, version, enabled=False)).status_code == 200
    record = PackageRecord("gone", "mcpgw-not-on-registry", PackageRuntime.NODE, "1.0.0")
    await gw.runtime.store.put_package(record)

    updates = {u["serverName"]: u for u in (await get(gw, "/packages/updates"))["updates"]}
    assert all(UPDATE_KEYS <= u.keys() for u in updates.values())
    assert {k: updates["fx"][k] for k in UPDATE_KEYS} == {
        "serverName": "fx",
        "currentVersion": "1.9.0",
        "latestVersion": "2.0.0",
        "updateAvailable": True,
    }
    # a registry that does not know the package: mcp-api's "unknown", and our error says why
    gone = updates["gone"]
    assert (gone["latestVersion"], gone["updateAvailable"]) == ("unknown", False)
    assert "not on the registry" in gone["error"]

    def servers(body: dict[str, Any]) -> list[str]:
        return [u["serverName"] for u in body["updates"]]

    assert sorted(servers(await get(gw, "/packages/updates", name=""))) == ["fx", "fy", "gone"]
    assert servers(await get(gw, "/packages/updates", name="fy")) == ["fy"]  # a server name
    assert servers(await get(gw, "/packages/updates", name=NPM_NAME)) == ["fx", "fy"]
    for unknown in ("nosuch", "@scope/nosuch"):
        assert await get(gw, "/packages/updates", name=unknown) == {"success": True, "updates": []}


@pytest.mark.anyio
async def test_upgrade_all_items_say_success_and_carry_an_error_only_on_failure(
    gw: Gateway, registry: LocalRegistry
) -> None:
    registry.npm[NPM_NAME]["dist-tags"]["latest"] = "1.10.0"
    for server, version in (("fx", "1.9.0"), ("fy", "1.10.0")):
        assert (await install(gw, server, version, enabled=False)).status_code == 200
    record = PackageRecord("gone", "mcpgw-not-on-registry", PackageRuntime.NODE, "1.0.0")
    await gw.runtime.store.put_package(record)

    resp = await gw.client.put("/packages/upgrade-all", headers=gw.admin)
    assert resp.status_code == 200 and resp.json()["success"] is True
    results = {r["serverName"]: r for r in resp.json()["results"]}
    assert (results["fx"]["success"], results["fx"]["status"]) == (True, "upgraded")
    assert (results["fy"]["success"], results["fy"]["status"]) == (True, "up_to_date")
    assert "error" not in results["fx"] and "error" not in results["fy"]
    assert results["gone"]["success"] is False and "not on the registry" in results["gone"]["error"]
    # mcp-api's empty version is the latest, too
    assert (await install(gw, "fz", "1.9.0", enabled=False)).status_code == 200
    resp = await gw.client.put("/packages/fz/upgrade", json={"version": ""}, headers=gw.admin)
    package = resp.json()["package"]
    assert (resp.status_code, package["version"]) == (200, "1.10.0"), resp.text
    # it asked the registry: mcp-api's latestVersion/updateAvailable come with the package
    assert (package["latestVersion"], package["updateAvailable"]) == ("1.10.0", False)


@pytest.mark.slow
@pytest.mark.anyio
async def test_install_with_command_node_keeps_the_entry_script_and_maps_mcp_api_paths(
    gw: Gateway,
) -> None:
    # mcp-api: "command": "node" with plain args runs the package's entry script, args after it
    resp = await install(gw, "fx", "1.9.0", command="node", args=["--tag=x"])
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert server["command"] == "node" and server["args"][0].endswith(NODE_ENTRY)
    assert server["args"][1:] == ["--tag=x"]
    assert await tool_text(gw, "fx") == "1.9.0 --tag=x"
    # its README's form: the script in mcp-api's directory layout, pointed into this install
    readme_script = f"./packages/{NPM_NAME}/node_modules/{NPM_NAME}/index.js"
    resp = await install(gw, "fs", "1.9.0", command="node", args=[readme_script, "/data"])
    assert resp.status_code == 200, resp.text
    install_dir = resp.json()["package"]["installPath"]
    assert resp.json()["server"]["args"] == [f"{install_dir}/{NODE_ENTRY}", "/data"]
    assert await tool_text(gw, "fs") == "1.9.0 /data"
    # both follow an upgrade into the new install directory
    for name, suffix in (("fx", "--tag=x"), ("fs", "/data")):
        resp = await gw.client.put(
            f"/packages/{name}/upgrade", json={"version": "1.10.0"}, headers=gw.admin
        )
        assert resp.status_code == 200, resp.text
        assert await tool_text(gw, name) == f"1.10.0 {suffix}"


@pytest.mark.anyio
async def test_fail_on_warning_fails_an_install_npm_warns_about_and_keeps_nothing(
    gw: Gateway, registry: LocalRegistry, tmp_path: Path
) -> None:
    registry.npm[NPM_NAME]["versions"]["1.9.0"]["deprecated"] = "please use 1.10.0"
    resp = await install(gw, "strict", "1.9.0", failOnWarning=True, enabled=False)
    body = resp.json()
    assert (resp.status_code, body["code"]) == (502, "install_failed"), resp.text
    assert "failOnWarning" in body["error"] and "deprecated" in body["error"]
    assert (await gw.client.get("/packages/by-id/strict", headers=gw.admin)).status_code == 404
    assert (await gw.client.get("/mcp/servers/strict", headers=gw.admin)).status_code == 404
    assert not list((tmp_path / "packages" / "node").glob("strict*"))
    # without it the warning is only a warning
    resp = await install(gw, "lenient", "1.9.0", enabled=False)
    assert resp.status_code == 200, resp.text
    # it applies to the install only (as in mcp-api): a version deprecated later still upgrades
    assert (await install(gw, "later", "1.10.0", failOnWarning=True, enabled=False)).is_success
    registry.npm[NPM_NAME]["versions"]["2.0.0"]["deprecated"] = "deprecated after the install"
    resp = await gw.client.put(
        "/packages/later/upgrade", json={"version": "2.0.0"}, headers=gw.admin
    )
    assert (resp.status_code, resp.json()["package"]["version"]) == (200, "2.0.0"), resp.text


@pytest.mark.slow
@pytest.mark.anyio
async def test_pip_dependencies_are_installed_with_the_package_and_kept_for_upgrades(
    gw: Gateway, registry: LocalRegistry, tmp_path: Path
) -> None:
    for version in ("1.0.0", "2.0.0"):
        registry.add_wheel(build_library_wheel(tmp_path / "extra", version), EXTRA_NAME)
    body = {
        "name": PY_NAME,
        "serverName": "pyk",
        "runtime": "python",
        "version": "0.9.0",
        "pythonModule": PY_MODULE,
        # mcp-api's README form: a console script in its venv (<PYTHON_VENV_DIR>/<serverName>)
        "command": f"/app/packages/python/pyk/bin/{PY_NAME}",
        "pipDependencies": [f"{EXTRA_NAME}<2"],
    }
    resp = await gw.client.post("/packages/install", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    package, server = resp.json()["package"], resp.json()["server"]
    assert package["pipDependencies"] == [f"{EXTRA_NAME}<2"]
    assert (package["venvPath"], package["pythonModule"]) == (package["installPath"], PY_MODULE)
    assert server["command"] == f"{package['installPath']}/bin/{PY_NAME}"
    assert await tool_text(gw, "pyk") == "0.9.0"

    def extra_versions(install_dir: str) -> list[str]:
        found = Path(install_dir).glob("lib/python*/site-packages/mcpgw_extra_dep-*.dist-info")
        return [p.name.removesuffix(".dist-info").split("-")[-1] for p in found]

    assert extra_versions(package["installPath"]) == ["1.0.0"]
    resp = await gw.client.put(
        "/packages/pyk/upgrade", json={"version": "0.10.0"}, headers=gw.admin
    )
    assert resp.status_code == 200, resp.text
    upgraded = resp.json()["package"]
    assert upgraded["installPath"] != package["installPath"]
    assert extra_versions(upgraded["installPath"]) == ["1.0.0"]  # the pin came along
    assert await tool_text(gw, "pyk") == "0.10.0"

    # mcp-api runs a command with the venv first on PATH: a bare "python" is the venv's
    body = {**body, "serverName": "pyb", "command": "python", "args": ["-m", PY_MODULE, "b"]}
    del body["pipDependencies"]
    resp = await gw.client.post("/packages/install", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    package, server = resp.json()["package"], resp.json()["server"]
    assert server["command"] == f"{package['installPath']}/bin/python"
    assert await tool_text(gw, "pyb") == "0.9.0 b"


@pytest.mark.anyio
async def test_install_fields_of_the_wrong_kind_are_a_400_that_echoes_nothing(
    gw: Gateway,
) -> None:
    python = {"name": PY_NAME, "serverName": "p", "runtime": "python", "pythonModule": PY_MODULE}
    bad: list[tuple[dict[str, Any], str]] = [
        ({**python, "pipDependencies": [f"x @ https://ci:{CANARY}@host/x.whl"]}, "pipDependencies"),
        ({**python, "pipDependencies": ["--index-url=https://evil/simple"]}, "pipDependencies"),
        ({**python, "pipDependencies": "fastmcp<3"}, "pipDependencies"),
        ({"name": NPM_NAME, "serverName": "n", "pipDependencies": ["fastmcp<3"]}, "Python"),
        ({"name": NPM_NAME, "serverName": "n", "failOnWarning": "maybe"}, "failOnWarning"),
    ]
    for body, named in bad:
        resp = await gw.client.post("/packages/install", json=body, headers=gw.admin)
        assert (resp.status_code, resp.json()["code"]) == (400, "invalid_request"), body
        assert named in resp.text, body
        assert CANARY not in resp.text
    assert (await get(gw, "/packages"))["packages"] == []


@pytest.mark.anyio
async def test_a_package_imported_from_mcp_api_shows_its_own_fields(any_gateway: Gateway) -> None:
    gateway = any_gateway  # both stores keep the record's extra fields
    doc = {
        "name": "klaviyo-mcp-server",
        "version": "0.3.0",
        "installPath": "packages/python/klaviyo",
        "installed": datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        "lastUpgraded": datetime(2025, 4, 2, 8, 30, tzinfo=UTC),
        "status": "installed",
        "runtime": "python",
        "mcpServerId": "klaviyo",
        "enabled": True,
        "venvPath": "packages/python/klaviyo",
        "pythonModule": "klaviyo_mcp_server",
        "pythonArgs": ["--read-only"],
        "pipDependencies": ["fastmcp<3"],
    }
    await gateway.runtime.store.put_package(map_package(doc))
    package = (await get(gateway, "/packages/by-id/klaviyo"))["package"]
    assert (package["installed"], package["lastUpgraded"]) == (
        "2025-03-01T12:00:00.000Z",
        "2025-04-02T08:30:00.000Z",
    )
    assert (package["pythonArgs"], package["pipDependencies"]) == (["--read-only"], ["fastmcp<3"])
    assert package["enabled"] is False  # no server of that name (yet) in this gateway
    # the re-install at the next start (and every upgrade) installs the pins again
    record = await gateway.runtime.store.get_package("klaviyo")
    assert record is not None and spec_for(record, None).pip_dependencies == ("fastmcp<3",)


@pytest.mark.anyio
async def test_readme_install_bodies_for_secrets_and_a_streamable_http_package(gw: Gateway) -> None:
    # its Node.js stdio example: secretName, env and "command": "node" with option args
    resp = await install(
        gw, "opts", "1.9.0", command="node", args=["--option1", "--option2"],
        env={"NODE_ENV": "production"}, secretName="API_KEY", enabled=False, failOnWarning=False,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert (server["secretNames"], server["env"]) == (["API_KEY"], {"NODE_ENV": "production"})
    assert server["args"][0].endswith(NODE_ENTRY) and server["args"][1:] == [
        "--option1",
        "--option2",
    ]
    assert "warnings" not in resp.json()
    # its Streamable HTTP example: the package is installed, the server is the remote URL
    resp = await install(
        gw, "remote-server", "1.9.0", transportType="streamable_http",
        url="http://127.0.0.1:9/mcp", headers={"X-Custom-Header": "value"}, enabled=False,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    server, package = resp.json()["server"], resp.json()["package"]
    assert (server["transportType"], server["url"]) == ("streamable_http", "http://127.0.0.1:9/mcp")
    assert server["headers"] == {"X-Custom-Header": "value"}
    assert (package["mcpServerId"], package["version"]) == ("remote-server", "1.9.0")


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.anyio
async def test_readme_custom_command_example_installs_from_npm(make_gateway: MakeGateway) -> None:
    # mcp-api README's "Node.js Package (Custom Command)", word for word but the directory
    name = "@modelcontextprotocol/server-filesystem"
    try:
        async with httpx2.AsyncClient(timeout=10) as client:
            url = "https://registry.npmjs.org/@modelcontextprotocol%2fserver-filesystem"
            (await client.get(url)).raise_for_status()
    except httpx2.HTTPError as exc:
        pytest.skip(f"registry unreachable: {type(exc).__name__}")
    script = f"./packages/modelcontextprotocol-server-filesystem/node_modules/{name}/dist/index.js"
    body = {
        "name": name,
        "serverName": "filesystem",
        "command": "node",
        "args": [script, "/tmp"],
        "env": {"NODE_ENV": "production"},
    }
    async with make_gateway(installer={"install_timeout": 300}) as gw:
        resp = await gw.client.post("/packages/install", json=body, headers=gw.admin)
        assert resp.status_code == 200, resp.text
        package, server = resp.json()["package"], resp.json()["server"]
        assert server["args"] == [
            f"{package['installPath']}/node_modules/{name}/dist/index.js",
            "/tmp",
        ]
        assert server["status"] == "connected" and server["toolsList"]
