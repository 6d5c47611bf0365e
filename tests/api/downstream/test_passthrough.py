"""What an upstream sends towards the client during a call (sampling, elicitation, roots, log
messages) reaches the MCP client that made the call through the gateway, and its answers
reach the upstream; never another caller's client.

``fx`` is the stdio fixture serving the 2025-11-25 era only: a 2026-07-28 client reaches its
server requests as the gateway's own input-required rounds. (A 2026-07-28 client of an upstream
that speaks 2026-07-28 gets that upstream's own rounds relayed: test_era_translation.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError

from mcp_gateway.upstream.relay import AMBIGUOUS
from tests.api.downstream.conftest import MODES, LiveGateway
from tests.upstream.conftest import FIXTURE_SERVER, HttpFixture


async def _add_legacy_fx(live: LiveGateway) -> None:
    await live.add_server("fx", args=[FIXTURE_SERVER, "--legacy"])


@pytest.fixture
def http_upstream() -> Iterator[HttpFixture]:
    """The fixture server over Streamable HTTP, 2025-11-25 only (a subprocess, stopped after
    the test)."""
    upstream = HttpFixture(FIXTURE_SERVER, ("--legacy",))
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.stop()


def _text(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


async def _sampler(
    ctx: ClientRequestContext, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    prompt = params.messages[0].content
    assert isinstance(prompt, types.TextContent)
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=f"model saw {prompt.text}"),
        model="test-model",
    )


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["/mcp/fx", "/mcp"])
async def test_sampling_answered_by_the_client_reaches_the_upstream_tool(
    live: LiveGateway, mode: str, path: str
) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    tool = "sample" if path == "/mcp/fx" else "fx__sample"
    async with live.mcp_client(path, alice, mode=mode, sampling_callback=_sampler) as client:
        result = await client.call_tool(tool, {"prompt": "hello"})
    assert _text(result) == "sampled: model saw hello"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_elicitation_accept_and_decline_reach_the_upstream(
    live: LiveGateway, mode: str
) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    answers = [
        types.ElicitResult(action="accept", content={"name": "Alice"}),
        types.ElicitResult(action="decline"),
    ]
    asked: list[str] = []

    async def elicit(
        ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        return answers.pop(0)

    async with live.mcp_client("/mcp/fx", alice, mode=mode, elicitation_callback=elicit) as c:
        assert _text(await c.call_tool("ask_name", {"message": "Who?"})) == "accept Alice"
        assert _text(await c.call_tool("ask_name", {"message": "Who?"})) == "decline"
    assert asked == ["Who?", "Who?"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_url_elicitation_reaches_the_client(live: LiveGateway, mode: str) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    urls: list[str] = []

    async def elicit(
        ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams)
        urls.append(params.url)
        return types.ElicitResult(action="accept")

    async with live.mcp_client("/mcp/fx", alice, mode=mode, elicitation_callback=elicit) as c:
        result = await c.call_tool("ask_url", {"url": "https://example.com/consent"})
    assert _text(result) == "accept"
    assert urls == ["https://example.com/consent"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_roots_of_the_client_reach_the_upstream(live: LiveGateway, mode: str) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")

    async def roots(ctx: ClientRequestContext) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///home/alice/project")])

    async with live.mcp_client("/mcp/fx", alice, mode=mode, list_roots_callback=roots) as c:
        result = await c.call_tool("client_roots", {})
    assert json.loads(_text(result)) == ["file:///home/alice/project"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_client_without_the_capability_gets_the_upstream_an_error_naming_it(
    live: LiveGateway, mode: str
) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/fx", alice, mode=mode) as client:
        result = await client.call_tool("sample", {"prompt": "hello"})
    assert _text(result) == "error: the MCP client does not support sampling"


@pytest.mark.anyio
async def test_an_upstream_request_during_a_rest_call_is_refused_not_routed(
    live: LiveGateway,
) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    resp = await live.call(alice, "fx", "sample", {"prompt": "hi"})
    assert resp.status_code == 200, resp.text
    assert "no MCP client is waiting" in json.dumps(resp.json())


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_upstream_log_messages_of_a_call_reach_its_client_masked(
    live: LiveGateway, mode: str
) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "message", "alice-log-canary-5150")
    seen: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        seen.append(params)

    options: dict[str, Any] = {"logging_callback": on_log}
    if mode != "legacy":
        options["log_level"] = "debug"  # 2026-07-28: a per-request opt-in
    async with live.mcp_client("/mcp/fx", alice, mode=mode, **options) as client:
        result = await client.call_tool("log_message", {"level": "warning"})
        assert _text(result) == "logged"
    assert [p.level for p in seen] == ["warning"]
    assert seen[0].logger == "fixture"
    # The upstream logged the injected value; the client sees it masked.
    assert "alice-log-canary-5150" not in json.dumps(seen[0].data)
    assert "***" in json.dumps(seen[0].data)


def _sampler_of(who: str, seen: list[str]) -> Any:
    async def sample(
        ctx: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        prompt = params.messages[0].content
        assert isinstance(prompt, types.TextContent)
        seen.append(prompt.text)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"{who}'s model"),
            model="test-model",
        )

    return sample


async def _concurrent_samples(live: LiveGateway, path: str, mode: str) -> dict[str, str]:
    """alice and bob call ``sample`` at once on one shared server; each one's answer text."""
    keys = {who: await live.new_key("user", who) for who in ("alice", "bob")}
    seen: dict[str, list[str]] = {"alice": [], "bob": []}
    results: dict[str, str] = {}

    async def call(who: str) -> None:
        sampler = _sampler_of(who, seen[who])
        async with live.mcp_client(path, keys[who], mode=mode, sampling_callback=sampler) as c:
            result = await c.call_tool("sample", {"prompt": f"from {who}", "hold": 1.0})
            results[who] = _text(result)

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, "alice")
        tg.start_soon(call, "bob")
    # Whatever the routing could do, one user's prompt never reached the other's client.
    assert all(p == "from alice" for p in seen["alice"]), seen
    assert all(p == "from bob" for p in seen["bob"]), seen
    return results


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_callers_on_a_shared_http_server_each_get_their_own_requests(
    live: LiveGateway, http_upstream: HttpFixture, mode: str
) -> None:
    upstream = http_upstream
    body = {"name": "hx", "transportType": "streamable_http", "url": upstream.url}
    resp = await live.client.post("/mcp/servers", json=body, headers=live.admin)
    assert resp.status_code == 200, resp.text
    await live.wait_status("hx", "connected")
    results = await _concurrent_samples(live, "/mcp/hx", mode)
    assert results == {"alice": "sampled: alice's model", "bob": "sampled: bob's model"}


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_callers_on_a_shared_stdio_server_are_refused_not_crossed(
    live: LiveGateway, mode: str
) -> None:
    await _add_legacy_fx(live)
    results = await _concurrent_samples(live, "/mcp/fx", mode)
    # stdio carries no link between a request and its call: each is routed only while its
    # call is the sole one in flight, else refused.
    for who, text in results.items():
        assert text in (f"sampled: {who}'s model", f"error: {AMBIGUOUS}"), results


async def _modern_call(
    live: LiveGateway, key: str, arguments: dict[str, Any], **retry: Any
) -> dict[str, Any]:
    """A raw 2026-07-28 ``tools/call`` of ``ask_name`` on /mcp/fx (an eliciting client)."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    }
    params = {"name": "ask_name", "arguments": arguments, "_meta": meta, **retry}
    resp = await live.client.post(
        "/mcp/fx",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params},
        headers={
            **live.auth(key),
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "tools/call",
            "Mcp-Name": "ask_name",
        },
    )
    assert resp.status_code in (200, 400), resp.text  # a JSON-RPC error: 400
    if resp.headers["content-type"].startswith("text/event-stream"):
        data = [ln[5:] for ln in resp.text.splitlines() if ln.startswith("data:")]
        body: dict[str, Any] = json.loads(data[-1])
        return body
    answer: dict[str, Any] = resp.json()
    return answer


@pytest.mark.anyio
async def test_a_tampered_or_another_users_request_state_is_refused(live: LiveGateway) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    args = {"message": "Who?"}
    first = await _modern_call(live, alice, args)
    result = first["result"]
    assert result["resultType"] == "input_required"
    ((key, request),) = result["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    state = result["requestState"]
    # The state is sealed: the call's id is not readable in it.
    answer = {key: {"action": "accept", "content": {"name": "Alice"}}}
    flipped = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    for who, sent in ((alice, flipped), (bob, state), (alice, "plain-call-id")):
        refused = await _modern_call(live, who, args, requestState=sent, inputResponses=answer)
        assert refused["error"]["code"] == -32602, refused
        assert refused["error"]["message"] == "Invalid or expired requestState"
    # The same state with other arguments is refused too (bound to the request).
    other = await _modern_call(
        live, alice, {"message": "Else?"}, requestState=state, inputResponses=answer
    )
    assert other["error"]["code"] == -32602
    # The owner's untouched state still completes the call.
    done = await _modern_call(live, alice, args, requestState=state, inputResponses=answer)
    assert done["result"]["content"][0]["text"] == "accept Alice"


@pytest.fixture
def modern_upstream() -> Iterator[HttpFixture]:
    """The fixture over Streamable HTTP, 2026-07-28 only (it refuses ``initialize``)."""
    upstream = HttpFixture(FIXTURE_SERVER, ("--modern-only",))
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
async def test_a_2026_upstreams_input_required_result_is_answered_by_the_client(
    live: LiveGateway, modern_upstream: HttpFixture, mode: str
) -> None:
    body = {"name": "mx", "transportType": "streamable_http", "url": modern_upstream.url}
    resp = await live.client.post("/mcp/servers", json=body, headers=live.admin)
    assert resp.status_code == 200, resp.text
    await live.wait_status("mx", "connected")
    alice = await live.new_key("user", "alice")
    asked: list[str] = []

    async def elicit(
        ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": "Alice"})

    async with live.mcp_client("/mcp/mx", alice, mode=mode, elicitation_callback=elicit) as c:
        result = await c.call_tool("modern_ask_name", {"message": "Who?"})
    assert _text(result) == "accept Alice"
    assert asked == ["Who?"]


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")  # setLevel
async def test_set_level_filters_the_log_messages_a_legacy_client_gets(
    live: LiveGateway,
) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    seen: list[str] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        seen.append(params.level)

    async with live.mcp_client("/mcp/fx", alice, logging_callback=on_log) as client:
        await client.call_tool("log_message", {"message": "m", "level": "info"})
        await client.set_logging_level("warning")
        await client.call_tool("log_message", {"message": "m", "level": "info"})
        await client.call_tool("log_message", {"message": "m", "level": "error"})
    assert seen == ["info", "error"]


@pytest.mark.anyio
async def test_an_injected_secret_the_upstream_puts_in_a_sampling_prompt_is_masked(
    live: LiveGateway,
) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "prompt", "alice-prompt-canary-8080")
    seen: list[str] = []
    async with live.mcp_client(
        "/mcp/fx", alice, sampling_callback=_sampler_of("alice", seen)
    ) as client:
        result = await client.call_tool("sample", {})
    assert _text(result) == "sampled: alice's model"
    assert seen and not any("alice-prompt-canary-8080" in p for p in seen)
    assert "***" in seen[0]


@pytest.mark.anyio
async def test_a_retry_without_the_answers_is_asked_again(live: LiveGateway) -> None:
    await _add_legacy_fx(live)
    alice = await live.new_key("user", "alice")
    args = {"message": "Who?"}
    first = (await _modern_call(live, alice, args))["result"]
    again = await _modern_call(live, alice, args, requestState=first["requestState"])
    result = again["result"]
    assert result["resultType"] == "input_required"
    assert result["inputRequests"] == first["inputRequests"]
    (key,) = result["inputRequests"]
    answer = {key: {"action": "decline"}}
    done = await _modern_call(
        live, alice, args, requestState=result["requestState"], inputResponses=answer
    )
    assert done["result"]["content"][0]["text"] == "decline"


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_2026_upstream_that_never_stops_asking_ends_in_an_error(
    live: LiveGateway, modern_upstream: HttpFixture
) -> None:
    body = {"name": "mx", "transportType": "streamable_http", "url": modern_upstream.url}
    resp = await live.client.post("/mcp/servers", json=body, headers=live.admin)
    assert resp.status_code == 200, resp.text
    await live.wait_status("mx", "connected")
    alice = await live.new_key("user", "alice")

    async def roots(ctx: ClientRequestContext) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[])

    async with live.mcp_client("/mcp/mx", alice, list_roots_callback=roots) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("modern_ask_forever", {})
    assert "asked for input more than" in caught.value.error.message
