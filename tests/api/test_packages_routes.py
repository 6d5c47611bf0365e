"""/packages routes (and deleting a package-backed server): admin-only, listing, 404s,
validation; installs from the local (hermetic) registry."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest

from mcp_gateway.domain.names import server_slug
from mcp_gateway.domain.records import (
    PackageRecord,
    PackageRuntime,
    StoredOAuthTokens,
    StoredSecret,
    UpstreamSession,
)
from tests.api.conftest import Gateway, MakeGateway
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME, LocalRegistry

__all__ = ["artifacts", "registry"]


@pytest.mark.anyio
async def test_package_routes_are_admin_only_and_report_unknown_packages(gateway: Gateway) -> None:
    service = gateway.auth(await gateway.new_key("service"))
    for method, path in [("GET", "/packages"), ("PUT", "/packages/upgrade-all"),
                         ("GET", "/packages/by-id/x"), ("DELETE", "/packages/x")]:  # fmt: skip
        resp = await gateway.client.request(method, path, headers=service)
        assert resp.status_code == 403, path
    resp = await gateway.client.get("/packages", headers=gateway.admin)
    assert resp.json() == {"success": True, "packages": [], "updates": None}
    resp = await gateway.client.get("/packages/by-id/nosuch", headers=gateway.admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "package_not_found")
    resp = await gateway.client.get("/packages/by-name/@scope/pkg", headers=gateway.admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "package_not_found")
    resp = await gateway.client.delete("/packages/nosuch", headers=gateway.admin)
    assert resp.status_code == 200  # idempotent
    assert resp.json() == {
        "success": True,
        "package": None,
        "deleted": False,
        "message": "no package for server nosuch (nothing to do)",
    }
    body = {"name": "x", "serverName": "../evil"}
    resp = await gateway.client.post("/packages/install", json=body, headers=gateway.admin)
    assert resp.status_code == 400


@pytest.mark.anyio
async def test_index_url_credentials_never_come_back_in_package_views(gateway: Gateway) -> None:
    canary = "idx-token-canary-6f1e"
    await gateway.runtime.store.put_package(
        PackageRecord(
            server_name="timesrv",
            name="mcp-server-time",
            runtime=PackageRuntime.PYTHON,
            version="1.0.0",
            pip_index_url=f"https://ci:{canary}@pypi.internal/simple",
        )
    )
    for path in ("/packages", "/packages/by-id/timesrv", "/packages/by-name/mcp-server-time"):
        resp = await gateway.client.get(path, headers=gateway.admin)
        assert resp.status_code == 200, path
        assert canary not in resp.text, path
        assert "https://***@pypi.internal/simple" in resp.text, path


@pytest.fixture
async def pkg_gateway(make_gateway: MakeGateway, registry: LocalRegistry) -> AsyncIterator[Gateway]:
    installer = {"npm_registry": registry.npm_url, "pip_index_url": registry.index_url}
    async with make_gateway(installer=installer) as gw:
        yield gw


async def _install(gw: Gateway, server: str, version: str, query: str = "") -> httpx2.Response:
    body = {"name": NPM_NAME, "serverName": server, "version": version}
    return await gw.client.post(f"/packages/install{query}", json=body, headers=gw.admin)


@pytest.mark.anyio
async def test_install_answers_without_the_log_unless_asked_and_fails_when_the_server_dies(
    pkg_gateway: Gateway, tmp_path: Path
) -> None:
    gw = pkg_gateway
    resp = await _install(gw, "fx", "1.9.0")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["success"], body["status"], body["package"]["version"]) == (
        True,
        "connected",
        "1.9.0",
    )
    assert "log" not in body
    assert (body["server"]["name"], body["server"]["status"]) == ("fx", "connected")  # mcp-api
    resp = await gw.client.put("/packages/fx/upgrade", json={"version": "1.10.0"}, headers=gw.admin)
    body = resp.json()
    assert (body["result"]["status"], body["package"]["version"]) == ("upgraded", "1.10.0")
    assert body["package"]["installDir"] in body["server"]["args"][0]
    assert "log" not in body["result"]
    resp = await _install(gw, "fx2", "1.10.0", "?includeLog=true")
    assert "added 1 package" in resp.json()["log"]
    # 2.0.0 dies of a missing module at start: 502 with its stderr, nothing kept
    resp = await _install(gw, "dies", "2.0.0")
    body = resp.json()
    assert (resp.status_code, body["success"], body["code"]) == (502, False, "install_failed")
    assert "Cannot find module 'mcpgw-missing-dependency'" in body["error"]
    assert "MODULE_NOT_FOUND" in body["log"]
    for path in ("/packages/by-id/dies", "/mcp/servers/dies"):
        assert (await gw.client.get(path, headers=gw.admin)).status_code == 404
    assert not (tmp_path / "packages" / "node" / "dies").exists()


def _sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.mark.anyio
async def test_install_with_accept_event_stream_streams_the_installer_output_then_the_answer(
    pkg_gateway: Gateway,
) -> None:
    gw = pkg_gateway
    body = {"name": NPM_NAME, "serverName": "live", "version": "1.9.0"}
    headers = {**gw.admin, "Accept": "text/event-stream"}
    resp = await gw.client.post("/packages/install", json=body, headers=headers)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    events = _sse(resp.text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "result" and set(kinds[:-1]) == {"line"}, kinds
    assert any("added 1 package" in line for kind, line in events if kind == "line")
    answer = events[-1][1]
    assert (answer["success"], answer["server"]["name"], answer["package"]["version"]) == (
        True, "live", "1.9.0"
    )  # fmt: skip
    # A failing install ends with the error body the plain request would carry; nothing kept.
    body = {"name": NPM_NAME, "serverName": "dies", "version": "2.0.0"}
    events = _sse((await gw.client.post("/packages/install", json=body, headers=headers)).text)
    kind, error = events[-1]
    assert kind == "error" and (error["code"], error["status"]) == ("install_failed", 502)
    assert "Cannot find module 'mcpgw-missing-dependency'" in error["error"]
    assert (await gw.client.get("/mcp/servers/dies", headers=gw.admin)).status_code == 404
    # A bad body is still a plain 400 before any stream starts.
    bad = await gw.client.post("/packages/install", json={"name": 5}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"


@pytest.mark.anyio
async def test_deleting_a_package_backed_server_removes_its_package_unless_kept(
    pkg_gateway: Gateway, tmp_path: Path
) -> None:
    gw = pkg_gateway
    for name in ("gone", "kept"):
        assert (await _install(gw, name, "1.9.0")).status_code == 200
    resp = await gw.client.delete("/mcp/servers/gone", headers=gw.admin)
    assert resp.json() == {
        "success": True,
        "serverName": "gone",
        "deleted": True,
        "package": {"name": NPM_NAME, "version": "1.9.0", "runtime": "node", "removed": True},
        "message": f"removed server gone and its package {NPM_NAME} 1.9.0",
    }
    assert (await gw.client.get("/packages/by-id/gone", headers=gw.admin)).status_code == 404
    assert not (tmp_path / "packages" / "node" / "gone").exists()
    resp = await gw.client.delete("/mcp/servers/kept?keepPackage=true", headers=gw.admin)
    body = resp.json()
    assert body["package"]["removed"] is False and "kept its package" in body["message"]
    assert (await gw.client.get("/mcp/servers/kept", headers=gw.admin)).status_code == 404
    assert (await gw.client.get("/packages/by-id/kept", headers=gw.admin)).status_code == 200
    # a plain server: no package in the answer
    await gw.add_server("plain", wait=False, enabled=False)
    resp = await gw.client.delete("/mcp/servers/plain", headers=gw.admin)
    assert resp.json() == {
        "success": True,
        "serverName": "plain",
        "deleted": True,
        "package": None,
        "message": "removed server plain",
    }


@pytest.mark.anyio
async def test_registering_a_server_whose_command_does_not_exist_is_a_400_naming_it(
    gateway: Gateway,
) -> None:
    body = {"name": "typo", "command": "npxx", "args": ["-y", "some-server"]}
    resp = await gateway.client.post("/mcp/servers", json=body, headers=gateway.admin)
    assert (resp.status_code, resp.json()["code"]) == (400, "invalid_request")
    assert "command 'npxx' not found on PATH" in resp.json()["error"]
    assert (await gateway.client.get("/mcp/servers/typo", headers=gateway.admin)).status_code == 404


@pytest.mark.anyio
async def test_packages_under_names_that_are_not_paths_land_in_distinct_slug_directories(
    pkg_gateway: Gateway, tmp_path: Path
) -> None:
    gw = pkg_gateway
    root = tmp_path / "packages" / "node"
    for name in ("My Pkg.v2", "Foo", "foo"):  # "Foo" and "foo" would share a lowercase slug
        assert (await _install(gw, name, "1.9.0")).status_code == 200
    dirs = {}
    for name in ("My Pkg.v2", "Foo", "foo"):
        resp = await gw.client.get(f"/packages/by-id/{quote(name, safe='')}", headers=gw.admin)
        install_dir = Path(resp.json()["package"]["installDir"])
        assert install_dir.parent == root / server_slug(name)
        dirs[name] = install_dir.parent
    assert dirs["My Pkg.v2"].name.startswith("my-pkg-v2-")
    assert dirs["foo"].name == "foo" and dirs["Foo"] != dirs["foo"]
    assert sorted(p.name for p in root.iterdir()) == sorted(d.name for d in dirs.values())
    # uninstalling one leaves the other's directory alone
    resp = await gw.client.delete("/packages/Foo", headers=gw.admin)
    assert (resp.status_code, resp.json()["deleted"]) == (200, True)
    assert not dirs["Foo"].exists() and dirs["foo"].is_dir()
    resp = await gw.client.delete("/packages/My%20Pkg.v2", headers=gw.admin)
    assert resp.status_code == 200 and not dirs["My Pkg.v2"].exists()


@pytest.mark.anyio
async def test_package_enable_disable_act_on_its_server_and_delete_impact_counts_what_goes(
    pkg_gateway: Gateway,
) -> None:
    gw = pkg_gateway
    assert (await _install(gw, "fx.pkg", "1.9.0")).status_code == 200
    resp = await gw.client.put("/packages/fx.pkg/disable", headers=gw.admin)
    assert resp.status_code == 200
    assert resp.json()["server"]["name"] == "fx.pkg" and resp.json()["server"]["enabled"] is False
    assert (await gw.runtime.servers.get("fx.pkg")).config.enabled is False
    resp = await gw.client.put("/packages/fx.pkg/enable", headers=gw.admin)
    assert (resp.status_code, resp.json()["server"]["enabled"]) == (200, True)
    resp = await gw.client.put("/packages/nosuch/enable", headers=gw.admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "package_not_found")
    service = gw.auth(await gw.new_key("service"))
    for method, path in [("PUT", "/packages/fx.pkg/disable"),
                         ("GET", "/mcp/servers/fx.pkg/delete-impact")]:  # fmt: skip
        assert (await gw.client.request(method, path, headers=service)).status_code == 403

    store = gw.runtime.store
    for user in ("alice", "Bob Smith"):
        await store.put_secret(StoredSecret(user, "fx.pkg", "A", b"\x01ct"))
        await store.put_secret(StoredSecret(user, "fx.pkg", "B", b"\x01ct"))
    await store.put_tokens(StoredOAuthTokens("fx.pkg", "alice", {"access_token": b"\x01"}))
    await store.put_session(UpstreamSession("fx.pkg", "alice", "sid-1"))
    await store.put_session(UpstreamSession("fx.pkg", "", "sid-shared"))
    resp = await gw.client.get("/mcp/servers/fx.pkg/delete-impact", headers=gw.admin)
    assert resp.status_code == 200
    assert resp.json() == {
        "success": True,
        "impact": {
            "serverName": "fx.pkg",
            "source": "platform",
            "authMode": "none",
            "transportType": "stdio",
            "installedUsers": 0,
            "connectedAuthUsers": 1,
            "oauthTokenUsers": 1,
            "usersWithSavedSecrets": 2,
            "activeSessionUsers": 1,
            "storedSessions": 2,
            "package": {"name": NPM_NAME, "version": "1.9.0", "runtime": "node", "removed": True},
        },
    }
    assert "sid-" not in resp.text
    resp = await gw.client.get("/mcp/servers/nosuch/delete-impact", headers=gw.admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "server_not_found")
