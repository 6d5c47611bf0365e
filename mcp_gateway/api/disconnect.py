"""Cancel work when the client goes away.

After the body is read, an ASGI server's ``receive()`` blocks until the client disconnects
(Hypercorn then returns ``http.disconnect``). Racing the work against it cancels an upstream
call nobody waits for any more, which frees its concurrency slot at once.

This runs on every tool call, so it uses one bare asyncio task instead of an anyio task group:
a task group plus ``CancelScope.cancel()`` (which formats a task repr into its reason) cost
~0.1 ms per request, the asyncio version ~0.01 ms (docs/benchmarks.md, issue 4). The API is
served on asyncio only (``serve`` runs Hypercorn's asyncio worker; tests use the asyncio
backend).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from mcp_gateway.errors import ClientDisconnected

T = TypeVar("T")


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; cancel it and raise ClientDisconnected if the client disconnects.

    ``work``'s own exception propagates unchanged (not wrapped in an exception group), and a
    cancellation from elsewhere (shutdown) stays a cancellation.
    """
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task under an ASGI server
        return await work
    state = {"finished": False, "disconnected": False}

    async def watch() -> None:
        while True:
            try:
                message = await request.receive()
            except Exception:  # nothing more to learn from this connection
                return
            if message["type"] == "http.disconnect":
                if not state["finished"]:
                    state["disconnected"] = True
                    task.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        # Ours (and not also a shutdown's): undo our cancel request and report the disconnect.
        if state["disconnected"] and task.uncancel() == 0:
            raise ClientDisconnected("client disconnected") from None
        raise
    finally:
        state["finished"] = True
        watcher.cancel()
