"""One real install from each public registry (marked ``network``; skipped with a reason only
when the registry cannot be reached)."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from mcp_gateway.installer import InstallSpec, NpmInstaller, PythonInstaller
from mcp_gateway.installer.base import new_install_dir

pytestmark = [pytest.mark.anyio, pytest.mark.network, pytest.mark.slow]


async def _require(url: str) -> None:
    try:
        async with httpx2.AsyncClient(timeout=10) as client:
            (await client.get(url)).raise_for_status()
    except httpx2.HTTPError as exc:
        pytest.skip(f"registry unreachable ({url}): {type(exc).__name__}")


async def _first_tool_call(
    command: str, args: tuple[str, ...], tool: str, arguments: dict[str, str]
) -> str:
    with anyio.fail_after(60):
        async with Client(StdioServerParameters(command=command, args=list(args))) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            assert tool in names
            result = await client.call_tool(tool, arguments)
    assert not result.is_error
    return str(result.content[0])


async def test_server_everything_from_npm(tmp_path: Path) -> None:
    name = "@modelcontextprotocol/server-everything"
    await _require("https://registry.npmjs.org/@modelcontextprotocol%2fserver-everything")
    npm = NpmInstaller(tmp_path / "node", timeout=300)
    result = await npm.install(InstallSpec(name), new_install_dir(npm.root, "everything"))
    assert result.version == await npm.latest_version(InstallSpec(name))
    assert result.command == "node"
    assert "hello-real" in await _first_tool_call(
        result.command, result.args, "echo", {"message": "hello-real"}
    )


async def test_mcp_server_time_from_pypi(tmp_path: Path) -> None:
    await _require("https://pypi.org/simple/mcp-server-time/")
    py = PythonInstaller(tmp_path / "python", timeout=300)
    result = await py.install(InstallSpec("mcp-server-time"), new_install_dir(py.root, "time"))
    # The resolver may pick an older release when the newest needs a newer Python.
    latest = await py.latest_version(InstallSpec("mcp-server-time"))
    assert not py.is_newer(result.version, latest)
    assert result.command is not None and result.command.endswith("/bin/mcp-server-time")
    assert "UTC" in await _first_tool_call(
        result.command, result.args, "get_current_time", {"timezone": "UTC"}
    )
