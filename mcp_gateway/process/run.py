"""Run one short-lived command to completion: a time limit, bounded output, the tree killed.

After ``time_limit`` seconds, or on cancellation, the child and everything it spawned (node-gyp,
build backends, daemons that left the group) are killed.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from mcp_gateway.process.env import minimal_env
from mcp_gateway.process.output import DEFAULT_OUTPUT_LIMIT, LineCallback, OutputTail
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.process.spawn import signal_group_kill, spawn
from mcp_gateway.process.tree import kill_tree


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int | None  # None when it was killed on timeout
    output: str  # bounded tail of stdout+stderr
    timed_out: bool
    duration: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        tool = Path(self.argv[0]).name
        if self.timed_out:
            return f"{tool} timed out after {self.duration:.0f} s and was killed"
        return f"{tool} exited with status {self.returncode}"


async def run_command(
    argv: Sequence[str],
    *,
    time_limit: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    sandbox: Sandbox | None = None,
) -> CommandResult:
    """Run ``argv`` (never through a shell) and return its status and output tail.

    ``env`` defaults to :func:`minimal_env`. Files it creates are world-readable (umask 022):
    sandboxed servers run under other uids and must read what an installer wrote. With an
    enabled ``sandbox`` it runs in namespaces as the gateway's own uid, seeing neither the data
    directory nor the gateway's processes. A non-zero exit is *not* raised (callers
    decide); an executable that cannot be started raises OSError.
    """
    tail = OutputTail(None, max_bytes=output_limit, on_line=on_line)
    started = time.monotonic()
    child = await spawn(
        argv,
        env=dict(env) if env is not None else minimal_env(),
        cwd=str(cwd) if cwd is not None else None,
        sandbox=sandbox,
        own_uid=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        umask=0o022,
    )
    process = child.process
    timed_out = False
    try:
        with anyio.move_on_after(time_limit) as scope:
            assert process.stdout is not None
            async for chunk in process.stdout:
                tail.feed(chunk)
            await process.wait()
        timed_out = scope.cancelled_caught
        tail.flush()
    finally:
        if process.returncode is None:
            signal_group_kill(child)
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()
            kill_tree(process.pid, child.tree_id, root_alive=False)  # daemons it left behind
            await anyio.to_thread.run_sync(child.release)
    return CommandResult(
        argv=tuple(argv),
        returncode=None if timed_out else process.returncode,
        output=tail.text(),
        timed_out=timed_out,
        duration=time.monotonic() - started,
    )
