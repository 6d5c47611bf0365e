"""Body limit, malformed input, error codes, request ids, forwarded-for, CORS, metrics."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_gateway.api.middleware import client_address, parse_networks
from tests.api.conftest import Gateway, MakeGateway


async def _raw_call(
    gateway: Gateway, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[str, Any], int]:
    """Drive the ASGI app directly; returns (status, body, body chunks the app pulled)."""
    app = gateway.client._transport.app  # type: ignore[attr-defined]
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1],
                    "more_body": pulled < len(chunks)}  # fmt: skip
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/secrets/set", "raw_path": b"/secrets/set",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("gw", 80),
        "headers": [(b"authorization", f"Bearer {gateway.admin_key}".encode()), *headers],
    }  # fmt: skip
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), pulled


@pytest.mark.anyio
async def test_declared_oversized_body_is_refused_before_reading_it(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(http={"max_body": 2048}) as gw:
        headers = [(b"content-length", b"1000000"), (b"content-type", b"application/json")]
        status, body, pulled = await _raw_call(gw, headers, [b"x" * 1000] * 1000)
        assert status == 413 and body["code"] == "payload_too_large"
        assert pulled == 0


@pytest.mark.anyio
async def test_streamed_oversized_body_stops_at_the_limit(make_gateway: MakeGateway) -> None:
    async with make_gateway(http={"max_body": 2048}) as gw:
        status, body, pulled = await _raw_call(gw, [], [b"x" * 1000] * 1000)
        assert status == 413 and body["code"] == "payload_too_large"
        assert pulled == 3  # 3000 bytes > 2048: nothing after that was read


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "json"),
        (b"", "JSON object"),
        (b"[1, 2]", "object"),
        (b'{"serverName": "../etc", "methodName": "echo"}', "serverName"),
        (b'{"serverName": "fx", "methodName": "echo", "args": []}', "args"),
        # Unknown fields are ignored (test_tolerant_reader.py): the camelCase one is missing.
        (b'{"server_name": "fx", "methodName": "echo"}', "serverName"),
    ],
    ids=["malformed", "empty", "array", "bad-name", "bad-args", "snake-case"],
)
async def test_bad_tool_call_bodies_get_400_json(
    gateway: Gateway, content: bytes, needle: str
) -> None:
    resp = await gateway.client.post(
        "/mcp/tool/call",
        content=content,
        headers={**gateway.admin, "content-type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["success"] is False and body["code"] == "invalid_request"
    assert needle.lower() in json.dumps(body).lower()
    assert "Traceback" not in resp.text


@pytest.mark.anyio
async def test_not_found_conflict_and_disabled_paths(gateway: Gateway) -> None:
    admin = gateway.admin
    resp = await gateway.call(gateway.admin_key, "nosuch", "echo")
    assert (resp.status_code, resp.json()["code"]) == (404, "server_not_found")
    resp = await gateway.client.get("/mcp/servers/nosuch", headers=admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "server_not_found")
    resp = await gateway.client.get("/mcp/servers/bad%5Cname", headers=admin)  # a backslash
    assert resp.status_code == 400 and "server name" in resp.json()["error"]
    resp = await gateway.client.get("/no/such/route", headers=admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "not_found")
    body = {"serverName": "nosuch", "secretName": "t", "secretValue": "v"}
    resp = await gateway.client.post("/secrets/set", json=body, headers=admin)
    assert (resp.status_code, resp.json()["code"]) == (404, "server_not_found")

    await gateway.add_server("fx", wait=False, enabled=False)
    resp = await gateway.client.post(
        "/mcp/servers", json={"name": "fx", "command": "x"}, headers=admin
    )
    assert (resp.status_code, resp.json()["code"]) == (409, "server_already_exists")
    resp = await gateway.call(gateway.admin_key, "fx", "echo", {"text": "x"})
    assert (resp.status_code, resp.json()["code"]) == (409, "server_disabled")


@pytest.mark.anyio
async def test_request_id_is_echoed_or_generated(gateway: Gateway) -> None:
    resp = await gateway.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    resp = await gateway.client.get("/healthz", headers={"X-Request-Id": "bad id\twith ws"})
    generated = resp.headers["x-request-id"]
    assert generated != "bad id\twith ws" and len(generated) == 24


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    trusted = parse_networks(["10.0.0.0/8"])
    assert client_address("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9"
    assert client_address("10.1.1.1", "1.2.3.4, 10.2.2.2", trusted) == "1.2.3.4"
    assert client_address("10.1.1.1", "6.6.6.6, 1.2.3.4", trusted) == "1.2.3.4"
    assert client_address("10.1.1.1", "1.2.3.4", ()) == "10.1.1.1"


@pytest.mark.anyio
async def test_cors_allows_only_configured_origins(make_gateway: MakeGateway) -> None:
    async with make_gateway(http={"cors_origins": ["https://app.example"]}) as gw:
        preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
        resp = await gw.client.options("/mcp/tool/call", headers=preflight)
        assert resp.headers["access-control-allow-origin"] == "https://app.example"
        evil = {**preflight, "Origin": "https://evil.example"}
        resp = await gw.client.options("/mcp/tool/call", headers=evil)
        assert "access-control-allow-origin" not in resp.headers


@pytest.mark.anyio
async def test_metrics_count_tool_calls_by_server_and_outcome(gateway: Gateway) -> None:
    await gateway.add_server("fx")
    assert (await gateway.call(gateway.admin_key, "fx", "echo", {"text": "a"})).status_code == 200
    await gateway.call(gateway.admin_key, "fx", "fail_with_args")
    await gateway.call(gateway.admin_key, "ghost", "echo")
    text = (await gateway.client.get("/metrics")).text
    assert 'mcpgw_tool_calls_total{outcome="ok",server="fx",tool="echo"} 1.0' in text
    assert (
        'mcpgw_tool_calls_total{outcome="tool_error",server="fx",tool="fail_with_args"} 1.0' in text
    )
    assert 'mcpgw_tool_calls_total{outcome="server_not_found",server="-",tool="other"} 1.0' in text
    assert "ghost" not in text
    assert 'mcpgw_tool_call_duration_seconds_bucket{le="0.005",outcome="ok",server="fx"}' in text
    assert 'mcpgw_server_status{server="fx",status="connected"} 1.0' in text


@pytest.mark.anyio
async def test_unexpected_error_is_a_json_500_that_logs_no_message(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "foreign-message-canary-51c2"

    async def boom(request: Request) -> Response:
        raise RuntimeError(f"driver said {canary}")

    assert gateway.app is not None
    gateway.app.router.routes.append(Route("/boom", boom))
    with caplog.at_level(logging.ERROR, logger="mcp_gateway"):
        resp = await gateway.client.get("/boom")
    assert resp.status_code == 500
    assert resp.json() == {"success": False, "error": "internal error", "code": "internal_error"}
    assert resp.headers["x-request-id"]
    assert "RuntimeError" in caplog.text and "boom" in caplog.text  # type and frames
    assert canary not in caplog.text
