"""Runs over the in-process gateway (real Runtime, real fixture MCP server, both stores):
202 then poll, cancel reaching the upstream, SSE in order with resumable ids, scoping per role,
the result size cap and the per-caller cap on active runs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import anyio
import pytest

from mcp_gateway.domain.records import Role
from mcp_gateway.domain.runs import RunRecord, RunStatus, new_run_id
from mcp_gateway.services.principal import Principal
from tests.api.conftest import Gateway, MakeGateway, secrets_section

pytestmark = pytest.mark.anyio

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def start_run(gw: Gateway, key: str, tool: str, args: dict[str, Any], **extra: Any) -> str:
    resp = await gw.call(key, "fx", tool, args, **{"async": True, **extra})
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["success"] is True and body["status"] == "pending"
    assert resp.headers["location"] == f"/runs/{body['runId']}"
    run_id: str = body["runId"]
    return run_id


async def get_run(gw: Gateway, key: str, run_id: str) -> dict[str, Any]:
    resp = await gw.client.get(f"/runs/{run_id}", headers=gw.auth(key))
    assert resp.status_code == 200, resp.text
    run: dict[str, Any] = resp.json()["run"]
    return run


async def wait_run(
    gw: Gateway, key: str, run_id: str, *statuses: str, within: float = 30
) -> dict[str, Any]:
    with anyio.fail_after(within):
        while True:
            run = await get_run(gw, key, run_id)
            if run["status"] in statuses:
                return run
            await anyio.sleep(0.02)


async def sse_events(gw: Gateway, key: str, run_id: str, **headers: str) -> list[dict[str, Any]]:
    """Every event of the stream until the server ends it."""
    events: list[dict[str, Any]] = []
    url = f"/runs/{run_id}/events"
    async with gw.client.stream("GET", url, headers={**gw.auth(key), **headers}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        text = ""
        async for chunk in resp.aiter_text():
            text += chunk
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if fields:
            events.append(
                {"id": int(fields["id"]), "event": fields["event"], **json.loads(fields["data"])}
            )
    return events


async def test_async_call_answers_202_and_the_run_holds_what_a_sync_call_answers(
    any_gateway: Gateway,
) -> None:
    gw = any_gateway
    await gw.add_server("fx")
    key = gw.admin_key
    sync = await gw.call(key, "fx", "echo", {"text": "hello run"})
    run_id = await start_run(gw, key, "echo", {"text": "hello run"})
    assert re.fullmatch(r"run_[A-Za-z0-9_-]{22}", run_id)  # 128 random bits
    run = await wait_run(gw, key, run_id, "success")
    assert run["result"] == sync.json()["data"]
    assert run["serverName"] == "fx" and run["methodName"] == "echo"
    assert run["username"] == "default" and run["error"] is None
    for name in ("createdAt", "startedAt", "finishedAt"):
        assert ISO.match(run[name]), run[name]
    assert run["durationMs"] >= 0
    # The same tool-call path: the run's call is audited like a sync one, without arguments.
    with anyio.fail_after(20):
        while True:
            events = [e for e in await gw.runtime.store.list_audit() if e.action == "tool_call"]
            if len(events) == 2:
                break
            await anyio.sleep(0.05)
    assert {e.outcome for e in events} == {"ok"}
    assert run["requestId"] in {e.request_id for e in events}


async def test_prefer_respond_async_header_starts_a_run_too(gateway: Gateway) -> None:
    await gateway.add_server("fx")
    body = {"serverName": "fx", "methodName": "echo", "args": {"text": "p"}}
    headers = {**gateway.admin, "Prefer": "wait=5, respond-async"}
    resp = await gateway.client.post("/mcp/tool/call", json=body, headers=headers)
    assert resp.status_code == 202 and resp.headers["preference-applied"] == "respond-async"
    run = await wait_run(gateway, gateway.admin_key, resp.json()["runId"], "success")
    assert run["result"]["content"][0]["text"] == "p"


async def test_a_tool_error_and_a_gateway_error_end_the_run_as_a_sync_call_would(
    gateway: Gateway,
) -> None:
    await gateway.add_server("fx")
    key = gateway.admin_key
    run = await wait_run(
        gateway, key, await start_run(gateway, key, "nope", {}), "success", "error"
    )
    assert run["status"] == "success" and run["result"]["isError"] is True  # sync: HTTP 200
    resp = await gateway.client.post(
        "/mcp/tool/call",
        json={"serverName": "ghost", "methodName": "echo", "async": True},
        headers=gateway.admin,
    )
    run = await wait_run(gateway, key, resp.json()["runId"], "error")
    assert run["error"]["code"] == "server_not_found" and run["error"]["status"] == 404
    assert run["result"] is None


async def wait_log(gw: Gateway, line: str, within: float = 20) -> None:
    """Wait for ``line`` in the fixture server's stderr (GET /mcp/servers/fx ``logs``)."""
    with anyio.fail_after(within):
        while True:
            resp = await gw.client.get("/mcp/servers/fx", headers=gw.admin)
            if line in resp.json()["server"]["logs"]:
                return
            await anyio.sleep(0.05)


async def test_cancel_cancels_the_upstream_call_and_frees_its_slot(any_gateway: Gateway) -> None:
    gw = any_gateway
    await gw.add_server("fx", maxConcurrency=1)
    key = gw.admin_key
    run_id = await start_run(gw, key, "sleep", {"seconds": 60, "tag": "c1"})
    await wait_log(gw, "sleep c1 started")
    resp = await gw.client.delete(f"/runs/{run_id}", headers=gw.admin)
    assert resp.status_code == 200, resp.text
    assert resp.json()["run"]["status"] == "cancelled"
    await wait_log(gw, "sleep c1 cancelled")  # the upstream saw notifications/cancelled
    # The only slot is free again, and a second DELETE is a no-op (idempotent).
    assert (await gw.call(key, "fx", "echo", {"text": "x"})).status_code == 200
    again = await gw.client.delete(f"/runs/{run_id}", headers=gw.admin)
    assert again.status_code == 200 and again.json()["run"]["status"] == "cancelled"


async def test_events_stream_progress_then_the_result_in_order_and_resume_by_id(
    any_gateway: Gateway,
) -> None:
    gw = any_gateway
    await gw.add_server("fx")
    user = await gw.new_key("user", "alice")
    canary = "run-canary-Zq81xV"
    await gw.set_secret(user, "fx", "message", canary)  # injected as the tool's argument
    run_id = await start_run(gw, user, "progress", {"steps": 3, "hold": 0.3})
    events = await sse_events(gw, user, run_id)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert events[-1]["event"] == "result" and events[-1]["run"]["status"] == "success"
    assert events[-1]["run"]["result"]["content"][0]["text"] == "done 3"
    assert all(e["event"] in ("status", "progress") for e in events[:-1])
    final = events[-1]["run"]["progress"]
    assert final["progress"] == 3 and final["total"] == 3
    assert final["message"] == "*** step 3"  # the injected secret is masked in progress too
    everything = json.dumps(events) + json.dumps(await get_run(gw, user, run_id))
    assert canary not in everything
    # Resuming after the last id sends nothing more; after an earlier one, the final state.
    assert await sse_events(gw, user, run_id, **{"Last-Event-ID": str(ids[-1])}) == []
    resumed = await sse_events(gw, user, run_id, **{"Last-Event-ID": str(ids[-1] - 1)})
    assert [e["id"] for e in resumed] == [ids[-1]]
    bad = await gw.client.get(
        f"/runs/{run_id}/events", headers={**gw.auth(user), "Last-Event-ID": "x"}
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"


async def test_each_role_sees_only_its_runs_and_others_get_404(any_gateway: Gateway) -> None:
    gw = any_gateway
    await gw.add_server("fx")
    service_a = await gw.new_key("service")
    service_b = await gw.new_key("service")
    alice = await gw.new_key("user", "alice")
    bob = await gw.new_key("user", "bob")
    for_alice = await start_run(gw, service_a, "echo", {"text": "a"}, username="alice")
    for_bob = await start_run(gw, bob, "echo", {"text": "b"})
    await wait_run(gw, gw.admin_key, for_alice, "success")
    await wait_run(gw, gw.admin_key, for_bob, "success")

    async def visible(key: str) -> set[str]:
        resp = await gw.client.get("/runs", headers=gw.auth(key))
        assert resp.status_code == 200, resp.text
        return {item["id"] for item in resp.json()["items"]}

    assert await visible(gw.admin_key) == {for_alice, for_bob}
    assert await visible(service_a) == {for_alice}  # the runs its key started
    assert await visible(service_b) == set()
    assert await visible(alice) == {for_alice}  # the runs of its username
    assert await visible(bob) == {for_bob}
    for key, run_id in ((service_b, for_alice), (bob, for_alice), (alice, for_bob)):
        for method, path in (
            ("GET", f"/runs/{run_id}"),
            ("GET", f"/runs/{run_id}/events"),
            ("DELETE", f"/runs/{run_id}"),
        ):
            resp = await gw.client.request(method, path, headers=gw.auth(key))
            assert (resp.status_code, resp.json()["code"]) == (404, "not_found"), (method, path)
    unknown = await gw.client.get("/runs/run_doesnotexist", headers=gw.admin)
    assert unknown.status_code == 404
    assert (await get_run(gw, alice, for_alice))["status"] == "success"


async def test_list_pages_newest_first_with_filters(gateway: Gateway) -> None:
    await gateway.add_server("fx")
    key = gateway.admin_key
    ids = [await start_run(gateway, key, "echo", {"text": str(i)}) for i in range(3)]
    for run_id in ids:
        await wait_run(gateway, key, run_id, "success")
    first = (await gateway.client.get("/runs?limit=2", headers=gateway.admin)).json()
    assert [i["id"] for i in first["items"]] == ids[::-1][:2]
    assert "result" not in first["items"][0]
    second = (
        await gateway.client.get(
            "/runs", params={"limit": 2, "cursor": first["nextCursor"]}, headers=gateway.admin
        )
    ).json()
    assert [i["id"] for i in second["items"]] == [ids[0]] and second["nextCursor"] is None
    none = await gateway.client.get("/runs?status=error&server=fx", headers=gateway.admin)
    assert none.json()["items"] == []
    bad = await gateway.client.get("/runs?cursor=garbage", headers=gateway.admin)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    bad = await gateway.client.get("/runs?status=done", headers=gateway.admin)
    assert bad.status_code == 400


async def test_a_result_over_the_size_cap_ends_the_run_as_an_error_saying_so(
    make_gateway: MakeGateway, backend: str
) -> None:
    async with make_gateway(
        backend, secrets=secrets_section(backend), runs={"result_max_bytes": 2048}
    ) as gw:
        await gw.add_server("fx")
        run_id = await start_run(gw, gw.admin_key, "big", {"size": 5000})
        run = await wait_run(gw, gw.admin_key, run_id, "error", "success")
        assert run["status"] == "error" and run["result"] is None
        assert run["error"]["code"] == "result_too_large"
        assert (
            "2048" in run["error"]["error"]
            and "MCPGW_RUN_RESULT_MAX_BYTES" in run["error"]["error"]
        )
        small = await start_run(gw, gw.admin_key, "big", {"size": 100})
        assert (await wait_run(gw, gw.admin_key, small, "success"))["result"]


async def test_active_runs_per_key_and_username_are_capped_with_429(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(runs={"max_active": 1}) as gw:
        await gw.add_server("fx")
        key = await gw.new_key("service")
        slow = await start_run(gw, key, "sleep", {"seconds": 60}, username="u1")
        refused = await gw.call(key, "fx", "echo", {"text": "x"}, username="u1", **{"async": True})
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_runs"
        assert refused.headers["retry-after"] == "1"
        # Another username, or a sync call, is not held back by u1's run.
        other = await start_run(gw, key, "echo", {"text": "x"}, username="u2")
        assert (await gw.call(key, "fx", "echo", {"text": "x"}, username="u1")).status_code == 200
        await gw.client.delete(f"/runs/{slow}", headers=gw.auth(key))
        await wait_run(gw, key, other, "success")
        again = await start_run(gw, key, "echo", {"text": "x"}, username="u1")
        await wait_run(gw, key, again, "success")


async def test_another_replica_reads_a_run_and_its_cancel_stops_the_upstream_call(
    make_gateway: MakeGateway, backend: str
) -> None:
    secrets = secrets_section(backend)  # one key for both replicas
    async with make_gateway(backend, secrets=secrets, http={"replica_id": "a"}) as a:
        await a.add_server("fx")
        key = await a.new_key("service")
        run_id = await start_run(a, key, "sleep", {"seconds": 60, "tag": "x1"})
        await wait_log(a, "sleep x1 started")
        async with make_gateway(backend, secrets=secrets, http={"replica_id": "b"}) as b:
            assert (await get_run(b, key, run_id))["status"] == "running"
            resp = await b.client.delete(f"/runs/{run_id}", headers=b.auth(key))
            assert resp.json()["run"]["status"] == "cancelled"
            await wait_log(a, "sleep x1 cancelled")  # replica a noticed and cancelled upstream
            assert (await get_run(a, key, run_id))["status"] == "cancelled"


async def test_finished_runs_older_than_the_retention_are_purged(
    make_gateway: MakeGateway, backend: str
) -> None:
    async with make_gateway(
        backend, secrets=secrets_section(backend), runs={"retention": "1h"}
    ) as gw:
        now = time.time()
        base = RunRecord(new_run_id(), "k", "admin", "u", "fx", "echo", "r9", now - 9000)
        old = replace(base, status=RunStatus.SUCCESS, finished_at=now - 7200)
        fresh = replace(base, id=new_run_id(), status=RunStatus.ERROR, finished_at=now - 60)
        active = replace(base, id=new_run_id())
        for run in (old, fresh, active):
            await gw.runtime.store.create_run(run)
        # The upkeep loop purges too (first on start): the count may be its, the result not.
        assert await gw.runtime.runs.purge() in (0, 1)
        assert await gw.runtime.store.get_run(old.id) is None
        assert await gw.runtime.store.get_run(fresh.id) == fresh
        assert await gw.runtime.store.get_run(active.id) == active


async def test_a_slow_follower_gets_states_written_while_it_was_busy_without_the_poll(
    gateway: Gateway,
) -> None:
    """A follower that reads a state, is busy while the run moves on, then asks for the next
    state gets it at once from the executing replica (not after the store poll): both while
    the run is still running and once it has finished."""
    await gateway.add_server("fx")
    runs = gateway.runtime.runs
    runs.poll = 3600.0
    admin = Principal(key_id="anonymous", name="t", role=Role.ADMIN)

    async def stored(run_id: str, status: str) -> RunRecord:
        with anyio.fail_after(30):
            while True:
                run = await runs.get(admin, run_id)
                if run.status.value == status:
                    return run
                await anyio.sleep(0.01)

    async def next_state(states: AsyncIterator[RunRecord | None]) -> RunRecord:
        with anyio.fail_after(10):
            state = await anext(states)
        assert state is not None
        return state

    for tool, args, moved_on in (
        ("sleep", {"seconds": 60}, "running"),
        ("echo", {"text": "x"}, "success"),
    ):
        run_id = await start_run(gateway, gateway.admin_key, tool, args)
        states = runs.follow(await runs.get(admin, run_id), -1)
        first = await next_state(states)
        if first.status.value != moved_on:
            await stored(run_id, moved_on)  # the follower is "busy" meanwhile
            assert (await next_state(states)).status.value == moved_on
        await states.aclose()
        await runs.cancel(admin, run_id)


@pytest.mark.slow
async def test_runs_of_a_replica_that_stopped_renewing_its_lease_are_marked_interrupted(
    make_gateway: MakeGateway, backend: str
) -> None:
    secrets = secrets_section(backend)
    timeout = {"replica_timeout": "8s"}
    async with make_gateway(backend, secrets=secrets, http={"replica_id": "a"}, runs=timeout) as a:
        await a.add_server("fx")
        alive = await start_run(a, a.admin_key, "sleep", {"seconds": 60})
        await wait_run(a, a.admin_key, alive, "running")
        # A replica that died without a trace: its run is running, it holds no lease.
        ghost = replace(
            RunRecord(new_run_id(), "k", "admin", "u", "fx", "echo", "ghost", time.time()),
            status=RunStatus.RUNNING,
        )
        await a.runtime.store.create_run(ghost)
        async with make_gateway(
            backend, secrets=secrets, http={"replica_id": "b"}, runs=timeout
        ) as b:
            run = await wait_run(b, a.admin_key, ghost.id, "interrupted")
            assert "'ghost'" in run["error"]["error"] and "8 s" in run["error"]["error"]
            assert (await get_run(b, a.admin_key, alive))["status"] == "running"  # a renews
        await a.client.delete(f"/runs/{alive}", headers=a.admin)
