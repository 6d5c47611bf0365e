"""``mcp-gateway connect``: a stdio MCP client reaches the gateway's endpoint through it."""

from __future__ import annotations

import json
import os
import sys

import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from tests.api.downstream.conftest import LiveGateway
from tests.api.downstream.heard import RESOURCES, Heard
from tests.gateway_process import ROOT


def _bridge(live: LiveGateway, key: str, *args: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGW_")}
    env.update(MCPGW_URL=live.url, MCPGW_API_KEY=key)  # the key in the environment, not argv
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_gateway", "connect", *args],
        env=env,
        cwd=str(ROOT),
    )


def _text(result: types.CallToolResult) -> str:
    assert not result.is_error and isinstance(result.content[0], types.TextContent), result
    return result.content[0].text


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("args", [(), ("--server", "fx")])
async def test_a_stdio_client_gets_tools_resources_prompts_and_notifications_through_connect(
    live: LiveGateway, args: tuple[str, ...]
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "token", "connect-canary-55")
    prefix, uri_prefix = ("", "") if args else ("fx__", "mcpgw:fx/")
    readme = f"{uri_prefix}fixture://readme"
    heard = Heard()
    async with Client(_bridge(live, alice, *args), mode="legacy", message_handler=heard) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert f"{prefix}echo_args" in tools  # the user's secret: hidden, then injected
        assert "token" not in tools[f"{prefix}echo_args"].input_schema["properties"]
        seen = json.loads(_text(await client.call_tool(f"{prefix}echo_args", {"text": "via"})))
        assert seen["text"] == "via" and seen["token"] == "connect-canary-55"
        caps = client.server_capabilities
        assert caps.resources is not None and caps.resources.subscribe
        assert caps.prompts is not None and caps.completions is not None
        assert readme in {r.uri for r in (await client.list_resources()).resources}
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == [f"{uri_prefix}fixture://env/{{name}}"]
        read = await client.read_resource(readme)
        assert isinstance(read.contents[0], types.TextResourceContents)
        assert read.contents[0].text == "fixture readme"
        prompt = await client.get_prompt(f"{prefix}greet", {"name": "Ann"})
        content = prompt.messages[0].content
        assert isinstance(content, types.TextContent) and "Greet Ann" in content.text
        ref = types.PromptReference(type="ref/prompt", name=f"{prefix}greet")
        done = await client.complete(ref, {"name": "style", "value": "pi"})
        assert done.completion.values == ["pirate"]
        # The gateway's notifications reach the stdio client.
        await heard.until(
            lambda: heard.count[RESOURCES] > 0,
            # Through REST, on the server's own session: the bridge speaks 2026-07-28, whose
            # calls take another process of the stdio server (docs/mcp-endpoint.md).
            lambda: live.call(alice, "fx", "trigger_resources_changed"),
        )
        request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=readme))
        await client.session.send_request(request, types.EmptyResult)
        await heard.until(
            lambda: bool(heard.updated),
            lambda: live.call(alice, "fx", "touch_resource", {"uri": "fixture://readme"}),
        )
        assert set(heard.updated) == {readme}
