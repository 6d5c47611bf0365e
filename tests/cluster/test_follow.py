"""Replicas follow each other through the store (docs/scaling.md): a definition, a disable or
a key revocation made on A is in force on B within about a second. Deadlines here are generous
(a loaded 2-core box); the propagation time itself is measured by bench/change_feed.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.balancer import Balancer
from tests.cluster.conftest import AUTH, Replicas, tiny_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    with anyio.fail_after(within):
        while True:
            if await check():
                return
            await anyio.sleep(0.05)


async def _status_on(client: httpx2.AsyncClient, server: str) -> str | None:
    """The server's status in ``client``'s replica's own pool (``/healthz`` reads no
    definition from the store: only the change feed puts one there without a call)."""
    servers = (await client.get("/healthz")).json().get("servers", {})
    entry = servers.get(server)
    return None if entry is None else str(entry["status"])


def _call(server: str, text: str = "hi") -> dict[str, object]:
    return {"serverName": server, "methodName": "echo", "args": {"text": text}}


async def test_a_server_registered_on_a_is_served_by_b_right_after_as_200(
    replicas: Replicas,
) -> None:
    async with (
        httpx2.AsyncClient(base_url=replicas.a.url, headers=AUTH, timeout=30) as a,
        httpx2.AsyncClient(base_url=replicas.b.url, headers=AUTH, timeout=30) as b,
    ):
        resp = await a.post("/mcp/servers", json=tiny_server("fx-rw"))
        assert resp.status_code == 200, resp.text
        # Read your write: B has not necessarily seen the change yet, and serves it anyway.
        resp = await b.post("/mcp/tool/call", json=_call("fx-rw"))
        assert resp.status_code == 200, resp.text
        assert resp.json()["success"] is True


async def test_a_server_registered_on_a_starts_on_b_without_a_call_there(
    replicas: Replicas,
) -> None:
    async with (
        httpx2.AsyncClient(base_url=replicas.a.url, headers=AUTH, timeout=30) as a,
        httpx2.AsyncClient(base_url=replicas.b.url, headers=AUTH, timeout=30) as b,
    ):
        assert (await a.post("/mcp/servers", json=tiny_server("fx-life"))).status_code == 200

        async def connected() -> bool:
            return await _status_on(b, "fx-life") == "connected"

        await _until(connected)
        assert (await a.put("/mcp/servers/fx-life/disable")).status_code == 200

        async def disabled() -> bool:
            return await _status_on(b, "fx-life") == "disabled"

        await _until(disabled)
        assert (await a.delete("/mcp/servers/fx-life")).status_code == 200

        async def stopped() -> bool:
            return await _status_on(b, "fx-life") is None

        await _until(stopped)


async def test_a_server_disabled_on_a_is_refused_by_b(replicas: Replicas) -> None:
    async with (
        httpx2.AsyncClient(base_url=replicas.a.url, headers=AUTH, timeout=30) as a,
        httpx2.AsyncClient(base_url=replicas.b.url, headers=AUTH, timeout=30) as b,
    ):
        assert (await a.post("/mcp/servers", json=tiny_server("fx-off"))).status_code == 200
        assert (await b.post("/mcp/tool/call", json=_call("fx-off"))).status_code == 200
        assert (await a.put("/mcp/servers/fx-off/disable")).status_code == 200

        async def refused() -> bool:
            resp = await b.post("/mcp/tool/call", json=_call("fx-off"))
            return resp.status_code == 409 and resp.json()["code"] == "server_disabled"

        await _until(refused)
        assert (await a.delete("/mcp/servers/fx-off")).status_code == 200

        async def gone() -> bool:
            resp = await b.post("/mcp/tool/call", json=_call("fx-off"))
            return resp.status_code == 404

        await _until(gone)


async def test_a_key_revoked_on_a_is_refused_by_b(replicas: Replicas) -> None:
    async with (
        httpx2.AsyncClient(base_url=replicas.a.url, headers=AUTH, timeout=30) as a,
        httpx2.AsyncClient(base_url=replicas.b.url, timeout=30) as b,
    ):
        resp = await a.post("/admin/apikeys", json={"name": "svc-revoked", "role": "service"})
        assert resp.status_code == 200, resp.text
        key, key_id = resp.json()["key"], resp.json()["id"]
        bearer = {"Authorization": f"Bearer {key}"}
        assert (await b.get("/mcp/servers", headers=bearer)).status_code == 200  # now cached
        assert (await a.delete(f"/admin/apikeys/{key_id}")).status_code == 200

        async def refused() -> bool:
            return (await b.get("/mcp/servers", headers=bearer)).status_code == 401

        # Shorter than B's key cache expiry (10 s, the backstop): only the feed makes it.
        await _until(refused, within=8.0)


async def test_a_secret_changed_on_a_reaches_the_users_open_session_on_b(
    replicas: Replicas,
) -> None:
    spec = [{"name": "SVC_TOKEN", "as": "env"}]
    server = tiny_server("envfx", isolation="per_user", secrets=spec)
    call = {
        "serverName": "envfx",
        "methodName": "print_env",
        "args": {"name": "SVC_TOKEN"},
        "username": "alice",
    }

    def secret(value: str) -> dict[str, str]:
        body = {"serverName": "envfx", "secretName": "SVC_TOKEN", "secretValue": value}
        return {**body, "username": "alice"}

    async with (
        httpx2.AsyncClient(base_url=replicas.a.url, headers=AUTH, timeout=30) as a,
        httpx2.AsyncClient(base_url=replicas.b.url, headers=AUTH, timeout=30) as b,
    ):
        assert (await a.post("/mcp/servers", json=server)).status_code == 200
        assert (await a.post("/secrets/set", json=secret("old-canary"))).status_code == 200
        resp = await b.post("/mcp/tool/call", json=call)  # alice's process on B: old value
        assert resp.status_code == 200 and "old-canary" in resp.text, resp.text
        assert (await a.post("/secrets/set", json=secret("new-canary"))).status_code == 200
        # On A the next call has it at once (A closed its own session when it wrote).
        resp = await a.post("/mcp/tool/call", json=call)
        assert "new-canary" in resp.text, resp.text

        async def new_on_b() -> bool:
            return "new-canary" in (await b.post("/mcp/tool/call", json=call)).text

        await _until(new_on_b)
        # A's own feed reporting its change later does not cut the session A started since.
        resp = await a.post("/mcp/tool/call", json=call)
        assert resp.status_code == 200 and "new-canary" in resp.text


async def test_a_legacy_mcp_session_opened_on_a_is_served_and_ended_on_b(
    replicas: Replicas,
) -> None:
    """docs/scaling.md: any replica serves a 2025-11-25 session, no affinity needed."""
    async with (
        httpx2.AsyncClient(base_url=replicas.a.url, headers=AUTH, timeout=30) as a,
        httpx2.AsyncClient(base_url=replicas.b.url, headers=AUTH, timeout=30) as b,
    ):
        assert (await a.post("/mcp/servers", json=tiny_server("fx-mcp"))).status_code == 200

        async def connected_on_b() -> bool:  # a server not connected yet lists no tools
            return await _status_on(b, "fx-mcp") == "connected"

        await _until(connected_on_b)
        keys = []
        for user in ("alice", "bob"):
            body = {"name": f"mcp-{user}", "role": "user", "username": user}
            resp = await a.post("/admin/apikeys", json=body)
            assert resp.status_code == 200, resp.text
            keys.append(resp.json()["key"])
        alice, bob = keys

        def opened_on_a(request: httpx2.Request, n: int) -> int:
            return 0 if n == 0 else 1  # initialize on A, everything after it on B

        balancer = Balancer([replicas.a.url, replicas.b.url], opened_on_a)
        auth = {"Authorization": f"Bearer {alice}"}
        async with httpx2.AsyncClient(transport=balancer, headers=auth, timeout=30) as http:
            transport = streamable_http_client(replicas.a.url + "/mcp/fx-mcp", http_client=http)
            async with Client(transport, mode="legacy", cache=None) as client:
                assert "echo" in {t.name for t in (await client.list_tools()).tools}
                result = await client.call_tool("echo", {"text": "via B"})
                assert not result.is_error and "via B" in str(result.content)
                session = balancer.session_id
                assert session is not None
                # Bob presenting alice's session id on B: as if it did not exist.
                listing = {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}
                headers = {
                    "Authorization": f"Bearer {bob}",
                    "Mcp-Session-Id": session,
                    "MCP-Protocol-Version": "2025-11-25",
                    "Accept": "application/json, text/event-stream",
                }
                resp = await b.post("/mcp/fx-mcp", json=listing, headers=headers)
                assert resp.status_code == 404
            # Leaving the client sent its DELETE, to B.
        assert ("DELETE", 1) in balancer.sent
        headers["Authorization"] = f"Bearer {alice}"

        async def ended_on_a() -> bool:
            resp = await a.post("/mcp/fx-mcp", json=listing, headers=headers)
            return resp.status_code == 404

        await _until(ended_on_a)
