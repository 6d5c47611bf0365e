"""The fast path (api/downstream/fastpath.py): plain ``tools/call`` requests answered with one
JSON body by the SDK's kernel, after every edge check the SDK path has; anything it does not
serve still reaches the SDK. Raw HTTP where the point is what the wire carries."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.api.downstream.conftest import LiveGateway
from tests.api.downstream.test_cancellation import _in_flight
from tests.api.downstream.test_edge import _INIT, _headers, _in_session

MODERN = "2026-07-28"
_ECHO = {"name": "echo", "arguments": {"text": "hi"}}


def _call(request_id: int, params: dict[str, Any], modern: bool = False) -> dict[str, Any]:
    if modern:
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
        }
        params = {**params, "_meta": {**meta, **params.get("_meta", {})}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def _modern(key: str, name: str = "echo", **extra: str) -> dict[str, str]:
    routing = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name}
    return _headers(key, **routing, **extra)


async def _session(live: LiveGateway, path: str, key: str, init: dict[str, Any] = _INIT) -> str:
    opened = await live.client.post(path, json=init, headers=_headers(key))
    assert opened.status_code == 200, opened.text
    session: str = opened.headers["mcp-session-id"]
    ack = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    await live.client.post(path, json=ack, headers=_in_session(key, session))
    return session


def _sse_messages(text: str) -> list[dict[str, Any]]:
    # (an empty data line: a priming event, which carries only an id and the retry field)
    lines = [line[5:] for line in text.splitlines() if line.startswith("data:")]
    return [json.loads(data) for data in lines if data.strip()]


@pytest.mark.anyio
async def test_plain_calls_of_both_eras_are_answered_with_one_json_body(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    session = await _session(live, "/mcp/fx", alice)
    legacy = await live.client.post(
        "/mcp/fx", json=_call(3, _ECHO), headers=_in_session(alice, session)
    )
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert legacy.headers["mcp-session-id"] == session
    assert legacy.json()["id"] == 3 and legacy.json()["result"]["content"][0]["text"] == "hi"
    modern = await live.client.post(
        "/mcp/fx", json=_call(4, _ECHO, modern=True), headers=_modern(alice)
    )
    assert modern.status_code == 200, modern.text
    assert modern.headers["content-type"] == "application/json"
    body = modern.json()
    assert body["result"]["content"][0]["text"] == "hi"
    assert body["result"]["resultType"] == "complete"  # the SDK kernel shaped it
    # tools/list of a legacy session keeps the SDK path (its list_changed needs the session).
    listed = await live.client.post(
        "/mcp/fx",
        json={"jsonrpc": "2.0", "id": 5, "method": "tools/list"},
        headers=_in_session(alice, session),
    )
    assert listed.headers["content-type"].startswith("text/event-stream")


@pytest.mark.anyio
@pytest.mark.slow
async def test_fast_path_requests_still_get_every_edge_refusal(make_live: Any) -> None:
    async with make_live(http={"max_body": 64 * 1024}) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        bob = await live.new_key("user", "bob")
        session = await _session(live, "/mcp/fx", alice)
        call = _call(3, _ECHO)
        modern = _call(3, _ECHO, modern=True)
        evil = {"Origin": "https://evil.example"}
        for body, headers in (
            (call, _in_session(alice, session, **evil)),
            (modern, _modern(alice, **evil)),
        ):
            foreign = await live.client.post("/mcp/fx", json=body, headers=headers)
            assert foreign.status_code == 403, foreign.text
        # Another principal presenting alice's session id: the SDK's 404, as for an unknown id.
        stolen = await live.client.post("/mcp/fx", json=call, headers=_in_session(bob, session))
        assert stolen.status_code == 404
        elsewhere = await live.client.post("/mcp", json=call, headers=_in_session(alice, session))
        assert elsewhere.status_code == 404  # the session belongs to /mcp/fx
        for version in ("1999-01-01", "2025-13-01"):
            bad = await live.client.post(
                "/mcp/fx",
                json=modern,
                headers=_headers(alice, **{"MCP-Protocol-Version": version}),
            )
            assert bad.status_code == 400, (version, bad.text)
        # Accept without text/event-stream: the SDK's 406 in both eras, never a fast answer.
        for body, headers in (
            (call, _in_session(alice, session)),
            (modern, _modern(alice)),
        ):
            headers["Accept"] = "application/json"
            picky = await live.client.post("/mcp/fx", json=body, headers=headers)
            assert picky.status_code == 406
        big = {**call, "params": {**_ECHO, "arguments": {"text": "x" * (65 * 1024)}}}
        too_big = await live.client.post("/mcp/fx", json=big, headers=_in_session(alice, session))
        assert too_big.status_code == 413
        # No key at all: 401 before anything else.
        no_key = {k: v for k, v in _modern(alice).items() if k != "Authorization"}
        anonymous = await live.client.post("/mcp/fx", json=modern, headers=no_key)
        assert anonymous.status_code == 401


@pytest.mark.anyio
async def test_fast_path_answers_what_the_sdk_path_answers_and_audits_the_same(
    live: LiveGateway,
) -> None:
    spec = [{"name": "API_KEY", "as": "arg", "target": "api_key"}]
    await live.add_server("fx", secrets=spec)
    alice = await live.new_key("user", "alice")
    fast = await _session(live, "/mcp", alice)
    # A client that declared roots keeps the SDK path (an upstream could ask it something).
    roots = {**_INIT, "params": {**_INIT["params"], "capabilities": {"roots": {}}}}
    slow = await _session(live, "/mcp", alice, roots)
    answers: dict[bool, list[Any]] = {True: [], False: []}
    for params in (
        {"name": "fx__echo_args", "arguments": {"text": "hi"}},  # missing secret
        {"name": "nope__tool", "arguments": {}},  # a JSON-RPC error
        "ok",
    ):
        if params == "ok":
            await live.set_secret(alice, "fx", "API_KEY", "alice-fast-canary-4242")
            params = {"name": "fx__echo", "arguments": {"text": "hi"}}
        for session, expect_json in ((fast, True), (slow, False)):
            resp = await live.client.post(
                "/mcp", json=_call(9, params), headers=_in_session(alice, session)
            )
            assert resp.status_code == 200
            is_json = resp.headers["content-type"] == "application/json"
            assert is_json is expect_json
            answers[is_json].append(resp.json() if is_json else _sse_messages(resp.text)[-1])
    assert answers[True] == answers[False]
    missing, unknown, ok = answers[True]
    assert missing["result"]["isError"] and "API_KEY" in missing["result"]["content"][0]["text"]
    assert missing["result"]["_meta"]["io.mcp-gateway/error"]["code"] == "missing_secret"
    assert unknown["error"]["code"] == -32602 and "nope" in unknown["error"]["message"]
    assert ok["result"]["content"][0]["text"] == "hi"
    with anyio.fail_after(30):
        while True:
            events = [e for e in await live.runtime.store.list_audit(50) if e.action == "tool_call"]
            if len(events) >= 4:
                break
            await anyio.sleep(0.05)
    outcomes = sorted((e.outcome, e.tool, e.username, e.actor) for e in events)
    assert outcomes[0::2] == outcomes[1::2]  # each call audited alike on both paths
    assert {o[0] for o in outcomes} == {"missing_secret", "ok"}
    assert not any("alice-fast-canary-4242" in repr(e) for e in events)


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_progress_token_keeps_the_streamed_sdk_path_in_both_eras(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    session = await _session(live, "/mcp/fx", alice)
    params = {"name": "progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "p1"}}
    for body, headers in (
        (_call(4, params), _in_session(alice, session)),
        (_call(4, params, modern=True), _modern(alice, name="progress")),
    ):
        resp = await live.client.post("/mcp/fx", json=body, headers=headers)
        assert resp.headers["content-type"].startswith("text/event-stream"), resp.text
        messages = _sse_messages(resp.text)
        notes = [m for m in messages if m.get("method") == "notifications/progress"]
        assert [n["params"]["progressToken"] for n in notes] == ["p1", "p1"]
        assert messages[-1]["id"] == 4 and "result" in messages[-1]


@pytest.mark.anyio
@pytest.mark.slow
async def test_cancelling_or_leaving_a_fast_path_call_frees_the_upstream_call(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    session = await _session(live, "/mcp/fx", alice)
    sleep = {"name": "sleep", "arguments": {"seconds": 120}}
    answer: list[httpx2.Response] = []
    # Legacy: the client's notifications/cancelled names a request the SDK session never saw.
    async with anyio.create_task_group() as tg:

        async def hang() -> None:
            answer.append(
                await live.client.post(
                    "/mcp/fx", json=_call(7, sleep), headers=_in_session(alice, session)
                )
            )

        tg.start_soon(hang)
        await _in_flight(live, "fx", 1)
        cancel = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": 7, "reason": "changed my mind"},
        }
        ack = await live.client.post("/mcp/fx", json=cancel, headers=_in_session(alice, session))
        assert ack.status_code == 202
    await _in_flight(live, "fx", 0)
    assert answer[0].json()["error"]["code"] == -32800
    # 2026-07-28: closing the request's connection is the cancellation.
    async with httpx2.AsyncClient(base_url=live.url) as own:  # its own connection, closed below
        async with anyio.create_task_group() as tg:

            async def leave() -> None:
                await own.post(
                    "/mcp/fx",
                    json=_call(8, sleep, modern=True),
                    headers=_modern(alice, name="sleep"),
                )

            tg.start_soon(leave)
            await _in_flight(live, "fx", 1)
            tg.cancel_scope.cancel()
    await _in_flight(live, "fx", 0)
    with anyio.fail_after(30):
        while True:
            events = [e for e in await live.runtime.store.list_audit(50) if e.tool == "sleep"]
            if len(events) >= 2:
                break
            await anyio.sleep(0.05)
    assert {e.outcome for e in events} == {"cancelled"}


@pytest.mark.anyio
async def test_mcp_param_headers_are_checked_against_the_callers_listed_schema(
    live: LiveGateway,
) -> None:
    conformance = str(Path(__file__).parents[2] / "fixtures" / "conformance_server.py")
    await live.add_server("cf", command=sys.executable, args=[conformance, "--stdio"])
    alice = await live.new_key("user", "alice")
    params = {"name": "test_header_param", "arguments": {"region": "eu-west"}}
    headers = _modern(alice, name="test_header_param")
    missing = await live.client.post("/mcp/cf", json=_call(5, params, modern=True), headers=headers)
    assert missing.status_code == 400, missing.text  # the header the schema declares is absent
    assert missing.json()["error"]["code"] == -32020
    wrong = await live.client.post(
        "/mcp/cf",
        json=_call(6, params, modern=True),
        headers={**headers, "Mcp-Param-Region": "us-east"},
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == -32020
    right = await live.client.post(
        "/mcp/cf",
        json=_call(7, params, modern=True),
        headers={**headers, "Mcp-Param-Region": "eu-west"},
    )
    assert right.status_code == 200, right.text
    assert right.headers["content-type"] == "application/json"
    assert right.json()["result"]["content"][0]["text"] == "region eu-west"


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_fast_path_call_holds_its_sessions_idle_clock(make_live: Any) -> None:
    async with make_live(endpoint={"session_idle": 2.0}) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        session = await _session(live, "/mcp/fx", alice)
        slow = {"name": "sleep", "arguments": {"seconds": 4.5}}
        resp = await live.client.post(
            "/mcp/fx", json=_call(3, slow), headers=_in_session(alice, session)
        )
        assert resp.headers["content-type"] == "application/json" and "result" in resp.json()
        # The call outlived the idle timeout; the session did not end under it.
        after = await live.client.post(
            "/mcp/fx", json=_call(4, _ECHO), headers=_in_session(alice, session)
        )
        assert after.status_code == 200, after.text


@pytest.mark.anyio
async def test_a_2026_request_carrying_a_session_id_registers_nothing_under_it(
    live: LiveGateway,
) -> None:
    # A 2026-07-28 request has no session, so its Mcp-Session-Id is never checked against
    # its caller: bob naming alice's session (or any made-up id) must not take her session's
    # list_changed watcher nor leave one behind.
    from tests.api.downstream.test_notifications import _endpoint

    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    session = await _session(live, "/mcp/fx", alice)
    watchers = _endpoint(live).changes._watchers
    listing = {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {}}
    listing["params"] = _call(5, {}, modern=True)["params"]
    for named in (session, "ab" * 24):
        headers = _headers(bob, **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}) | {
            "Mcp-Session-Id": named
        }
        answered = await live.client.post("/mcp/fx", json=listing, headers=headers)
        assert answered.status_code == 200, answered.text
    assert session not in watchers and "ab" * 24 not in watchers
    # alice's own legacy listing still registers her session
    mine = {"jsonrpc": "2.0", "id": 6, "method": "tools/list"}
    assert (
        await live.client.post("/mcp/fx", json=mine, headers=_in_session(alice, session))
    ).status_code == 200
    assert watchers[session].caller.username == "alice"


@pytest.mark.anyio
async def test_a_session_deleted_while_a_calls_body_arrives_is_not_served_by_the_fast_path(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    session = await _session(live, "/mcp/fx", alice)
    body = json.dumps(_call(3, _ECHO)).encode()
    started, deleted = anyio.Event(), anyio.Event()

    async def slowly() -> Any:
        yield body[:10]
        started.set()  # the gateway has the headers and reads the body
        await deleted.wait()
        yield body[10:]

    async def delete() -> None:
        await started.wait()
        ended = await live.client.delete("/mcp/fx", headers=_in_session(alice, session))
        assert ended.status_code == 200, ended.text
        deleted.set()

    headers = _in_session(alice, session) | {
        "Content-Length": str(len(body)),
        "Content-Type": "application/json",
    }
    async with anyio.create_task_group() as tg:
        tg.start_soon(delete)
        answered = await live.client.post("/mcp/fx", content=slowly(), headers=headers)
    assert answered.status_code == 404, answered.text
