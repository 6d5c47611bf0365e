"""/packages routes without touching a registry: admin-only, listing, 404s, validation."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from tests.api.conftest import Gateway


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
    assert resp.status_code == 404
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
