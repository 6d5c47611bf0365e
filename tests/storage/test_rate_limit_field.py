"""A server's ``rate_limit`` round-trips through both stores; older documents read as None."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.ratelimit import Rate, RateLimit
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio


async def test_rate_limit_round_trips_and_can_be_cleared(store: Store) -> None:
    limited = ServerConfig(
        name="fx",
        command="x",
        rate_limit=RateLimit(per_user=Rate(60, 60_000), total=Rate(1000, 1000)),
    )
    await store.create_server(limited)
    assert await store.get_server("fx") == limited
    unlimited = ServerConfig(name="fx", command="x", rate_limit=RateLimit())
    await store.update_server(unlimited)
    assert (await store.get_server("fx")) == unlimited
    await store.update_server(ServerConfig(name="fx", command="x"))
    got = await store.get_server("fx")
    assert got is not None and got.rate_limit is None
