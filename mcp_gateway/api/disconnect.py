"""Cancel work when the client goes away.

After the body is read, an ASGI server's ``receive()`` blocks until the client disconnects
(Hypercorn then returns ``http.disconnect``). Racing the work against it cancels an upstream
call nobody waits for any more, which frees its concurrency slot at once.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import anyio
from starlette.requests import Request

from mcp_gateway.errors import GatewayError

T = TypeVar("T")


class ClientDisconnected(GatewayError):
    """The client closed the connection before the answer was ready (nobody reads this)."""

    status = 499
    code = "client_disconnected"


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; cancel it and raise ClientDisconnected if the client disconnects."""
    done = False
    result: T

    async def watch(scope: anyio.CancelScope) -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, tg.cancel_scope)
        result = await work
        done = True
        tg.cancel_scope.cancel()
    if not done:
        raise ClientDisconnected("client disconnected")
    return result
