"""``/mcp`` shows each user the tools of the external servers they installed (and nobody else's),
and routes calls to them through the same install gate as ``POST /mcp/tool/call``."""

from __future__ import annotations

import httpx2
import pytest

from mcp_gateway.domain.tool_names import namespaced
from tests.api.downstream.conftest import MakeLive
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import as_process, mcp_process  # noqa: F401 (fixtures)


@pytest.mark.slow
@pytest.mark.anyio
async def test_aggregated_endpoint_lists_installed_external_servers_per_user(
    make_live: MakeLive,
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    local = mcp_process.url.replace("127.0.0.1", "localhost")
    async with httpx2.AsyncClient(timeout=5.0) as plain:
        (await plain.post(mcp_process.url + "/seen/reset")).raise_for_status()
    async with make_live(oauth={"external_allowed_hosts": ["localhost"]}) as live:
        alice = await live.new_key("user", "alice")
        bob = await live.new_key("user", "bob")
        body = {
            "name": "ext",
            "source": "external",
            "transportType": "streamable_http",
            "url": f"{local}/trust/mcp?apiKey=endpoint-canary",
        }
        resp = await live.client.post("/mcp/servers", json=body, headers=live.auth(alice))
        assert resp.status_code == 200, resp.text
        echo = namespaced("ext", "echo")
        async with live.mcp_client("/mcp", alice) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert echo in names
            result = await client.call_tool(echo, {"text": "via /mcp"})
            assert not result.is_error
            assert getattr(result.content[0], "text", None) == "via /mcp"
        async with live.mcp_client("/mcp", bob) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert echo not in names
        async with httpx2.AsyncClient(timeout=5.0) as plain:
            seen = (await plain.get(mcp_process.url + "/seen")).json()
        assert {h[":query"] for h in seen if h[":path"].startswith("/trust/")} == {
            "apiKey=endpoint-canary"
        }
