"""Stopping a child kills its whole tree, including a daemon that double-forked out of the group.

Unsandboxed here (the sandboxed case is in test_sandbox.py): the tree marker finds it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.process.run import run_command
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.process.procs import processes_with
from tests.upstream.conftest import TINY_SERVER, poll_until, stdio_config, text_of

pytestmark = pytest.mark.anyio

DAEMON = """
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        sleeper = "import time; time.sleep(600)"
        os.execv(sys.executable, [sys.executable, "-c", sleeper, sys.argv[1]])
    os._exit(0)
os.wait()
print("parent done")
"""


async def test_removing_a_server_kills_the_daemon_its_child_started(sqlite_store: Store) -> None:
    token = f"mcpgw-daemon-{secrets.token_hex(6)}"
    settings = UpstreamSettings(busy_wait=0.1)
    async with UpstreamPool(sessions=sqlite_store, settings=settings) as pool:
        server = stdio_config(script=TINY_SERVER)
        result = await pool.call_tool(server, "daemonize", {"token": token}, username="u")
        assert text_of(result).isdigit()
        await poll_until(lambda: len(processes_with(token)) == 1, within=10)
        await pool.remove("fx")
        await poll_until(lambda: not processes_with(token), within=10)


async def test_run_command_kills_a_daemon_left_behind_by_a_successful_command() -> None:
    token = f"mcpgw-daemon-{secrets.token_hex(6)}"
    result = await run_command([sys.executable, "-c", DAEMON, token], time_limit=30)
    assert result.ok, result.output
    assert "parent done" in result.output
    await poll_until(lambda: not processes_with(token), within=10)


async def test_a_daemon_outlives_a_kill_of_its_parents_process_group() -> None:
    # What the tests above guard against: the group kill the gateway used to rely on.
    token = f"mcpgw-daemon-{secrets.token_hex(6)}"
    process = await anyio.open_process(
        [sys.executable, "-c", DAEMON, token], start_new_session=True
    )
    await process.wait()
    await process.aclose()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        await poll_until(lambda: len(processes_with(token)) == 1, within=10)
    finally:
        for pid in processes_with(token):
            os.kill(pid, signal.SIGKILL)
