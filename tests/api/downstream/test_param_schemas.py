"""The SDK path's ``Mcp-Param-*`` check of a 2026-07-28 ``tools/call`` (one the fast path hands
on: here, one with a progress token) uses the schema looked up in the caller's catalogue
(api/downstream/param_schemas.py), not a whole ``tools/list`` per call, and still refuses a
header that contradicts the arguments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from mcp_gateway.api.downstream.endpoint import McpEndpoint
from tests.api.downstream.conftest import LiveGateway
from tests.api.downstream.test_edge import _headers

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"


def _gateway_server(live: LiveGateway) -> Any:
    assert live.app is not None
    for route in live.app.routes:
        if isinstance(route, Route) and isinstance(route.endpoint, McpEndpoint):
            return route.endpoint.manager.app
    raise AssertionError("no MCP endpoint")


def _answer(resp: Any) -> dict[str, Any]:
    if resp.headers["content-type"].startswith("text/event-stream"):
        data = [ln[5:] for ln in resp.text.splitlines() if ln.startswith("data:")]
        answer: dict[str, Any] = json.loads(data[-1])
        return answer
    answer = resp.json()
    return answer


@pytest.mark.slow
async def test_a_2026_call_the_sdk_serves_checks_its_headers_without_listing_tools(
    live: LiveGateway,
) -> None:
    conformance = str(Path(__file__).parents[2] / "fixtures" / "conformance_server.py")
    await live.add_server("cf", command=sys.executable, args=[conformance, "--stdio"])
    alice = await live.new_key("user", "alice")
    server = _gateway_server(live)
    listed = server.get_request_handler("tools/list")
    listings: list[str] = []

    async def counted(ctx: Any, params: Any) -> Any:
        listings.append("tools/list")
        return await listed.handler(ctx, params)

    server.add_request_handler("tools/list", listed.params_type, counted)

    def call(request_id: int, region: str) -> dict[str, Any]:
        meta = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
            "progressToken": f"p{request_id}",  # not the fast path's: the SDK serves it
        }
        params = {"name": "test_header_param", "arguments": {"region": region}, "_meta": meta}
        return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}

    routing = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call"}
    headers = _headers(alice, **routing, **{"Mcp-Name": "test_header_param"})
    wrong = await live.client.post(
        "/mcp/cf", json=call(1, "eu-west"), headers={**headers, "Mcp-Param-Region": "us-east"}
    )
    assert wrong.status_code == 400, wrong.text
    assert wrong.json()["error"]["code"] == -32020
    right = await live.client.post(
        "/mcp/cf", json=call(2, "eu-west"), headers={**headers, "Mcp-Param-Region": "eu-west"}
    )
    assert right.status_code == 200, right.text
    assert _answer(right)["result"]["content"][0]["text"] == "region eu-west"
    assert listings == []  # the schema came from the catalogue
