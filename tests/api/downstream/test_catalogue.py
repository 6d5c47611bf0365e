"""The MCP endpoint's cached catalogue (services/catalogue.py).

It is never stale: each input that shapes a caller's tools, changed, shows in the very next
listing, search, description or call (the pool's own re-listing, which is asynchronous, waited
for first; other processes' writes through the change feed). Describing or calling one tool
looks at that tool's server only."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp.client import Client

from mcp_gateway.api.downstream.search_tools import CALL, DESCRIBE, SEARCH
from mcp_gateway.domain.records import StoredSecret
from mcp_gateway.domain.tool_names import namespaced
from tests.api.conftest import secrets_section
from tests.api.downstream.conftest import LiveGateway, MakeLive
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import as_process, mcp_process  # noqa: F401 (fixtures)


async def _found(client: Client, query: str, limit: int = 50) -> list[str]:
    result = await client.call_tool(SEARCH, {"query": query, "limit": limit})
    assert not result.is_error, result
    return [t["name"] for t in json.loads(result.content[0].text)["tools"]]  # type: ignore[union-attr]


async def _described(client: Client, name: str) -> dict[str, Any] | None:
    result = await client.call_tool(DESCRIBE, {"name": name})
    if result.is_error:
        assert "unknown tool" in result.content[0].text  # type: ignore[union-attr]
        return None
    described: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
    return described


async def _parameters(client: Client, name: str) -> set[str]:
    described = await _described(client, name)
    assert described is not None, name
    return set(described["inputSchema"].get("properties", {}))


async def _pool_adds_a_tool(live: LiveGateway, client: Client) -> str:
    """Have fx add a tool and announce it; return its name once the pool re-listed (an
    announcement racing the fixture's own start may be lost: ask again)."""
    with anyio.fail_after(60):
        while True:
            added = await client.call_tool(CALL, {"name": "fx__trigger_list_changed"})
            assert not added.is_error, added
            name = added.content[0].text  # type: ignore[union-attr]
            with anyio.move_on_after(5):
                while True:
                    if any(t.name == name for t in live.runtime.pool.status("fx").tools or ()):
                        return str(name)
                    await anyio.sleep(0.05)


@pytest.mark.slow
@pytest.mark.anyio
async def test_each_change_of_servers_secrets_and_tool_lists_shows_in_the_next_search(
    make_live: MakeLive, backend: str
) -> None:
    async with make_live(backend, secrets=secrets_section(backend)) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        async with live.mcp_client("/mcp?tools=search", alice) as client:
            assert "fx__add" in await _found(client, "add two numbers")
            assert "token" in await _parameters(client, "fx__echo_args")
            # A secret set hides its parameter; deleted, it is back.
            await live.set_secret(alice, "fx", "token", "fresh-canary-1")
            assert "token" not in await _parameters(client, "fx__echo_args")
            resp = await live.client.post(
                "/secrets/delete",
                json={"serverName": "fx", "secretName": "token"},
                headers=live.auth(alice),
            )
            assert resp.status_code == 200, resp.text
            assert "token" in await _parameters(client, "fx__echo_args")
            # A second server, added: searchable once connected (add_server waits for it).
            await live.add_server("fy")
            assert "fy__add" in await _found(client, "add two numbers")
            # Disabled: gone from search, describe and call at once.
            resp = await live.client.put("/mcp/servers/fy/disable", headers=live.admin)
            assert resp.status_code == 200, resp.text
            assert "fy__add" not in await _found(client, "add two numbers")
            assert await _described(client, "fy__add") is None
            called = await client.call_tool(CALL, {"name": "fy__add", "arguments": {"a": 1}})
            assert called.is_error and "unknown tool" in called.content[0].text  # type: ignore[union-attr]
            # Deleted: gone too.
            resp = await live.client.delete("/mcp/servers/fy", headers=live.admin)
            assert resp.status_code == 200, resp.text
            assert "fy__add" not in await _found(client, "add two numbers")
            # The upstream announces a new tool: once the pool re-listed, search finds it.
            name = await _pool_adds_a_tool(live, client)
            assert f"fx__{name}" in await _found(client, name)
            assert await _described(client, f"fx__{name}") is not None


@pytest.mark.anyio
async def test_another_processs_secret_reaches_the_cached_catalogue_through_the_change_feed(
    make_live: MakeLive, backend: str
) -> None:
    async with make_live(backend, secrets=secrets_section(backend)) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        async with live.mcp_client("/mcp?tools=search", alice) as client:
            assert "token" in await _parameters(client, "fx__echo_args")
            # Written beside this process's store proxy, as another replica would.
            runtime = live.runtime
            blob = runtime.keyring.encrypt_secret("alice", "fx", "token", "feed-canary-2")
            inner = runtime.store._inner  # type: ignore[attr-defined]
            await inner.put_secret(StoredSecret("alice", "fx", "token", blob, 1.0))
            with anyio.fail_after(30):
                while True:
                    if "token" not in await _parameters(client, "fx__echo_args"):
                        break
                    await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_a_toolset_change_shows_in_the_next_listing_and_search(
    make_live: MakeLive, backend: str
) -> None:
    async with make_live(backend, secrets=secrets_section(backend)) as live:
        await _toolset_changes(live)


async def _toolset_changes(live: LiveGateway) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")

    async def put(*tools: str) -> None:
        body = {"tools": [{"server": "fx", "tool": t} for t in tools]}
        resp = await live.client.put("/admin/toolsets/t", json=body, headers=live.admin)
        assert resp.status_code == 200, resp.text

    await put("echo")
    async with live.mcp_client("/mcp/toolsets/t?tools=search", alice) as client:
        assert await _found(client, "echo add numbers") == ["fx__echo"]
        await put("echo", "add")
        assert set(await _found(client, "echo add numbers")) == {"fx__echo", "fx__add"}
        called = await client.call_tool(CALL, {"name": "fx__add", "arguments": {"a": 1, "b": 2}})
        assert not called.is_error
        await put("add")
        assert await _found(client, "echo add numbers") == ["fx__add"]
        assert await _described(client, "fx__echo") is None
    async with live.mcp_client("/mcp/toolsets/t?tools=all", alice) as client:
        assert {t.name for t in (await client.list_tools()).tools} == {"fx__add"}
        resp = await live.client.delete("/admin/toolsets/t", headers=live.admin)
        assert resp.status_code == 200, resp.text
        with pytest.raises(Exception, match="toolset"):
            await client.list_tools()


@pytest.mark.slow
@pytest.mark.anyio
async def test_installing_and_removing_an_external_server_shows_in_the_next_search(
    make_live: MakeLive,
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    local = mcp_process.url.replace("127.0.0.1", "localhost")
    async with make_live(oauth={"external_allowed_hosts": ["localhost"]}) as live:
        alice = await live.new_key("user", "alice")
        bob = await live.new_key("user", "bob")
        body = {
            "name": "ext",
            "source": "external",
            "transportType": "streamable_http",
            "url": f"{local}/trust/mcp",
        }
        resp = await live.client.post("/mcp/servers", json=body, headers=live.auth(alice))
        assert resp.status_code == 200, resp.text
        echo = namespaced("ext", "echo")
        async with live.mcp_client("/mcp?tools=search", bob) as client:
            assert echo not in await _found(client, "echo")
            path = "/mcp/user/servers/ext/install"
            resp = await live.client.post(path, json={"username": "bob"}, headers=live.auth(bob))
            assert resp.status_code == 200, resp.text
            assert echo in await _found(client, "echo")
            resp = await live.client.request(
                "DELETE", path, json={"username": "bob"}, headers=live.auth(bob)
            )
            assert resp.status_code == 200, resp.text
            assert echo not in await _found(client, "echo")
            assert await _described(client, echo) is None
        async with live.mcp_client("/mcp?tools=search", alice) as client:
            assert echo in await _found(client, "echo")


@pytest.mark.anyio
async def test_describing_or_calling_a_tool_looks_at_its_server_only(live: LiveGateway) -> None:
    await live.add_server("fx")
    # A per-user server: listing it for a user starts that user's own session.
    await live.add_server("fp", wait=False, isolation="per_user")
    alice = await live.new_key("user", "alice")
    async with live.mcp_client("/mcp?tools=search", alice) as client:
        assert "token" in await _parameters(client, "fx__echo_args")
        called = await client.call_tool(CALL, {"name": "fx__echo", "arguments": {"text": "hi"}})
        assert not called.is_error
        assert live.runtime.pool.status("fp").instances == 0  # fp was never listed
        assert "fp__add" in await _found(client, "add two numbers")  # a search lists all
        assert live.runtime.pool.status("fp").instances == 1
        assert await _described(client, "fp__add") is not None


@pytest.mark.slow
@pytest.mark.anyio
async def test_one_servers_change_rebuilds_that_servers_segment_only(live: LiveGateway) -> None:
    await live.add_server("fx")
    await live.add_server("fy")
    alice = await live.new_key("user", "alice")
    catalogue = live.runtime.catalogue
    async with live.mcp_client("/mcp?tools=search", alice) as client:
        assert {"fx__add", "fy__add"} <= set(await _found(client, "add two numbers"))
        built = catalogue.segments_built
        await _found(client, "add two numbers")
        assert catalogue.segments_built == built  # warm: nothing rebuilt
        await live.set_secret(alice, "fy", "token", "segment-canary-3")  # hides fy's parameter
        assert "token" not in await _parameters(client, "fy__echo_args")
        assert "token" in await _parameters(client, "fx__echo_args")
        await _found(client, "add two numbers")
        assert catalogue.segments_built == built + 1  # fy's, not fx's
        name = await _pool_adds_a_tool(live, client)
        built = catalogue.segments_built
        assert f"fx__{name}" in await _found(client, name)
        assert catalogue.segments_built == built + 1  # fx's (its tool list changed), not fy's
