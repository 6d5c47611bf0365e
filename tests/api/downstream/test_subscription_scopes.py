"""A subscription ends on the upstream session it was made on, whichever session the user's
requests take now (the server's isolation changed in between)."""

from __future__ import annotations

import pytest

from tests.api.downstream.conftest import LiveGateway
from tests.api.downstream.test_notifications import _held_upstream, _subscription, _tool


@pytest.mark.anyio
async def test_an_unsubscribe_made_on_the_shared_session_never_ends_the_users_own_subscription(
    live: LiveGateway,
) -> None:
    # Review finding: client A subscribed on the shared session; the server became per-user
    # and client B (the same user) subscribed on her own session. A's unsubscribe was sent to
    # her own session (where her requests go now) and ended B's subscription upstream.
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    readme = "fixture://readme"
    async with live.mcp_client("/mcp/fx", alice) as a:
        await _subscription(a, readme)
        resp = await live.client.put(
            "/mcp/servers/fx", json={"isolation": "per_user"}, headers=live.admin
        )
        assert resp.status_code == 200, resp.text
        async with live.mcp_client("/mcp/fx", alice) as b:
            await _tool(b, "echo", {"text": "alice's own session runs"})
            await _subscription(b, readme)
            assert await _held_upstream(b) == [readme]
            await _subscription(a, readme, on=False)
            assert await _held_upstream(b) == [readme], "A's unsubscribe ended B's subscription"
            await _subscription(b, readme, on=False)
            assert await _held_upstream(b) == []
