"""Kept-alive upstream connections never wait on a delayed ACK (upstream/quickack.py).

An upstream that runs Nagle's algorithm (the fixture's ``--nagle``: no ``TCP_NODELAY``) holds
each response's second write until the gateway acknowledges the first; Linux delays that ACK
(~40 ms) on a connection past its first exchanges. The kernel counts every delayed ACK it
sends (``TcpExt: DelayedACKs`` in /proc/net/netstat), which is what these tests read: a count,
not a timer. The counter is the machine's: other traffic (another test worker, say) adds some,
so each check takes the quietest of a few windows and allows a quarter of the requests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from mcp_gateway.upstream.quickack import acknowledging
from tests.upstream.conftest import HttpFixture, text_of
from tests.upstream.test_http_pool import http_config

pytestmark = pytest.mark.anyio

NETSTAT = Path("/proc/net/netstat")
REQUESTS = 20
ALLOWED = REQUESTS // 4  # without immediate ACKs, each request of a window is one


def delayed_acks() -> int:
    lines = NETSTAT.read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:]), strict=True))[
                "DelayedACKs"
            ]
    raise AssertionError("no TcpExt line in /proc/net/netstat")


async def _delayed_during_gets(url: str, transport: httpx2.AsyncBaseTransport) -> int:
    async with httpx2.AsyncClient(transport=transport) as client:
        await client.get(url)  # the connection's young exchanges are acknowledged at once
        before = delayed_acks()
        for _ in range(REQUESTS):
            (await client.get(url)).raise_for_status()
        return delayed_acks() - before


@pytest.fixture
def nagle_upstream(http_fixture: Callable[..., HttpFixture]) -> HttpFixture:
    if not NETSTAT.exists():
        pytest.skip("needs Linux's /proc/net/netstat")
    fx = http_fixture("--nagle")
    return fx


async def test_reused_connections_to_a_nagle_upstream_send_no_delayed_acks(
    nagle_upstream: HttpFixture,
) -> None:
    url = nagle_upstream.base + "/stats"
    plain = await _delayed_during_gets(url, httpx2.AsyncHTTPTransport())
    if plain < REQUESTS // 2:
        pytest.skip(f"this kernel delayed only {plain} of {REQUESTS} ACKs: nothing to show")
    windows = [
        await _delayed_during_gets(url, acknowledging(httpx2.AsyncHTTPTransport()))
        for _ in range(3)
    ]
    assert min(windows) <= ALLOWED, windows


async def test_tool_calls_through_the_pool_to_a_nagle_upstream_send_no_delayed_acks(
    sqlite_store: Store, upstream_settings: UpstreamSettings, nagle_upstream: HttpFixture
) -> None:
    server = http_config(nagle_upstream.url)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        for _ in range(3):
            await pool.call_tool(server, "echo", {"text": "warm"}, username="u")
        windows = []
        for _ in range(3):
            before = delayed_acks()
            for n in range(REQUESTS):
                result = await pool.call_tool(server, "echo", {"text": str(n)}, username="u")
                assert text_of(result) == str(n)
            windows.append(delayed_acks() - before)
    # Each call reuses the connection (test_direct.py); without immediate ACKs every one of
    # them waited for the delayed-ACK timer.
    assert min(windows) <= ALLOWED, windows
