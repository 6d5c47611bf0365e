"""The real npm package @modelcontextprotocol/server-everything through the pool (stdio)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import text_of

PACKAGE = "@modelcontextprotocol/server-everything"
# Reused across test sessions so the registry is hit once per machine, not once per run.
CACHE = Path(tempfile.gettempdir()) / "mcpgw-test-cache" / "server-everything"


@pytest.fixture(scope="session")
def server_everything_bin() -> Iterator[Path]:
    binary = CACHE / "node_modules" / ".bin" / "mcp-server-everything"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed")
        CACHE.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", PACKAGE],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            output = proc.stdout + proc.stderr
            if any(s in output for s in ("ENOTFOUND", "ECONNREFUSED", "ETIMEDOUT", "EAI_AGAIN")):
                pytest.skip(f"npm registry unreachable: {output.strip().splitlines()[-1]}")
            raise AssertionError(f"npm install {PACKAGE} failed:\n{output}")
    yield binary


@pytest.mark.anyio
@pytest.mark.network
async def test_server_everything_echo_and_tool_list(
    pool: UpstreamPool, server_everything_bin: Path
) -> None:
    server = ServerConfig(name="everything", command=str(server_everything_bin), args=("stdio",))
    result = await pool.call_tool(server, "echo", {"message": "hi there"}, username="u")
    assert not result.is_error and "hi there" in text_of(result)
    tools = {t.name for t in await pool.list_tools(server, username="u")}
    assert {"echo", "get-sum"} <= tools or {"echo", "add"} <= tools, tools
    result = await pool.call_tool(
        server, "get-sum" if "get-sum" in tools else "add", {"a": 2, "b": 3}, username="u"
    )
    assert "5" in text_of(result)
