"""``GET /healthz``: the aggregate for a caller without a key (no server names), per-server
health for a key, the last error for an admin only, ``degraded`` for a failed server or a
store that does not answer (still 200: a liveness probe), replica id and uptime in ms."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.api.conftest import FIXTURE_SERVER, Gateway, MakeGateway, secrets_section

pytestmark = pytest.mark.anyio

SECRET_LINE = "boot failed: token CANARY-health-91"


async def _broken(gw: Gateway) -> None:
    body = {"name": "broken-srv", "command": sys.executable, "args": [FIXTURE_SERVER,
            "--fail-start", SECRET_LINE], "reconnectionOptions": {"maxRetries": 0}}  # fmt: skip
    resp = await gw.client.post("/mcp/servers", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    await gw.wait_status("broken-srv", "error")


async def _health(gw: Gateway, key: str | None = None) -> dict[str, Any]:
    resp = await gw.client.get("/healthz", headers=gw.auth(key) if key else {})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_healthy_gateway_reports_ok_version_uptime_ms_replica_and_store(
    any_gateway: Gateway, backend: str
) -> None:
    gateway = any_gateway
    body = await _health(gateway)
    assert body["status"] == "ok"
    assert body["version"] == gateway.runtime.version
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    assert body["replica"] == gateway.runtime.settings.replica_id
    assert body["store"] == {"backend": backend, "status": "ok"}
    assert body["summary"] == {"servers": 0, "unhealthy": 0}


@pytest.mark.slow
async def test_a_failed_server_degrades_and_only_an_admin_sees_why(gateway: Gateway) -> None:
    await _broken(gateway)
    anonymous = await _health(gateway)
    assert anonymous["status"] == "degraded"
    assert anonymous["summary"] == {"servers": 1, "unhealthy": 1}
    assert "servers" not in anonymous and "broken-srv" not in str(anonymous)
    service = await _health(gateway, await gateway.new_key("service"))
    assert service["servers"]["broken-srv"]["status"] == "error"
    assert "lastError" not in service["servers"]["broken-srv"]
    admin = await _health(gateway, gateway.admin_key)
    entry = admin["servers"]["broken-srv"]
    assert entry["status"] == "error" and isinstance(entry["restarts"], int)
    assert entry["lastError"]
    for body in (anonymous, service, admin):
        assert "CANARY-health-91" not in str(body)  # upstream text never reaches /healthz


async def test_a_wrong_key_is_401_not_a_quiet_anonymous_answer(gateway: Gateway) -> None:
    resp = await gateway.client.get("/healthz", headers=gateway.auth("mgw_" + "q" * 40))
    assert resp.status_code == 401 and resp.json()["code"] == "unauthenticated"


async def test_store_down_is_degraded_with_200_while_readyz_is_503(
    make_gateway: MakeGateway, backend: str
) -> None:
    async with make_gateway(backend, secrets=secrets_section(backend)) as gw:
        await gw.runtime.store.aclose()
        body = await _health(gw)
        assert body["status"] == "degraded" and body["store"]["status"] == "down"
        assert (await gw.client.get("/readyz")).status_code == 503


async def test_metrics_carry_the_same_replica_id(gateway: Gateway) -> None:
    replica = (await _health(gateway))["replica"]
    assert replica == gateway.runtime.settings.replica_id
    text = (await gateway.client.get("/metrics")).text
    assert f'replica="{replica}"' in text


async def test_a_draining_replica_answers_readyz_503_draining_and_healthz_200(
    gateway: Gateway,
) -> None:
    assert (await gateway.client.get("/readyz")).status_code == 200
    gateway.runtime.drain.begin(30.0)  # what SIGTERM does (cli serve)
    resp = await gateway.client.get("/readyz")
    assert resp.status_code == 503 and resp.json()["code"] == "draining"
    assert (await gateway.client.get("/healthz")).status_code == 200
