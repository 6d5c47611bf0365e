"""``/mcp/{server}`` driven by the official MCP SDK client, both protocol eras."""

from __future__ import annotations

import json

import anyio
import pytest

from mcp_gateway.api.downstream.server import ERROR_META_KEY, error_result
from mcp_gateway.errors import ReauthRequired
from tests.api.conftest import secrets_section
from tests.api.downstream.conftest import MODES, LiveGateway, MakeLive


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_server_endpoint_lists_unprefixed_tools_and_calls_with_the_users_secret(
    make_live: MakeLive, backend: str, mode: str
) -> None:
    async with make_live(backend, secrets=secrets_section(backend)) as live:
        await _lists_and_calls(live, mode)


async def _lists_and_calls(live: LiveGateway, mode: str) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "token", "alice-mcp-canary-31337")
    async with live.mcp_client("/mcp/fx", alice, mode=mode) as client:
        listed = await client.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        assert {"echo", "echo_args", "add"} <= set(tools)
        # The injected argument is hidden from alice's schema, as in the REST listing.
        assert "token" not in tools["echo_args"].input_schema["properties"]
        assert "text" in tools["echo_args"].input_schema["properties"]
        result = await client.call_tool("echo_args", {"text": "hi", "token": "forged"})
        assert not result.is_error
        assert result.content[0].type == "text"
        seen = json.loads(result.content[0].text)
        assert seen == {"text": "hi", "token": "alice-mcp-canary-31337", "api_key": "", "extra": ""}


@pytest.mark.anyio
async def test_missing_required_secret_is_an_error_result_naming_it_and_the_call_is_audited(
    live: LiveGateway,
) -> None:
    spec = [{"name": "API_KEY", "as": "arg", "target": "api_key"}]
    await live.add_server("fx", secrets=spec)
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/fx", alice) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "api_key" not in tools["echo_args"].input_schema["properties"]
        result = await client.call_tool("echo_args", {"text": "hi"})
        assert result.is_error
        assert result.content[0].type == "text"
        assert "API_KEY" in result.content[0].text
        assert result.meta is not None
        assert result.meta[ERROR_META_KEY]["code"] == "missing_secret"
        await live.set_secret(alice, "fx", "API_KEY", "alice-key-canary-777")
        ok = await client.call_tool("echo_args", {"text": "hi"})
        assert not ok.is_error and "alice-key-canary-777" in ok.content[0].text  # type: ignore[union-attr]
    # The one tool-call path audited both calls, for alice's key, never a value.
    with anyio.fail_after(20):
        while True:
            events = [e for e in await live.runtime.store.list_audit(50) if e.action == "tool_call"]
            if len(events) >= 2:
                break
            await anyio.sleep(0.05)
    assert {e.outcome for e in events} == {"missing_secret", "ok"}
    assert all(e.username == "alice" and e.server == "fx" for e in events)
    assert not any("alice-key-canary-777" in repr(e) for e in events)


def test_an_oauth_login_to_make_is_an_error_result_with_the_authorization_url() -> None:
    url = "https://gw.example/oauth/start?ticket=abc"
    result = error_result(ReauthRequired("server 'gh' needs a login", authorization_url=url))
    assert result.is_error
    assert result.content[0].type == "text" and url in result.content[0].text
    assert result.meta is not None
    error = result.meta[ERROR_META_KEY]
    assert error["code"] == "reauth_required" and error["authorizationUrl"] == url
