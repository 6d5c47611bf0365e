"""``list_changed`` of resources and prompts, and relayed resource subscriptions, at ``/mcp``,
``/mcp/{server}`` and ``/mcp/toolsets/{name}``, in both eras, through the official SDK client
and the fixture server (which emits them on demand)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from starlette.routing import Route

from mcp_gateway.api.downstream import subscriptions
from mcp_gateway.api.downstream.endpoint import McpEndpoint
from tests.api.downstream.conftest import MODES, LiveGateway
from tests.api.downstream.heard import PROMPTS, RESOURCES, TOOLS, Heard
from tests.upstream.conftest import FIXTURE_SERVER, HttpFixture

# Each starts a gateway and a fixture server: several seconds apiece.
pytestmark = pytest.mark.slow


@asynccontextmanager
async def _client(
    live: LiveGateway, path: str, key: str, mode: str, heard: Heard, **listen: object
) -> AsyncIterator[Client]:
    """An SDK client at ``path`` whose notifications ``heard`` records: its message handler
    (legacy; after listing what it wants to hear of) or a listen stream (2026-07-28)."""
    async with AsyncExitStack() as stack:
        handler = {"message_handler": heard} if mode == "legacy" else {}
        client = await stack.enter_async_context(live.mcp_client(path, key, mode=mode, **handler))
        if mode == "legacy":
            await client.list_tools()
            if "/toolsets/" not in path:
                await client.list_resources()
                await client.list_prompts()
        else:
            sub = await stack.enter_async_context(client.listen(**listen))  # type: ignore[arg-type]
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)

            async def drain() -> None:
                async for event in sub:
                    heard.event(event)

            tg.start_soon(drain)
        yield client


async def _upstream_tool(
    live: LiveGateway, key: str, name: str, args: dict[str, object] | None = None
) -> str:
    """A tool of ``fx`` run through REST, on the server's own session (where the gateway
    lists and subscribes): a 2026-07-28 client's call takes a 2026-07-28 session, another
    process over stdio (docs/mcp-endpoint.md, "Protocol eras")."""
    resp = await live.call(key, "fx", name, args)
    assert resp.status_code == 200, resp.text
    text: str = resp.json()["data"]["content"][0]["text"]
    return text


async def _tool(client: Client, name: str, args: dict[str, object] | None = None) -> str:
    result = await client.call_tool(name, args or {})
    assert not result.is_error, result
    content = result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_resource_and_prompt_list_changes_reach_mcp_and_server_clients_not_toolsets(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
    resp = await live.client.put(
        "/admin/toolsets/t", json={"tools": [{"server": "fx", "tool": "*"}]}, headers=live.admin
    )
    assert resp.status_code == 200, resp.text
    alice = await live.new_key("user", "alice")
    every = {"tools_list_changed": True, "resources_list_changed": True}
    every["prompts_list_changed"] = True
    on_mcp, on_fx, on_toolset = Heard(), Heard(), Heard()
    async with (
        _client(live, "/mcp", alice, mode, on_mcp, **every) as agg,
        _client(live, "/mcp/fx", alice, mode, on_fx, **every),
        _client(live, "/mcp/toolsets/t", alice, mode, on_toolset, **every),
    ):
        if mode == "legacy":
            caps = agg.server_capabilities
            assert caps.resources is not None and caps.resources.list_changed
            assert caps.prompts is not None and caps.prompts.list_changed
        # The upstream announces a new resource, then a new prompt.
        added: list[str] = []

        async def new_resource() -> None:
            added.append(await _upstream_tool(live, alice, "trigger_resources_changed"))

        await on_mcp.until(lambda: on_mcp.count[RESOURCES] > 0, new_resource)
        uris = {r.uri for r in (await agg.list_resources()).resources}
        assert {f"mcpgw:fx/{uri}" for uri in added} <= uris
        await on_fx.until(lambda: on_fx.count[RESOURCES] > 0, new_resource)
        prompts: list[str] = []

        async def new_prompt() -> None:
            prompts.append(await _upstream_tool(live, alice, "trigger_prompts_changed"))

        await on_mcp.until(lambda: on_mcp.count[PROMPTS] > 0, new_prompt)
        await on_fx.until(lambda: on_fx.count[PROMPTS] > 0, new_prompt)
        names = {p.name for p in (await agg.list_prompts()).prompts}
        assert {f"fx__{name}" for name in prompts} <= names
        # The toolset is redefined: its clients hear that their tools changed.
        told = on_toolset.count[TOOLS]
        only_echo = {"tools": [{"server": "fx", "tool": "echo"}]}
        resp = await live.client.put("/admin/toolsets/t", json=only_echo, headers=live.admin)
        assert resp.status_code == 200, resp.text
        await on_toolset.wait(lambda: on_toolset.count[TOOLS] > told)
        # A server added through REST changes every list of /mcp (not of /mcp/fx).
        told = on_toolset.count[TOOLS]
        before = on_mcp.count.copy()
        await live.add_server("fy")
        await on_mcp.wait(
            lambda: all(on_mcp.count[m] > before[m] for m in (TOOLS, RESOURCES, PROMPTS))
        )
        await on_toolset.wait(lambda: on_toolset.count[TOOLS] > told)  # its tools may have
        assert "mcpgw:fy/fixture://readme" in {
            r.uri for r in (await agg.list_resources()).resources
        }
    # Only tools, ever, on a toolset endpoint.
    assert set(on_toolset.count) == {TOOLS}, on_toolset.count


@pytest.mark.anyio
async def test_a_legacy_subscription_is_made_upstream_relayed_and_cleaned_up(
    live: LiveGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    readme = "fixture://readme"
    on_mcp, on_fx = Heard(), Heard()
    async with live.mcp_client("/mcp/fx", bob) as probe:

        async def upstream() -> list[str]:
            subscribed: list[str] = json.loads(await _tool(probe, "subscriptions"))
            return subscribed

        async def until_upstream(expected: list[str]) -> None:
            with anyio.fail_after(30):
                while True:
                    if await upstream() == expected:
                        return
                    await anyio.sleep(0.05)

        async with live.mcp_client("/mcp", alice, message_handler=on_mcp) as agg:
            resources = agg.server_capabilities.resources
            assert resources is not None and resources.subscribe  # the fixture's are
            with pytest.raises(MCPError) as unknown:
                await _subscription(agg, f"mcpgw:nosuch/{readme}")
            assert unknown.value.error.code == types.INVALID_PARAMS
            await _subscription(agg, f"mcpgw:fx/{readme}")
            assert await upstream() == [readme]
            monkeypatch.setattr(subscriptions, "MAX_PER_OWNER", 2)  # a session's limit
            await _subscription(agg, "mcpgw:fx/fixture://kept")
            with pytest.raises(MCPError) as beyond:
                await _subscription(agg, "mcpgw:fx/fixture://env/HOME")
            assert beyond.value.error.code == types.INVALID_PARAMS
            await _subscription(agg, "mcpgw:fx/fixture://kept", on=False)
            assert await upstream() == [readme]
            await on_mcp.until(
                lambda: bool(on_mcp.updated),
                lambda: _tool(probe, "touch_resource", {"uri": readme}),
            )
            assert on_mcp.updated[0] == f"mcpgw:fx/{readme}"  # the URI it subscribed to
            # The upstream restarts: its new session is subscribed again.
            crashed = await probe.call_tool("crash", {})
            assert crashed.is_error
            await until_upstream([readme])
            # Another session (of another user: the shared upstream session) subscribes too;
            # the first one's unsubscribe keeps the upstream subscription for it.
            async with live.mcp_client("/mcp/fx", bob, message_handler=on_fx) as direct:
                await _subscription(direct, readme)
                await _subscription(agg, f"mcpgw:fx/{readme}", on=False)
                assert await upstream() == [readme]
                await on_fx.until(
                    lambda: bool(on_fx.updated),
                    lambda: _tool(probe, "touch_resource", {"uri": readme}),
                )
                assert set(on_fx.updated) == {readme}
                await _subscription(direct, readme, on=False)
                assert await upstream() == []
                await _subscription(direct, readme)
                assert await upstream() == [readme]
            # Its session ended (the client's DELETE): the gateway unsubscribes upstream.
            await until_upstream([])
            count = len(on_mcp.updated)
            await _tool(probe, "touch_resource", {"uri": readme})  # nobody subscribed
            await _subscription(agg, f"mcpgw:fx/{readme}")
            assert await upstream() == [readme]
        await until_upstream([])  # and the aggregated session's end too
    assert len(on_mcp.updated) == count
    assert len(_endpoint(live).changes.subscriptions) == 0  # nothing held in the gateway


def _endpoint(live: LiveGateway) -> McpEndpoint:
    assert live.app is not None
    found = [r.endpoint for r in live.app.routes if isinstance(r, Route) and r.name == "mcp"]
    assert isinstance(found[0], McpEndpoint)
    return found[0]


@pytest.mark.anyio
async def test_a_2026_listen_streams_resource_subscription_is_made_upstream_while_open(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    readme = "fixture://readme"
    async with live.mcp_client("/mcp/fx", alice, mode="2026-07-28"):

        async def upstream() -> list[str]:
            subscribed: list[str] = json.loads(await _upstream_tool(live, alice, "subscriptions"))
            return subscribed

        heard = Heard()
        uri = f"mcpgw:fx/{readme}"
        async with _client(live, "/mcp", alice, "2026-07-28", heard, resource_subscriptions=[uri]):
            assert await upstream() == [readme]
            await heard.until(
                lambda: bool(heard.updated),
                lambda: _upstream_tool(live, alice, "touch_resource", {"uri": readme}),
            )
            assert heard.updated[0] == uri
        with anyio.fail_after(30):
            while True:
                if await upstream() == []:
                    break
                await anyio.sleep(0.05)


async def _subscription(client: Client, uri: str, *, on: bool = True) -> None:
    """``resources/(un)subscribe`` (the client's own methods warn: 2026-07-28 removed them)."""
    if on:
        request: types.ClientRequest = types.SubscribeRequest(
            params=types.SubscribeRequestParams(uri=uri)
        )
    else:
        request = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=uri))
    await client.session.send_request(request, types.EmptyResult)


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
async def test_a_2026_only_upstreams_changes_reach_legacy_and_2026_clients(
    live: LiveGateway, modern_upstream: HttpFixture
) -> None:
    # The upstream sends them only on the listen stream the gateway's session opened.
    body = {"name": "mx", "transportType": "streamable_http", "url": modern_upstream.url}
    resp = await live.client.post("/mcp/servers", json=body, headers=live.admin)
    assert resp.status_code == 200, resp.text
    await live.wait_status("mx", "connected")
    alice = await live.new_key("user", "alice")
    readme = "fixture://readme"

    async def upstream_tool(name: str, args: dict[str, object] | None = None) -> str:
        resp = await live.call(alice, "mx", name, args)
        assert resp.status_code == 200, resp.text
        text: str = resp.json()["data"]["content"][0]["text"]
        return text

    on_legacy, on_modern = Heard(), Heard()
    listen = {"tools_list_changed": True, "resource_subscriptions": [f"mcpgw:mx/{readme}"]}
    async with (
        _client(live, "/mcp/mx", alice, "legacy", on_legacy) as legacy,
        _client(live, "/mcp", alice, "2026-07-28", on_modern, **listen),
    ):
        added: list[str] = []

        async def new_tool() -> None:
            added.append(await upstream_tool("trigger_list_changed"))

        await on_legacy.until(lambda: on_legacy.count[TOOLS] > 0, new_tool)
        await on_modern.wait(lambda: on_modern.count[TOOLS] > 0)
        assert added[0] in {tool.name for tool in (await legacy.list_tools()).tools}
        # Both subscribed to the same URI (one listen filter upstream): both hear its update.
        await _subscription(legacy, readme)

        async def touch() -> None:
            await upstream_tool("touch_resource", {"uri": readme})

        await on_legacy.until(lambda: bool(on_legacy.updated), touch)
        await on_modern.wait(lambda: bool(on_modern.updated))
        assert set(on_legacy.updated) == {readme}
        assert set(on_modern.updated) == {f"mcpgw:mx/{readme}"}
    # Both ended (the legacy session's DELETE, the stream's close): the filter is empty.
    shared = live.runtime.pool._entries["mx"].shared
    assert shared is not None
    with anyio.fail_after(30):
        while True:
            if not shared.listener.uris:
                break
            await anyio.sleep(0.05)


async def _held_upstream(client: Client) -> list[str]:
    """The URIs the client's upstream session holds subscribed (the fixture's own list)."""
    subscribed: list[str] = json.loads(await _tool(client, "subscriptions"))
    return subscribed


async def _until_held_upstream(client: Client, expected: list[str], *, within: float) -> None:
    with anyio.fail_after(within):
        while True:
            try:
                if await _held_upstream(client) == expected:
                    return
            except (AssertionError, MCPError):
                pass  # its session still restarting
            await anyio.sleep(0.1)


@pytest.mark.anyio
async def test_a_per_user_session_that_restarts_is_subscribed_again_while_others_stay_up(
    live: LiveGateway,
) -> None:
    # Review finding: alice's own upstream session restarts (it crashed) while bob's session
    # of the same per-user server stays connected. The server's aggregate state never changes
    # (connected throughout; a per-user server lists no tools in it), so nothing renews
    # alice's subscription: her new upstream process holds none, she hears nothing, and her
    # session is kept forever for a subscription it does not hold.
    await live.add_server("fx", wait=False, isolation="per_user")
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    readme = "fixture://readme"
    async with (
        live.mcp_client("/mcp/fx", bob) as other,
        live.mcp_client("/mcp/fx", alice) as client,
    ):
        await _tool(other, "echo", {"text": "bob's session runs"})
        await _subscription(client, readme)
        assert await _held_upstream(client) == [readme]
        crashed = await client.call_tool("crash", {})
        assert crashed.is_error
        await _until_held_upstream(client, [readme], within=20)


@pytest.mark.anyio
async def test_a_per_user_session_reopened_for_a_secret_change_is_subscribed_again(
    live: LiveGateway,
) -> None:
    # Review finding: the secret change closes alice's session (invalidate_user) and her next
    # request opens a new one, which holds none of her subscriptions; nothing in the
    # server's aggregate state changes while bob's session stays up.
    spec = [{"name": "TOKEN", "as": "env"}]
    await live.add_server("fx", wait=False, isolation="per_user", secrets=spec)
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    await live.set_secret(alice, "fx", "TOKEN", "one")
    await live.set_secret(bob, "fx", "TOKEN", "bob's")
    readme = "fixture://readme"
    async with (
        live.mcp_client("/mcp/fx", bob) as other,
        live.mcp_client("/mcp/fx", alice) as client,
    ):
        await _tool(other, "echo", {"text": "bob's session runs"})
        await _subscription(client, readme)
        assert await _held_upstream(client) == [readme]
        await live.set_secret(alice, "fx", "TOKEN", "two")  # her session is closed
        assert await _tool(client, "print_env", {"name": "TOKEN"}) == "two"  # a new one
        await _until_held_upstream(client, [readme], within=10)
