"""``GET /audit`` and its export on both stores: what each role may read, filters, cursors
stable under concurrent inserts, JSON lines, refused requests audited with a key prefix only,
and never an argument value."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from typing import Any

import anyio
import pytest

from mcp_gateway.domain.records import AuditEvent
from tests.api.conftest import Gateway, MakeGateway, secrets_section

pytestmark = pytest.mark.anyio


async def _key(gw: Gateway, role: str, username: str | None = None) -> tuple[str, str]:
    body: dict[str, Any] = {"name": f"{role}-{username}", "role": role}
    if username is not None:
        body["username"] = username
    resp = await gw.client.post("/admin/apikeys", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    return resp.json()["key"], resp.json()["id"]


def _event(i: int, actor: str, username: str, **fields: Any) -> AuditEvent:
    values: dict[str, Any] = {"server": "s1", "tool": "t1", "duration_ms": 1.5, **fields}
    return AuditEvent(ts=1_700_000_000.0 + i, request_id=f"r{i}", actor=actor, role="service",
                      action="tool_call", username=username, **values)  # fmt: skip


async def _audit(gw: Gateway, api_key: str, **params: Any) -> Any:
    resp = await gw.client.get("/audit", params=params, headers=gw.auth(api_key))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _seeded(gw: Gateway) -> dict[str, tuple[str, str]]:
    keys = {
        "svc": await _key(gw, "service"),
        "svc2": await _key(gw, "service"),
        "alice": await _key(gw, "user", "alice"),
    }
    svc, svc2 = keys["svc"][1], keys["svc2"][1]
    await gw.runtime.store.append_audits(
        [
            _event(0, svc, "alice"),
            _event(1, svc, "bob", outcome="upstream_error"),
            _event(2, svc2, "alice", server="s2"),
            _event(3, svc2, "carol", tool="t2"),
        ]
    )
    return keys


def _ids(body: Any) -> list[str]:
    return [item["requestId"] for item in body["items"]]


async def test_each_role_reads_only_its_scope(any_gateway: Gateway) -> None:
    gw = any_gateway
    keys = await _seeded(gw)
    everything = await _audit(gw, gw.admin_key, action="ignored")
    assert {"r0", "r1", "r2", "r3"} <= set(_ids(everything))
    assert _ids(await _audit(gw, keys["svc"][0])) == ["r1", "r0"]  # its own key's calls
    assert _ids(await _audit(gw, keys["alice"][0])) == ["r2", "r0"]  # its username, any key
    item = (await _audit(gw, keys["alice"][0]))["items"][0]
    assert item["keyId"] == keys["svc2"][1] and item["duration"] == 1.5
    assert item["time"] == "2023-11-14T22:13:22.000Z"


async def test_asking_for_another_scope_is_403_not_an_empty_page(any_gateway: Gateway) -> None:
    gw = any_gateway
    keys = await _seeded(gw)
    cases = [(keys["alice"][0], {"username": "bob"}), (keys["svc"][0], {"key": keys["svc2"][1]})]
    for key, params in cases:
        resp = await gw.client.get("/audit", params=params, headers=gw.auth(key))
        assert resp.status_code == 403 and resp.json()["code"] == "forbidden"
        resp = await gw.client.get("/audit/export", params=params, headers=gw.auth(key))
        assert resp.status_code == 403
    # The caller's own scope named explicitly is fine.
    assert _ids(await _audit(gw, keys["alice"][0], username="alice")) == ["r2", "r0"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"server": "s2"}, ["r2"]),
        ({"tool": "t2"}, ["r3"]),
        ({"username": "alice"}, ["r2", "r0"]),
        ({"outcome": "upstream_error"}, ["r1"]),
        ({"since": "2023-11-14T22:13:21Z", "until": "1700000003000"}, ["r2", "r1"]),
    ],
)
async def test_admin_filters(
    any_gateway: Gateway, params: dict[str, str], expected: list[str]
) -> None:
    await _seeded(any_gateway)
    assert _ids(await _audit(any_gateway, any_gateway.admin_key, **params)) == expected


async def test_key_filter_for_admin(any_gateway: Gateway) -> None:
    keys = await _seeded(any_gateway)
    body = await _audit(any_gateway, any_gateway.admin_key, key=keys["svc2"][1])
    assert _ids(body) == ["r3", "r2"]


async def test_cursor_pages_are_stable_under_concurrent_inserts(any_gateway: Gateway) -> None:
    gw = any_gateway
    actor = "k-page"
    await gw.runtime.store.append_audits([_event(i, actor, "u") for i in range(7)])
    seen: list[str] = []
    page = await _audit(gw, gw.admin_key, key=actor, limit=3)
    follow = page["followCursor"]
    while True:
        seen += _ids(page)
        # Newer events keep arriving while the reader pages backwards.
        await gw.runtime.store.append_audits([_event(100 + len(seen), actor, "u")])
        if page["nextCursor"] is None:
            break
        page = await _audit(gw, gw.admin_key, key=actor, limit=3, cursor=page["nextCursor"])
    assert seen == [f"r{i}" for i in range(6, -1, -1)]
    newer = await _audit(gw, gw.admin_key, key=actor, after=follow)
    assert _ids(newer) == ["r103", "r106", "r107"]  # oldest first, nothing repeated
    assert newer["nextCursor"] is None
    again = await _audit(gw, gw.admin_key, key=actor, after=newer["followCursor"])
    assert again["items"] == []


async def test_bad_cursor_and_limit_are_400_without_echo(any_gateway: Gateway) -> None:
    gw = any_gateway
    for params in ({"cursor": "canary-CURSOR"}, {"limit": "0"}, {"since": "canary-SINCE"}):
        resp = await gw.client.get("/audit", params=params, headers=gw.admin)
        assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
        assert "canary" not in resp.text


async def test_out_of_range_times_and_cursor_positions_are_400_not_500(
    any_gateway: Gateway,
) -> None:
    gw = any_gateway
    huge = "9" * 400  # epoch ms past float range
    position = base64.urlsafe_b64encode(json.dumps({"t": 1, "k": "9" * 30}).encode()).decode()
    for path, params in (
        ("/audit", {"since": huge}),
        ("/audit", {"until": huge}),
        ("/audit/export", {"since": huge}),
        ("/audit", {"cursor": position}),
        ("/audit", {"after": position}),
    ):
        resp = await gw.client.get(path, params=params, headers=gw.admin)
        assert resp.status_code == 400, (params, resp.text)
        assert resp.json()["code"] == "invalid_request"


async def test_export_streams_every_match_as_json_lines(any_gateway: Gateway) -> None:
    gw = any_gateway
    keys = await _seeded(gw)
    for path, params in (("/audit/export", {}), ("/audit", {"format": "jsonl"})):
        resp = await gw.client.get(path, params=params, headers=gw.auth(keys["svc"][0]))
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in resp.text.splitlines()]
        assert [line.get("requestId") for line in lines] == ["r1", "r0"], resp.text


async def test_export_of_more_than_one_batch_is_complete(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        await gw.runtime.store.append_audits([_event(i, "bulk", "u") for i in range(2500)])
        resp = await gw.client.get("/audit/export", params={"key": "bulk"}, headers=gw.admin)
        ids = [json.loads(line)["requestId"] for line in resp.text.splitlines()]
        assert ids == [f"r{i}" for i in range(2499, -1, -1)]


async def _wait_for(gw: Gateway, predicate: Any, **params: Any) -> list[dict[str, Any]]:
    with anyio.fail_after(20):
        while True:
            items: list[dict[str, Any]] = (await _audit(gw, gw.admin_key, **params))["items"]
            if predicate(items):
                return items
            await anyio.sleep(0.05)


async def test_refused_requests_show_up_with_the_key_prefix_only(any_gateway: Gateway) -> None:
    gw = any_gateway
    wrong = "mgw_" + "Z" * 40
    resp = await gw.client.get("/audit", headers=gw.auth(wrong))
    assert resp.status_code == 401
    keys = await _key(gw, "user", "alice")
    alice_id = keys[1]
    resp = await gw.client.get("/admin/apikeys", headers=gw.auth(keys[0]))
    assert resp.status_code == 403
    items = await _wait_for(gw, lambda items: len(items) >= 1, outcome="unauthenticated")
    assert items[0]["keyId"] == "unknown" and "/audit" in items[0]["detail"]
    assert wrong not in json.dumps(items) and "Z" * 12 not in json.dumps(items)
    forbidden = await _wait_for(gw, lambda items: len(items) >= 1, outcome="forbidden")
    assert forbidden[0]["keyId"] == alice_id and forbidden[0]["username"] == "alice"
    assert forbidden[0]["replica"] == gw.runtime.settings.replica_id


@pytest.mark.slow
async def test_a_real_tool_call_is_audited_without_its_arguments(
    make_gateway: MakeGateway, backend: str
) -> None:
    canary = "ARG-CANARY-7f3a"
    async with make_gateway(backend, secrets=secrets_section(backend)) as gw:
        await gw.add_server("fx")
        key, key_id = await _key(gw, "service")
        started = time.time()
        resp = await gw.call(key, "fx", "echo", {"text": canary}, username="dora")
        assert resp.status_code == 200, resp.text
        items = await _wait_for(gw, lambda items: len(items) == 1, server="fx", tool="echo")
        (item,) = items
        assert item["keyId"] == key_id and item["role"] == "service"
        assert item["username"] == "dora" and item["outcome"] == "ok"
        assert item["duration"] > 0 and item["requestId"] == resp.headers["x-request-id"]
        assert item["replica"] == gw.runtime.settings.replica_id
        assert abs(time.mktime(time.strptime(item["time"][:19], "%Y-%m-%dT%H:%M:%S"))
                   - time.timezone - started) < 60  # fmt: skip
        export = await gw.client.get("/audit/export", headers=gw.admin)
        assert canary not in export.text


async def test_retention_setting_prunes_old_events_at_start(
    make_gateway: MakeGateway, backend: str
) -> None:
    secrets = secrets_section(backend)
    now = time.time()
    async with make_gateway(backend, secrets=secrets) as gw:
        # 10 days old: kept by the default (90d), not by the 7d set below.
        old = [replace(_event(i, "k-ret", "u"), ts=now - 10 * 86400) for i in range(3)]
        fresh = AuditEvent(ts=now, request_id="fresh", actor="k-ret", role="service",
                           action="tool_call")  # fmt: skip
        await gw.runtime.store.append_audits([*old, fresh])
        admin_key = gw.admin_key  # created at the first start only
    async with make_gateway(backend, secrets=secrets, audit={"retention": "7d"}) as gw:
        with anyio.fail_after(20):
            while True:
                items = (await _audit(gw, admin_key, key="k-ret"))["items"]
                if len(items) == 1:
                    break
                await anyio.sleep(0.05)
        assert items[0]["requestId"] == "fresh"
