"""Install time and time to first tool call for the two real packages; uv vs pip for Python.

Run: ``.venv/bin/python bench/install_time.py --runs 3`` (needs the npm registry and PyPI).

Each run installs into a fresh directory through the gateway's installers (the same code path
as ``POST /packages/install``), then starts the installed command with the MCP SDK's stdio
client, lists tools and calls one. Registry caches (npm's, uv's, pip's) are warm after the
first run; the first run is printed separately. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from mcp_gateway.installer import InstallResult, InstallSpec, NpmInstaller, PythonInstaller
from mcp_gateway.installer.base import new_install_dir
from mcp_gateway.installer.python import find_uv


async def first_call(result: InstallResult, tool: str, arguments: dict[str, str]) -> float:
    assert result.command is not None
    started = time.perf_counter()
    params = StdioServerParameters(command=result.command, args=list(result.args))
    async with Client(params) as client:
        await client.list_tools()
        answer = await client.call_tool(tool, arguments)
    assert not answer.is_error, answer
    return time.perf_counter() - started


Case = Callable[[Path], Awaitable[tuple[float, float, str]]]


def npm_case(name: str) -> Case:
    async def run(root: Path) -> tuple[float, float, str]:
        npm = NpmInstaller(root / "node", timeout=600)
        started = time.perf_counter()
        result = await npm.install(InstallSpec(name), new_install_dir(npm.root, "bench"))
        install = time.perf_counter() - started
        call = await first_call(result, "echo", {"message": "hi"})
        return install, call, result.version

    return run


def python_case(name: str, *, use_uv: bool) -> Case:
    async def run(root: Path) -> tuple[float, float, str]:
        py = PythonInstaller(root / "python", timeout=600, use_uv=use_uv)
        started = time.perf_counter()
        result = await py.install(InstallSpec(name), new_install_dir(py.root, "bench"))
        install = time.perf_counter() - started
        call = await first_call(result, "get_current_time", {"timezone": "UTC"})
        return install, call, result.version

    return run


async def main(runs: int) -> None:
    cases: list[tuple[str, Case]] = [
        (
            "@modelcontextprotocol/server-everything (npm)",
            npm_case("@modelcontextprotocol/server-everything"),
        ),
        ("mcp-server-time (pip)", python_case("mcp-server-time", use_uv=False)),
    ]
    if find_uv():
        cases.append(("mcp-server-time (uv)", python_case("mcp-server-time", use_uv=True)))
    else:
        print("uv not found: pip install uv (it is in the dev extras) to compare")
    rows = []
    for label, case in cases:
        installs: list[float] = []
        calls: list[float] = []
        version = ""
        for _ in range(runs):
            root = Path(tempfile.mkdtemp(prefix="mcpgw-bench-"))
            try:
                install, call, version = await case(root)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            installs.append(install)
            calls.append(call)
            print(f"{label}: install {install:.2f} s, first tool call {call:.2f} s", flush=True)
        rows.append((label, version, installs, calls))
    print()
    print(
        "| package (installer) | version | first install | median install | "
        "median first tool call |"
    )
    print("|---|---|---|---|---|")
    for label, version, installs, calls in rows:
        print(
            f"| {label} | {version} | {installs[0]:.1f} s | {statistics.median(installs):.1f} s"
            f" | {statistics.median(calls):.2f} s |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    anyio.run(main, parser.parse_args().runs)
