"""A store outage is a quick 503 ``store_unavailable``, never a hang, a 500 or a lost write."""

from __future__ import annotations

import sqlite3
import time

import anyio
import pytest

from tests.api.conftest import MakeGateway

pytestmark = pytest.mark.anyio


async def test_locked_sqlite_store_answers_503_store_unavailable_and_loses_nothing(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(store={"timeout": 0.5}) as gw:
        await gw.add_server("fx", wait=False, enabled=False)
        await gw.set_secret(gw.admin_key, "fx", "kept", "value-1")
        db_path = gw.runtime.settings.store.data_dir / "gateway.db"
        # Another process holding the write lock is what a stuck or crashed writer looks like.
        blocker = sqlite3.connect(db_path, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            body = {"serverName": "fx", "secretName": "new", "secretValue": "canary-7d1"}
            started = time.monotonic()
            with anyio.fail_after(10):
                resp = await gw.client.post("/secrets/set", json=body, headers=gw.admin)
            assert time.monotonic() - started < 5
            assert resp.status_code == 503
            assert resp.json()["code"] == "store_unavailable"
            assert resp.json()["success"] is False
            assert "canary-7d1" not in resp.text
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        # The lock is gone: the store answers again and the earlier secret is intact.
        resp = await gw.client.get("/secrets?serverName=fx", headers=gw.admin)
        assert resp.status_code == 200
        assert resp.json()["secrets"] == ["kept"]


async def test_readyz_is_503_store_unavailable_in_the_error_contract_when_the_store_fails(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as gw:
        ready = await gw.client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        await gw.runtime.store.aclose()  # what a vanished database looks like to the gateway
        resp = await gw.client.get("/readyz")
        assert resp.status_code == 503
        body = resp.json()
        assert body["success"] is False and body["code"] == "store_unavailable"
        assert isinstance(body["error"], str) and body["error"]
