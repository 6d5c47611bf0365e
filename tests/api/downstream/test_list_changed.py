"""2025-11-25 clients hear ``notifications/tools/list_changed`` on their GET stream when the
tools they may list change: a server added through REST, an upstream announcing new tools."""

from __future__ import annotations

from typing import Any, cast

import anyio
import mcp_types as types
import pytest
from mcp.client.session import IncomingMessage
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged

from mcp_gateway.api.downstream.caller import Caller
from mcp_gateway.api.downstream.notify import ListChanges
from mcp_gateway.domain.records import Role
from mcp_gateway.services.principal import Principal
from tests.api.downstream.conftest import LiveGateway


class _Heard:
    def __init__(self) -> None:
        self.event = anyio.Event()

    async def __call__(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.event.set()

    async def wait(self) -> None:
        with anyio.fail_after(30):
            await self.event.wait()


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_server_added_through_rest_is_announced_to_aggregated_sessions(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    heard = _Heard()
    async with live.mcp_client("/mcp", alice, message_handler=heard) as client:
        caps = client.server_capabilities
        assert caps.tools is not None and caps.tools.list_changed
        names = {t.name for t in (await client.list_tools()).tools}
        assert "fx__echo" in names and "fy__echo" not in names
        await live.add_server("fy")
        await heard.wait()
        names = {t.name for t in (await client.list_tools()).tools}
        assert "fy__echo" in names


@pytest.mark.anyio
@pytest.mark.slow
async def test_an_upstream_tool_list_change_is_announced_to_that_servers_sessions(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    heard = _Heard()
    async with live.mcp_client("/mcp/fx", alice, message_handler=heard) as client:
        before = {t.name for t in (await client.list_tools()).tools}
        # The client opens its GET stream in the background after initialize: a notification
        # sent before it is up is lost (nothing to replay it), so a loaded machine may need
        # another change before one is heard.
        added: list[str] = []
        with anyio.fail_after(60):
            while not heard.event.is_set():
                result = await client.call_tool("trigger_list_changed", {})
                added.append(result.content[0].text)  # type: ignore[union-attr]
                with anyio.move_on_after(5):
                    await heard.event.wait()
        assert not set(added) & before
        after = {t.name for t in (await client.list_tools()).tools}
        assert set(added) <= after


@pytest.mark.anyio
@pytest.mark.slow
async def test_2026_clients_hear_of_a_server_added_through_rest_on_subscriptions_listen(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp", alice, mode="2026-07-28") as client:
        async with client.listen(tools_list_changed=True) as sub:
            await live.add_server("fy")
            with anyio.fail_after(30):
                event = await sub.__anext__()
        assert isinstance(event, ToolsListChanged)
        assert "fy__echo" in {t.name for t in (await client.list_tools()).tools}


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_server_endpoints_listen_stream_hears_of_its_upstreams_tool_list_change(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp/fx", alice, mode="2026-07-28") as client:
        async with client.listen(tools_list_changed=True) as sub:
            # The stream may reach the gateway after the first change is published (nothing
            # replays it): change again until one is heard.
            added: list[str] = []
            event = None
            with anyio.fail_after(60):
                while event is None:
                    # Through the server's own session (a REST call): a 2026-07-28 client's
                    # call takes a 2026-07-28 session, another process over stdio, where
                    # 2026-07-28 announces nothing (docs/mcp-endpoint.md, "Protocol eras").
                    resp = await live.call(alice, "fx", "trigger_list_changed")
                    added.append(resp.json()["data"]["content"][0]["text"])
                    with anyio.move_on_after(5):
                        event = await sub.__anext__()
            assert isinstance(event, ToolsListChanged)
            names = {t.name for t in (await client.list_tools()).tools}
            assert set(added) <= names


def _caller(server: str | None = None, toolset: str | None = None) -> Caller:
    principal = Principal("k1", "alice", Role.USER, "alice")
    return Caller(principal, "alice", server, toolset=toolset)


@pytest.mark.anyio
async def test_listen_streams_hear_of_their_server_or_every_server_only() -> None:
    changes = ListChanges(cast(Any, None), lambda session_id: True)
    heard: dict[str | None, list[object]] = {"fx": [], "fy": [], None: []}
    with (
        changes.listening(_caller("fx")) as fx,
        changes.listening(_caller("fy")) as fy,
        changes.listening(_caller()) as every,
    ):
        fx.subscribe(heard["fx"].append)
        fy.subscribe(heard["fy"].append)
        every.subscribe(heard[None].append)
        await changes.notify({"fy"}, ("tools",))
    assert heard["fx"] == [] and len(heard["fy"]) == 1 and len(heard[None]) == 1
    await changes.notify({"fy"})  # closed streams hear nothing more
    assert len(heard["fy"]) == 1


@pytest.mark.anyio
async def test_listen_streams_hear_only_of_what_their_endpoint_serves() -> None:
    changes = ListChanges(cast(Any, None), lambda session_id: True)
    heard: dict[str, list[object]] = {"toolset": [], "tools only": [], "all": [], "bob": []}
    bob = Caller(Principal("k2", "bob", Role.USER, "bob"), "bob", None)
    with (
        changes.listening(_caller(toolset="t")) as toolset,
        changes.listening(_caller("fx"), {"tools"}) as tools_only,
        changes.listening(_caller(), None) as every,
        changes.listening(bob, None) as other_user,
    ):
        toolset.subscribe(heard["toolset"].append)
        tools_only.subscribe(heard["tools only"].append)
        every.subscribe(heard["all"].append)
        other_user.subscribe(heard["bob"].append)
        await changes.notify({"fx"})  # a server's status changed: every list may have
        await changes.notify({"fx"}, ("prompts",), scope="alice")  # alice's own session's
    assert heard["toolset"] == [ToolsListChanged()]
    assert heard["tools only"] == [ToolsListChanged()]
    assert heard["all"] == [
        ToolsListChanged(),
        ResourcesListChanged(),
        PromptsListChanged(),
        PromptsListChanged(),
    ]
    assert heard["bob"] == [ToolsListChanged(), ResourcesListChanged(), PromptsListChanged()]
