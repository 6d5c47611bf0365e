"""lastError names what failed (command or URL) and the default policy stops restarting."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from mcp_gateway.domain.servers import ReconnectionOptions, ServerConfig, TransportType
from mcp_gateway.domain.servers import ServerStatus as S
from mcp_gateway.errors import UpstreamUnavailable
from mcp_gateway.upstream.failures import safe_url
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import TINY_SERVER, poll_until, stdio_config, text_of, wait_status

pytestmark = pytest.mark.anyio

FAST = ReconnectionOptions(initial_delay=0.01, max_delay=0.05)  # default maxRetries (5)


def _gave_up(pool: UpstreamPool, name: str) -> bool:
    state = pool.status(name)
    return state.status is S.ERROR and state.next_restart_at is None


async def test_a_missing_command_is_named_and_restarts_stop_with_status_error(
    pool: UpstreamPool,
) -> None:
    server = ServerConfig(name="typo", command="npx-typo-does-not-exist", reconnection=FAST)
    await pool.apply(server)
    await poll_until(lambda: _gave_up(pool, "typo"))
    state = pool.status("typo")
    assert state.last_error == "command 'npx-typo-does-not-exist' not found"
    assert state.restarts == 5
    with pytest.raises(UpstreamUnavailable) as info:
        await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    assert info.value.status == 503 and "npx-typo-does-not-exist" in info.value.message
    assert "enable or update" in info.value.message
    assert pool.status("typo").restarts == 5  # a call does not restart it


async def test_a_command_that_exits_at_once_names_its_status_and_stderr_then_enable_retries(
    pool: UpstreamPool,
) -> None:
    broken = stdio_config(
        script=TINY_SERVER, args=("--fail-start", "boom: missing API_TOKEN"), reconnection=FAST
    )
    await pool.apply(broken)
    await poll_until(lambda: _gave_up(pool, "fx"))
    error = pool.status("fx").last_error or ""
    assert error.endswith("exited with status 1: boom: missing API_TOKEN"), error
    assert broken.command is not None and repr(broken.command) in error
    # Applying the same definition again (PUT .../enable) starts it again: one more cycle.
    await pool.apply(broken)
    await poll_until(lambda: pool.status("fx").restarts == 5 and _gave_up(pool, "fx"))
    # The fixed definition connects.
    fixed = dataclasses.replace(broken, args=(TINY_SERVER,))
    await pool.apply(fixed)
    await wait_status(pool, "fx", S.CONNECTED)
    assert text_of(await pool.call_tool(fixed, "echo", {"text": "up"}, username="u")) == "up"


async def test_an_unreachable_url_is_named_without_userinfo_or_query(pool: UpstreamPool) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://bob:hunter2@127.0.0.1:{port}/mcp?api_key=canary-q"
    server = ServerConfig(
        name="web", transport_type=TransportType.STREAMABLE_HTTP, url=url, reconnection=FAST
    )
    await pool.apply(server)
    await poll_until(lambda: _gave_up(pool, "web"))
    error = pool.status("web").last_error or ""
    assert error.startswith(f"http://127.0.0.1:{port}/mcp could not be reached"), error
    assert "hunter2" not in error and "canary-q" not in error and "bob" not in error


def test_safe_url_keeps_scheme_host_port_and_path_only() -> None:
    assert safe_url("https://u:p@[::1]:8443/a/b?k=v#f") == "https://[::1]:8443/a/b"
    assert safe_url("http://[bad") == "the server URL"


@pytest.mark.slow  # each attempt waits out the stop grace (stdin closed, then SIGTERM)
async def test_a_server_that_never_answers_the_handshake_is_a_failed_start(
    pool: UpstreamPool,
) -> None:
    server = stdio_config(
        script="-c",
        args=("import time; time.sleep(60)",),
        startup_timeout=0.3,
        reconnection=ReconnectionOptions(initial_delay=0.01, max_delay=0.05, max_retries=1),
    )
    await pool.apply(server)
    await poll_until(lambda: _gave_up(pool, "fx"))
    error = pool.status("fx").last_error or ""
    assert error.endswith("did not answer the MCP handshake within 0.3s"), error
