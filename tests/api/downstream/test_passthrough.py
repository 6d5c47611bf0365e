"""What an upstream sends towards the client during a call (sampling, elicitation, roots, log
messages) reaches the MCP client that made the call through the gateway, and its answers
reach the upstream; never another caller's client."""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext

from tests.api.downstream.conftest import MODES, LiveGateway


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
    await live.add_server("fx")
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
    await live.add_server("fx")
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
    await live.add_server("fx")
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
    await live.add_server("fx")
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
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/fx", alice, mode=mode) as client:
        result = await client.call_tool("sample", {"prompt": "hello"})
    assert _text(result) == "error: the MCP client does not support sampling"


@pytest.mark.anyio
async def test_an_upstream_request_during_a_rest_call_is_refused_not_routed(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    resp = await live.call(alice, "fx", "sample", {"prompt": "hi"})
    assert resp.status_code == 200, resp.text
    assert "no MCP client is waiting" in json.dumps(resp.json())


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_upstream_log_messages_of_a_call_reach_its_client_masked(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
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
