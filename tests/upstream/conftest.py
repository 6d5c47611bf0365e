"""Fixtures for upstream tests: fixture-server definitions, an HTTP fixture process, a pool.

``fixture_stdio(name, **overrides) -> ServerConfig`` runs tests/fixtures/mcp_fixture_server.py.
``http_fixture(*flags) -> HttpFixture`` starts the fixture over Streamable HTTP on a free port
(stopped after the test); ``.url``, ``.stats()``, ``.restart()`` (same port, fresh sessions).
``pool`` is an entered UpstreamPool on the real SQLite store (``sqlite_store``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import ServerConfig, ServerStatus, TransportType
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE_SERVER = str(FIXTURES / "mcp_fixture_server.py")
SSE_ONLY_SERVER = str(FIXTURES / "sse_only_server.py")
TINY_SERVER = str(FIXTURES / "tiny_stdio_server.py")


def stdio_config(name: str = "fx", *, script: str = FIXTURE_SERVER, **kw: Any) -> ServerConfig:
    args = tuple(kw.pop("args", ()))
    return ServerConfig(
        name=name,
        transport_type=TransportType.STDIO,
        command=sys.executable,
        args=(script, *args),
        **kw,
    )


class HttpFixture:
    """A fixture server process speaking HTTP; ``script`` selects which fixture."""

    def __init__(self, script: str, flags: tuple[str, ...]) -> None:
        self.script = script
        self.flags = flags
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, self.script, "--http", "--port", str(self.port), *self.flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until bound (or the process died)
        assert line.startswith("PORT="), f"fixture did not start: {line!r}"
        self.port = int(line.strip().split("=", 1)[1])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def restart(self) -> None:
        """Same port, new process: every session it knew is gone."""
        self.stop()
        self.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    async def stats(self) -> dict[str, int]:
        async with httpx2.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{self.base}/stats")
            result: dict[str, int] = json.loads(response.content)
            return result


@pytest.fixture
def http_fixture() -> Iterator[Callable[..., HttpFixture]]:
    started: list[HttpFixture] = []

    def start(*flags: str, script: str = FIXTURE_SERVER) -> HttpFixture:
        fx = HttpFixture(script, flags)
        fx.start()
        started.append(fx)
        return fx

    yield start
    for fx in started:
        fx.stop()


@pytest.fixture
def upstream_settings() -> UpstreamSettings:
    return UpstreamSettings(user_session_idle=600.0, busy_wait=0.2)


def _test_sandbox(tmp_path: Path) -> Sandbox | None:
    """``MCPGW_TEST_SANDBOX=1`` runs the pool tests' stdio children sandboxed (root + bwrap)."""
    if os.environ.get("MCPGW_TEST_SANDBOX") != "1":
        return None
    box = Sandbox.detect(
        "required",
        bwrap="/usr/bin/bwrap",
        setpriv="/usr/bin/setpriv",
        uid_base=160_000,
        uid_count=200,
        exposed=(Path(sys.prefix), Path(sys.base_prefix)),
        homes=tmp_path / "sandbox-homes",
    )
    assert box.enabled, box.status.reason
    return box


@pytest.fixture
async def pool(
    sqlite_store: Store, upstream_settings: UpstreamSettings, tmp_path: Path
) -> AsyncIterator[UpstreamPool]:
    sandbox = _test_sandbox(tmp_path)
    async with UpstreamPool(
        sessions=sqlite_store, settings=upstream_settings, sandbox=sandbox
    ) as opened:
        yield opened


async def wait_status(
    pool: UpstreamPool, name: str, *statuses: ServerStatus, within: float = 15.0
) -> None:
    """Poll until ``name`` reaches one of ``statuses`` (fails the test after ``within``)."""
    await poll_until(lambda: pool.status(name).status in statuses, within)


async def poll_until(predicate: Callable[[], bool], within: float = 15.0) -> None:
    """Poll ``predicate`` every 20 ms; fail the test if it is not true within ``within`` s."""
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 (polling external state: no event to wait on)
            await anyio.sleep(0.02)


def in_flight(pool: UpstreamPool, name: str) -> int:
    """Calls to ``name`` the pool has admitted and not finished (a test needs to know a call
    is under way before racing another one against it)."""
    state = pool.statuses().get(name)
    return state.in_flight if state is not None else 0


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)
