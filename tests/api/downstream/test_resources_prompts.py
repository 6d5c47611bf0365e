"""Resources, resource templates, prompts and completions at ``/mcp/{server}`` and ``/mcp``,
driven by the official SDK client in both protocol eras."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from mcp_gateway.domain.resource_uris import gateway_uri
from mcp_gateway.domain.tool_names import namespaced
from tests.api.conftest import secrets_section
from tests.api.downstream.conftest import MODES, LiveGateway, MakeLive

# Each starts a gateway and fixture servers: several seconds apiece.
pytestmark = pytest.mark.slow

TINY = str(Path(__file__).resolve().parents[2] / "fixtures" / "tiny_stdio_server.py")


async def _capabilities(client: Client, mode: str) -> types.ServerCapabilities:
    """What the endpoint advertises: the ``initialize`` answer, or ``server/discover``'s (a
    2026-07-28 client in that mode does not ask by itself)."""
    if mode == "legacy":
        return client.server_capabilities
    raw = await client.session.send_discover(mode)
    return types.DiscoverResult.model_validate(raw).capabilities


def _text(contents: list[types.TextResourceContents | types.BlobResourceContents]) -> str:
    assert len(contents) == 1 and isinstance(contents[0], types.TextResourceContents)
    return contents[0].text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_server_endpoint_passes_resources_prompts_and_completions_through(
    make_live: MakeLive, backend: str, mode: str
) -> None:
    async with make_live(backend, secrets=secrets_section(backend)) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        async with live.mcp_client("/mcp/fx", alice, mode=mode) as client:
            caps = await _capabilities(client, mode)
            assert caps.resources is not None and caps.prompts is not None
            assert caps.completions is not None
            listed = await client.list_resources()
            assert {r.uri for r in listed.resources} == {"fixture://readme", "fixture://kept"}
            assert listed.cache_scope == "private"
            templates = await client.list_resource_templates()
            assert [t.uri_template for t in templates.resource_templates] == [
                "fixture://env/{name}"
            ]
            read = await client.read_resource("fixture://readme")
            assert _text(read.contents) == "fixture readme"
            assert read.contents[0].uri == "fixture://readme"
            prompts = await client.list_prompts()
            assert [p.name for p in prompts.prompts] == ["greet"]
            prompt = await client.get_prompt("greet", {"name": "Ada", "style": "pirate"})
            content = prompt.messages[0].content
            assert isinstance(content, types.TextContent)
            assert content.text == "Greet Ada in a pirate style."
            done = await client.complete(
                types.PromptReference(type="ref/prompt", name="greet"),
                {"name": "style", "value": "p"},
            )
            assert done.completion.values == ["plain", "pirate", "poem"]
            with pytest.raises(MCPError) as unknown:
                await client.read_resource("fixture://nosuch")
            assert unknown.value.error.code == types.INVALID_PARAMS  # the upstream's code
            assert "nosuch" in unknown.value.error.message
        # A read and a prompt are audited like calls: who, where, what; never the content.
        events = await _audited(live, {"resource_read", "prompt_get"}, 3)
        assert all(e.username == "alice" and e.server == "fx" for e in events)
        assert {(e.action, e.tool, e.outcome) for e in events} == {
            ("resource_read", "fixture://readme", "ok"),
            ("prompt_get", "greet", "ok"),
            ("resource_read", "fixture://nosuch", "upstream_error"),
        }
        assert not any("fixture readme" in repr(e) or "Ada" in repr(e) for e in events)


async def _audited(live: LiveGateway, actions: set[str], count: int) -> list[object]:
    with anyio.fail_after(20):
        while True:
            events = [e for e in await live.runtime.store.list_audit(50) if e.action in actions]
            if len(events) >= count:
                return events
            await anyio.sleep(0.05)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_aggregated_endpoint_rewrites_uris_and_routes_reads_prompts_and_completions(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
    await live.add_server("My Server.v2")
    spec = [{"name": "TOKEN", "as": "env"}]
    await live.add_server("pu", isolation="per_user", secrets=spec, wait=False)
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    await live.set_secret(alice, "pu", "TOKEN", "alice-pu-canary-4242")
    await live.set_secret(bob, "pu", "TOKEN", "bob-pu-canary-1717")
    spaced = gateway_uri("My Server.v2", "fixture://readme")
    assert spaced.startswith("mcpgw:My-Server-v2-") and spaced.endswith("/fixture://readme")
    async with live.mcp_client("/mcp", alice, mode=mode) as client:
        uris = {r.uri for r in (await client.list_resources()).resources}
        readmes = {"mcpgw:fx/fixture://readme", spaced, "mcpgw:pu/fixture://readme"}
        assert readmes | {"mcpgw:fx/fixture://kept"} <= uris
        for uri in readmes:
            read = await client.read_resource(uri)
            assert _text(read.contents) == "fixture readme"
            assert read.contents[0].uri == uri  # the result names the routable URI too
        templates = {
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        }
        assert "mcpgw:pu/fixture://env/{name}" in templates
        # An expanded template is routable: alice's per-user session has alice's secret.
        mine = await client.read_resource("mcpgw:pu/fixture://env/TOKEN")
        assert _text(mine.contents) == "alice-pu-canary-4242"
        names = {p.name for p in (await client.list_prompts()).prompts}
        assert {"fx__greet", namespaced("My Server.v2", "greet"), "pu__greet"} <= names
        prompt = await client.get_prompt(namespaced("My Server.v2", "greet"), {"name": "Bo"})
        content = prompt.messages[0].content
        assert isinstance(content, types.TextContent)
        assert content.text == "Greet Bo in a plain style."
        by_prompt = await client.complete(
            types.PromptReference(type="ref/prompt", name="fx__greet"),
            {"name": "style", "value": "po"},
        )
        assert by_prompt.completion.values == ["poem"]
        by_template = await client.complete(
            types.ResourceTemplateReference(
                type="ref/resource", uri="mcpgw:pu/fixture://env/{name}"
            ),
            {"name": "name", "value": "T"},
        )
        assert by_template.completion.values == ["TOKEN", "TEXT"]
        for unknown in ("mcpgw:nosuch/fixture://readme", "fixture://readme", "mcpgw:fx/x://no"):
            with pytest.raises(MCPError) as refused:
                await client.read_resource(unknown)
            assert refused.value.error.code == types.INVALID_PARAMS
        with pytest.raises(MCPError) as no_prompt:
            await client.get_prompt("nosuch__greet", {"name": "x"})
        assert no_prompt.value.error.code == types.INVALID_PARAMS
    # Bob reading the same URI reaches his own session, never alice's.
    async with live.mcp_client("/mcp", bob, mode=mode) as client:
        theirs = await client.read_resource("mcpgw:pu/fixture://env/TOKEN")
        assert _text(theirs.contents) == "bob-pu-canary-1717"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_each_endpoint_advertises_only_what_its_servers_offer(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("tiny", command=sys.executable, args=[TINY])
    key = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/tiny", key, mode=mode) as client:
        caps = await _capabilities(client, mode)
        assert caps.tools is not None
        assert caps.resources is None and caps.prompts is None and caps.completions is None
    async with live.mcp_client("/mcp", key, mode=mode) as client:
        caps = await _capabilities(client, mode)
        assert caps.tools is not None
        assert caps.resources is None and caps.prompts is None and caps.completions is None
    await live.add_server("fx")  # now one server offers them
    async with live.mcp_client("/mcp", key, mode=mode) as client:
        caps = await _capabilities(client, mode)
        assert caps.resources is not None and caps.prompts is not None
        assert caps.completions is not None


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_an_upstream_json_rpc_error_of_a_tool_keeps_its_code_with_the_secret_masked(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    await live.set_secret(alice, "fx", "token", "alice-rpc-canary-9090")
    async with live.mcp_client("/mcp/fx", alice, mode=mode) as client:
        with pytest.raises(MCPError) as failed:
            await client.call_tool("fail_with_args", {"mode": "protocol"})
    assert failed.value.error.code == -32000  # the upstream's, not a generic -32603
    assert "alice-rpc-canary-9090" not in repr(failed.value.error)
    assert "failed with" in failed.value.error.message


@pytest.mark.anyio
async def test_a_shared_servers_resource_never_shows_another_users_secret(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    await live.set_secret(alice, "fx", "token", "alice-kept-canary-5150")
    async with live.mcp_client("/mcp/fx", alice) as client:
        assert not (await client.call_tool("log_args", {"text": "hi"})).is_error
        own = await client.read_resource("fixture://kept")
        assert _text(own.contents) == "kept token: alice-kept-canary-5150"  # her own value
    async with live.mcp_client("/mcp", bob) as client:
        theirs = await client.read_resource("mcpgw:fx/fixture://kept")
        text = _text(theirs.contents)
        assert text.startswith("kept token: ") and "alice-kept-canary-5150" not in text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_toolset_endpoint_serves_no_resources_prompts_or_completions(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
    resp = await live.client.put(
        "/admin/toolsets/t", json={"tools": [{"server": "fx", "tool": "*"}]}, headers=live.admin
    )
    assert resp.status_code == 200, resp.text
    key = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/toolsets/t", key, mode=mode) as client:
        caps = await _capabilities(client, mode)
        assert caps.tools is not None
        assert caps.resources is None and caps.prompts is None and caps.completions is None
        assert (await client.list_resources()).resources == []
        assert (await client.list_prompts()).prompts == []
        with pytest.raises(MCPError) as read:
            await client.read_resource("mcpgw:fx/fixture://readme")
        assert read.value.error.code == types.INVALID_PARAMS
        with pytest.raises(MCPError) as prompt:
            await client.get_prompt("fx__greet", {"name": "x"})
        assert prompt.value.error.code == types.INVALID_PARAMS
