"""An OAuth login to make, on a call through the MCP endpoint: a client that supports URL
elicitation is asked to open the login page; any other gets the isError result naming it."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext

from mcp_gateway.api.downstream.server import ERROR_META_KEY
from tests.api.downstream.conftest import MODES, MakeLive
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import (  # noqa: F401 (fixtures)
    PUBLIC_URL,
    AsControl,
    as_process,
    auth_server,
    mcp_process,
)


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
async def test_a_login_to_make_is_asked_with_url_elicitation_where_the_client_supports_it(
    make_live: MakeLive,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
    mode: str,
) -> None:
    sections: dict[str, Any] = {
        "oauth": {"allowed_hosts": ["127.0.0.1"], "public_url": PUBLIC_URL},
    }
    async with make_live(**sections) as live:
        body = {
            "name": "remote",
            "transportType": "streamable_http",
            "url": mcp_process.url + "/mcp",
            "mcpAuthType": "oauth",
        }
        resp = await live.client.post("/mcp/servers", json=body, headers=live.admin)
        assert resp.status_code == 200, resp.text
        bob = await live.new_key("user", "bob")
        asked: list[types.ElicitRequestParams] = []

        async def elicit(
            ctx: ClientRequestContext, params: types.ElicitRequestParams
        ) -> types.ElicitResult:
            asked.append(params)
            return types.ElicitResult(action="accept")

        async with live.mcp_client("/mcp/remote", bob, mode=mode, elicitation_callback=elicit) as c:
            result = await c.call_tool("echo", {"text": "hi"})
        assert result.is_error and result.meta is not None
        error = result.meta[ERROR_META_KEY]
        assert error["code"] == "reauth_required" and error["elicitation"] == "accept"
        (params,) = asked
        assert isinstance(params, types.ElicitRequestURLParams)
        assert params.url == error["authorizationUrl"]
        assert params.url.startswith(PUBLIC_URL + "/oauth/start?ticket=")
        # Without the capability: the same isError result, nobody asked.
        async with live.mcp_client("/mcp/remote", bob, mode=mode) as plain:
            again = await plain.call_tool("echo", {"text": "hi"})
        assert again.is_error and again.meta is not None
        assert "elicitation" not in again.meta[ERROR_META_KEY]
        assert len(asked) == 1
