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
    """Await ``work``; cancel it and raise ClientDisconnected if the client disconnects.

    ``work``'s own exception propagates unchanged (not wrapped in an exception group).
    """
    results: list[T] = []
    errors: list[Exception] = []

    async def watch(scope: anyio.CancelScope) -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, tg.cancel_scope)
        try:
            results.append(await work)
        except Exception as exc:  # carried out of the task group unwrapped
            errors.append(exc)
        tg.cancel_scope.cancel()
    if errors:
        raise errors[0]
    if not results:
        raise ClientDisconnected("client disconnected")
    return results[0]
