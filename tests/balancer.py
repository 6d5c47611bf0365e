"""A load balancer with no affinity, as an httpx transport: each request goes to the replica
a policy picks (round robin by default), whatever session it belongs to. For tests of state
shared between replicas (tests/api/downstream/test_shared_sessions.py, tests/cluster)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import httpx2

Choose = Callable[[httpx2.Request, int], int]


def round_robin(request: httpx2.Request, n: int) -> int:
    return n % 2


class Balancer(httpx2.AsyncBaseTransport):
    """Sends each request to the replica ``choose(request, n)`` names (n: requests so far)."""

    def __init__(self, urls: list[str], choose: Choose = round_robin) -> None:
        self._urls = [httpx2.URL(u) for u in urls]
        self._choose = choose
        self._count = itertools.count()
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent: list[tuple[str, int]] = []  # (method, replica index)
        self.session_id: str | None = None  # the last Mcp-Session-Id a replica answered

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = self._choose(request, next(self._count))
        target = self._urls[index]
        request.url = request.url.copy_with(host=target.host, port=target.port)
        self.sent.append((request.method, index))
        response = await self._inner.handle_async_request(request)
        self.session_id = response.headers.get("mcp-session-id", self.session_id)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
