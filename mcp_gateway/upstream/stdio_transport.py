"""Our own stdio transport: the SDK's ``stdio_client`` gives no pid, no stderr pipe and no say
over the environment, all of which the gateway needs.

The child is started by :func:`mcp_gateway.process.spawn.spawn` (its own process group, exactly
the environment it is given, sandboxed when a sandbox is given). stdout carries
newline-delimited JSON-RPC into the session's read stream; stderr feeds a
:class:`~mcp_gateway.process.output.OutputTail`. The end of stdout (the child exited or
crashed) calls ``on_eof`` *before* the read stream closes, so the owner knows the connection is
dead the moment in-flight calls start failing. Shutdown is :func:`mcp_gateway.process.spawn.stop`
(stdin closed, SIGTERM, SIGKILL of the whole tree); it runs shielded, so a cancelled owner never
leaks a process.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from mcp_gateway.config import DEFAULT_MAX_MESSAGE_BYTES
from mcp_gateway.process.output import OutputTail
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.process.spawn import GRACE, spawn, stop
from mcp_gateway.upstream.stdio_reader import StdoutReader

logger = logging.getLogger(__name__)

_READ_BUFFER = 16  # messages parsed ahead of the dispatcher: bounded


@dataclass(slots=True)
class StdioChild:
    """The streams a ClientSession runs on, plus the process facts the pool reports."""

    read_stream: MemoryObjectReceiveStream[SessionMessage | Exception]
    write_stream: MemoryObjectSendStream[SessionMessage]
    process: anyio.abc.Process

    @property
    def pid(self) -> int:
        return self.process.pid


@asynccontextmanager
async def open_stdio(
    command: str,
    args: tuple[str, ...] | list[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    stderr_ring: OutputTail,
    on_eof: Callable[[], None],
    on_exit: Callable[[int | None], None] | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    grace: float = GRACE,
    sandbox: Sandbox | None = None,
) -> AsyncIterator[StdioChild]:
    """Spawn ``command`` and yield its streams. Raises OSError if it cannot be spawned.

    stdout is parsed by :class:`~mcp_gateway.upstream.stdio_reader.StdoutReader`: a message
    over ``max_message_bytes`` fails the call it answered and is never buffered whole."""
    child = await spawn(
        [command, *args],
        env=env,
        cwd=cwd,
        sandbox=sandbox,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process = child.process
    # No awaits between the spawn and the task group below, or a cancellation would leak it.
    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](
        _READ_BUFFER
    )
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

    reader = StdoutReader(max_message_bytes, stderr_ring, read_send)

    async def stdout_reader() -> None:
        assert process.stdout is not None
        try:
            async with read_send:
                await reader.run(process.stdout.receive)
                # EOF: mark the connection dead before the read stream closes (LIFO above).
                on_eof()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            on_eof()

    async def stderr_reader() -> None:
        assert process.stderr is not None
        with suppress(anyio.EndOfStream, anyio.ClosedResourceError, OSError):
            while True:
                stderr_ring.feed(await process.stderr.receive())
        stderr_ring.flush()

    async def stdin_writer() -> None:
        assert process.stdin is not None
        try:
            async with write_recv:
                async for message in write_recv:
                    reader.sent(message.message)
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(data.encode() + b"\n")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            # The child stopped reading: end the session instead of hanging requests.
            await read_send.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout_reader)
        tg.start_soon(stderr_reader)
        tg.start_soon(stdin_writer)
        try:
            yield StdioChild(read_recv, write_send, process)
        finally:
            with anyio.CancelScope(shield=True):
                write_send.close()
                read_recv.close()
                await stop(child, grace)
            if on_exit is not None:  # the reaped child's status, for the owner's lastError
                on_exit(process.returncode)
            tg.cancel_scope.cancel()
