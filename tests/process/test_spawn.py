"""``spawn`` cancelled while it starts a child leaves nothing open behind it."""

from __future__ import annotations

import os
import subprocess
import sys

import anyio
import anyio.lowlevel

from mcp_gateway.process.spawn import Child, spawn, stop

SLEEPER = [sys.executable, "-c", "import time; time.sleep(30)"]


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def _spawn_cancelled_after(checkpoints: int) -> None:
    """Start a child with three pipes, cancelled after ``checkpoints`` of the event loop, and
    return at once (as a test's or the gateway's loop ends right after a cancelled start)."""
    child: Child | None = None
    with anyio.CancelScope() as scope:

        async def cancel() -> None:
            for _ in range(checkpoints):
                await anyio.lowlevel.checkpoint()
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel)
            pipe = subprocess.PIPE
            child = await spawn(SLEEPER, env=dict(os.environ), stdin=pipe, stdout=pipe, stderr=pipe)
            await anyio.sleep(30)
    if child is not None:  # started before the cancellation landed: its owner stops it
        with anyio.CancelScope(shield=True):
            await stop(child, grace=1)


def test_a_start_cancelled_at_any_point_leaves_no_pipe_open_when_its_loop_ends() -> None:
    # asyncio, cancelled while connecting the child's pipes, killed the child but left the
    # pipes connected after that open; with the loop closed nothing ever closed them (and the
    # garbage collector's ResourceWarning failed whichever test ran then).
    for checkpoints in range(12):  # before, during and after the pipes are connected
        before = _open_fds()
        anyio.run(_spawn_cancelled_after, checkpoints)
        leaked = _open_fds() - before
        assert not leaked, f"cancelled after {checkpoints} checkpoints: fds {leaked} open"
