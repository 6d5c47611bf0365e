"""Stopping a background writer: a task that drains a memory stream into the store.

The audit log and the API keys' last-use writes queue work on a stream that one task of their
own task group writes out. :func:`close_writer` is how either stops: close the stream (the
writer finishes what is queued, then sets its ``done`` event), wait for that at most
``within`` seconds, then cancel what is left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream


async def close_writer(
    send: MemoryObjectSendStream[Any] | None,
    tg: TaskGroup | None,
    done: anyio.Event,
    within: float,
    on_timeout: Callable[[], None] | None = None,
) -> None:
    """Close ``send``, give the writer ``within`` seconds to set ``done``, then cancel ``tg``'s
    tasks and leave it. ``on_timeout`` runs (before the cancel) when the writer was too slow."""
    if send is not None:
        send.close()
    if tg is None:
        return

    async def stop_after() -> None:
        with anyio.move_on_after(within) as scope:
            await done.wait()
        if scope.cancelled_caught and on_timeout is not None:
            on_timeout()
        tg.cancel_scope.cancel()

    tg.start_soon(stop_after)
    await tg.__aexit__(None, None, None)
