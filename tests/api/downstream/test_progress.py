"""Upstream progress notifications reach the MCP client through the gateway, masked."""

from __future__ import annotations

import pytest

from tests.api.downstream.conftest import MODES, LiveGateway


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_upstream_progress_is_relayed_to_the_client_with_secrets_masked(
    live: LiveGateway, mode: str
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    # The fixture's progress tool puts its "message" argument into every notification: inject
    # a secret there, as an upstream printing a credential into its progress would.
    await live.set_secret(alice, "fx", "message", "alice-progress-canary-4242")
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with live.mcp_client("/mcp/fx", alice, mode=mode) as client:
        for _ in range(3):  # the last notification used to race the result (2026-07-28)
            seen.clear()
            result = await client.call_tool("progress", {"steps": 3}, progress_callback=on_progress)
            assert not result.is_error
            assert [(p, t) for p, t, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    messages = [m or "" for _, _, m in seen]
    assert all(m.endswith(f"step {i}") for i, m in enumerate(messages, 1))
    # The upstream printed the injected value into its messages; none reaches the client.
    assert not any("alice-progress-canary-4242" in m for m in messages)
