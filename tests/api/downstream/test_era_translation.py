"""Protocol eras through the gateway (api/downstream/eras.py, upstream/eras.py): a 2026-07-28
client of an upstream that speaks 2026-07-28 is served on a 2026-07-28 session of that
upstream, with its own capabilities, and gets the upstream's input-required rounds relayed
(the upstream's state sealed inside the gateway's); each user's 2026-07-28 session carries that
user's secrets. (2025-11-25 clients of a 2026-07-28-only upstream and 2026-07-28 clients of a
2025-11-25-only one: test_passthrough.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext

from tests.api.downstream.conftest import LiveGateway
from tests.upstream.conftest import FIXTURE_SERVER, HttpFixture

pytestmark = pytest.mark.anyio

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    # elicitation only: the upstream must see this, not the gateway's own capabilities
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
}


@pytest.fixture
def dual_era_upstream() -> Iterator[HttpFixture]:
    """The fixture over Streamable HTTP, speaking both eras (a subprocess)."""
    upstream = HttpFixture(FIXTURE_SERVER, ())
    try:
        upstream.start()  # inside: a failed start still stops the process and its pipe
        yield upstream
    finally:
        upstream.stop()


async def _raw_call(live: LiveGateway, key: str, **params: Any) -> dict[str, Any]:
    """One 2026-07-28 ``tools/call`` POST to ``/mcp/hx``; its JSON-RPC answer."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"_meta": MODERN_META, **params},
    }
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": params["name"],
    }
    resp = await live.client.post("/mcp/hx", json=body, headers=headers)
    if resp.headers["content-type"].startswith("text/event-stream"):
        data = [ln[5:] for ln in resp.text.splitlines() if ln.startswith("data:")]
        answer: dict[str, Any] = json.loads(data[-1])
        return answer
    answer = resp.json()
    return answer


@pytest.mark.slow
async def test_a_2026_upstreams_input_required_round_is_relayed_with_its_keys_and_sealed_state(
    live: LiveGateway, dual_era_upstream: HttpFixture
) -> None:
    body = {"name": "hx", "transportType": "streamable_http", "url": dual_era_upstream.url}
    resp = await live.client.post("/mcp/servers", json=body, headers=live.admin)
    assert resp.status_code == 200, resp.text
    await live.wait_status("hx", "connected")
    alice = await live.new_key("user", "alice")
    args = {"name": "modern_ask_name", "arguments": {"message": "Who?"}}

    first = (await _raw_call(live, alice, **args))["result"]
    assert first["resultType"] == "input_required"
    # The upstream's own request, under its own key (not a round of the gateway's).
    assert list(first["inputRequests"]) == ["name"]
    assert first["inputRequests"]["name"]["params"]["message"] == "Who?"
    state = first["requestState"]
    assert "asked" not in state  # the upstream's state travels sealed by the gateway
    # The upstream was asked with the client's capabilities, not the gateway's own.
    async with httpx2.AsyncClient(timeout=5.0) as probe:
        meta = (await probe.get(f"{dual_era_upstream.base}/meta")).json()
    assert meta["io.modelcontextprotocol/clientCapabilities"] == {"elicitation": {"form": {}}}

    answer = {"name": {"action": "accept", "content": {"name": "Alice"}}}
    tampered = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    refused = await _raw_call(live, alice, **args, requestState=tampered, inputResponses=answer)
    assert refused["error"]["code"] == -32602, refused
    done = await _raw_call(live, alice, **args, requestState=state, inputResponses=answer)
    assert done["result"]["content"][0]["text"] == "accept Alice"

    # The official SDK client (2026-07-28) answers the relayed round through its callback.
    asked: list[str] = []

    async def elicit(
        ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": "Bob"})

    async with live.mcp_client(
        "/mcp/hx", alice, mode="2026-07-28", elicitation_callback=elicit
    ) as client:
        result = await client.call_tool("modern_ask_name", {"message": "And you?"})
    assert result.content[0].text == "accept Bob"  # type: ignore[union-attr]
    assert asked == ["And you?"]


@pytest.mark.slow
async def test_each_users_2026_session_carries_that_users_secrets(live: LiveGateway) -> None:
    spec = [{"name": "SVC_TOKEN", "as": "env"}]
    await live.add_server("envfx", isolation="per_user", secrets=spec, wait=False)
    keys = {who: await live.new_key("user", who) for who in ("alice", "bob")}
    for who, key in keys.items():
        await live.set_secret(key, "envfx", "SVC_TOKEN", f"env-{who}-canary")

    async def printed(who: str) -> str:
        async with live.mcp_client("/mcp/envfx", keys[who], mode="2026-07-28") as client:
            result = await client.call_tool("print_env", {"name": "SVC_TOKEN"})
        return str(result.content[0].text)  # type: ignore[union-attr]

    assert await printed("alice") == "env-alice-canary"
    assert await printed("bob") == "env-bob-canary"
    entry = live.runtime.pool._entries["envfx"]
    assert set(entry.modern) == {"alice", "bob"}  # 2026-07-28 sessions, one per user
    # A changed secret reaches the user's (restarted) 2026-07-28 session too.
    await live.set_secret(keys["alice"], "envfx", "SVC_TOKEN", "env-alice-new")
    assert await printed("alice") == "env-alice-new"
