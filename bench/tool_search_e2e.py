"""Tool search end to end at 10,000 tools: ``gateway__search_tools`` through the MCP handlers.

A real gateway (``Runtime`` + ``create_app``, SQLite in a temporary directory) in front of the
catalogue of bench/tool_search.py split by server (16 real servers, ~100 synthetic ones: one
upstream server each, served over Streamable HTTP by one in-process upstream on a real socket,
``/s/<server>/mcp``). The official SDK client (2026-07-28 era) talks to the gateway's
``/mcp?tools=search`` through an in-process ASGI transport: the measured path is the client's
request, HTTP parsing, authentication, the SDK's dispatch, the gateway's handler and its
catalogue (services/catalogue.py), and back; no socket. Reported:

- the first search (every server's segment built and indexed);
- warm searches (the 69 queries, ``--repeat`` passes): wall p50/p99 and the process's CPU time
  per call (steadier than wall time on a shared machine);
- a ``tools/list`` of the search mode (three tools, nothing listed): the fixed cost of one MCP
  request in process, to read the search's own share against;
- the first search after one server changed its tool list (a restart: the session re-lists,
  a new tool list) and after the user set a secret for one server (every input of that user
  read again, one segment rebuilt).

Run: .venv/bin/python bench/tool_search.py --e2e --tools 10000 --repeat 10
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from mcp_gateway.api.app import create_app
from mcp_gateway.api.downstream import search_tools
from mcp_gateway.config import load_settings
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.domain.tool_names import split
from mcp_gateway.runtime import Runtime

ADMIN = "mcpgw_bench-admin-key-0123456789abcdefghijkl"


def by_server(listed: list[dict[str, Any]]) -> dict[str, list[types.Tool]]:
    """``<server>__<tool>`` tool JSON grouped into each server's own tool list."""
    servers: dict[str, list[types.Tool]] = {}
    for tool in listed:
        parts = split(tool["name"])
        assert parts is not None
        own = types.Tool.model_validate({**tool, "name": parts[1]})
        servers.setdefault(parts[0], []).append(own)
    return servers


def upstream(servers: dict[str, list[types.Tool]]) -> StreamableHTTPSessionManager:
    """One SDK server answering for every ``/s/<server>/mcp`` path with that server's tools."""

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        name = ctx.request.scope["path"].split("/")[2]
        return types.ListToolsResult(tools=servers[name])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text="ok")])

    server: Server[Any] = Server("bench-upstream", on_list_tools=list_tools, on_call_tool=call_tool)
    return StreamableHTTPSessionManager(
        server,
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        max_sessions=None,
    )


@asynccontextmanager
async def served(manager: StreamableHTTPSessionManager) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.graceful_timeout = 1.0
    stop = asyncio.Event()
    async with manager.run():
        task = asyncio.create_task(
            hypercorn_serve(manager.handle_request, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        )
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop.set()
            await task


class ServerSide:
    """The gateway's ASGI app, timed: wall and this thread's CPU time of each HTTP request
    from its first byte in to its last byte out (the in-process client waits meanwhile)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.wall: list[float] = []
        self.cpu: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            await self.app(scope, receive, send)
        finally:
            self.wall.append((time.perf_counter() - wall) * 1000)
            self.cpu.append((time.thread_time() - cpu) * 1000)

    def report(self, what: str) -> str:
        wall, cpu = self.wall, self.cpu
        self.wall, self.cpu = [], []
        return (
            f"  server side ({what}, {len(wall)} requests): wall p50 {percentile(wall, 0.5):.2f} "
            f"ms, p99 {percentile(wall, 0.99):.2f} ms; CPU p50 {percentile(cpu, 0.5):.2f} ms, "
            f"p99 {percentile(cpu, 0.99):.2f} ms"
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(wall ms, CPU ms of this thread: client, gateway and event loop) of one awaited call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    await fn()
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


async def wait_listed(runtime: Runtime, names: list[str], old: dict[str, Any]) -> None:
    with anyio.fail_after(300):
        while True:
            states = runtime.pool.statuses()
            if all(
                states[n].tools is not None and states[n].tools is not old.get(n) for n in names
            ):
                return
            await anyio.sleep(0.05)


async def run(listed: list[dict[str, Any]], queries: list[dict[str, Any]], repeat: int) -> None:
    servers = by_server(listed)
    print(f"end to end: {len(listed)} tools on {len(servers)} upstream servers")
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(
            environ={},
            store={"data_dir": Path(data) / "data"},
            installer={"packages_dir": Path(data) / "packages"},
            http={"admin_api_key": ADMIN},
        )
        runtime = Runtime(settings, announce=lambda _: None, reconcile_packages=False)
        app = create_app(runtime)
        async with served(upstream(servers)) as url, app.router.lifespan_context(app):
            for name in servers:
                config = ServerConfig(
                    name, transport_type=TransportType.STREAMABLE_HTTP, url=f"{url}/s/{name}/mcp"
                )
                await runtime.servers.create(config)
            await wait_listed(runtime, list(servers), {})
            headers = {"Authorization": f"Bearer {ADMIN}", "X-MCPGW-Username": "bench"}
            server_side = ServerSide(app)
            transport = httpx2.ASGITransport(app=server_side)
            async with httpx2.AsyncClient(
                transport=transport, headers=headers, base_url="http://127.0.0.1", timeout=600
            ) as http:
                endpoint = "http://127.0.0.1/mcp?tools=search"
                stream = streamable_http_client(endpoint, http_client=http)
                async with Client(stream, mode="2026-07-28", cache=None) as client:
                    await measure(runtime, client, server_side, servers, queries, repeat)


async def measure(
    runtime: Runtime,
    client: Client,
    server_side: ServerSide,
    servers: dict[str, list[types.Tool]],
    queries: list[dict[str, Any]],
    repeat: int,
) -> None:
    async def search(query: str) -> None:
        result = await client.call_tool("gateway__search_tools", {"query": query, "limit": 10})
        assert not result.is_error, result
        json.loads(result.content[0].text)  # type: ignore[union-attr]

    first = await timed(lambda: search("create an issue"))
    print(f"first search (every segment built and indexed): {first[0]:.0f} ms wall")
    for q in queries:  # warm-up: one pass
        await search(q["query"])
    server_side.report("")
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeat):
        for q in queries:
            wall, cpu = await timed(functools.partial(search, q["query"]))
            walls.append(wall)
            cpus.append(cpu)
    print(
        f"warm search, {len(walls)} calls: wall p50 {percentile(walls, 0.5):.2f} ms, "
        f"p99 {percentile(walls, 0.99):.2f} ms; CPU per call p50 {percentile(cpus, 0.5):.2f} "
        f"ms, p99 {percentile(cpus, 0.99):.2f} ms (client and gateway: one process)"
    )
    print(server_side.report("search"))
    # The gateway's own share of a search: the caller's catalogue (checked current) and the
    # ranking, as the handler runs them, without the MCP request around them.
    own: list[float] = []
    own_cpu: list[float] = []

    async def served_search(query: str) -> None:
        view = await runtime.catalogue.indexed("bench")
        search_tools.search(view, query, 10)

    for _ in range(repeat):
        for q in queries:
            wall, cpu = await timed(functools.partial(served_search, q["query"]))
            own.append(wall)
            own_cpu.append(cpu)
    print(
        f"the handler's catalogue check + ranking, {len(own)} searches: wall p50 "
        f"{percentile(own, 0.5):.2f} ms, p99 {percentile(own, 0.99):.2f} ms; CPU p50 "
        f"{percentile(own_cpu, 0.5):.2f} ms, p99 {percentile(own_cpu, 0.99):.2f} ms"
    )
    base: list[float] = []
    base_cpu: list[float] = []
    for _ in range(200):
        wall, cpu = await timed(client.list_tools)
        base.append(wall)
        base_cpu.append(cpu)
    print(
        f"tools/list in search mode (the MCP request's fixed cost), 200 calls: wall p50 "
        f"{percentile(base, 0.5):.2f} ms, p99 {percentile(base, 0.99):.2f} ms; CPU p50 "
        f"{percentile(base_cpu, 0.5):.2f} ms"
    )
    print(server_side.report("tools/list"))
    names = sorted(servers, key=lambda n: -len(servers[n]))
    restarts: list[float] = []
    sizes: list[int] = []
    for name in names[:5]:  # the largest servers: the most to re-index
        old = {n: s.tools for n, s in runtime.pool.statuses().items()}
        await runtime.servers.restart(name)
        await wait_listed(runtime, [name], old)
        built = runtime.catalogue.segments_built
        restarts.append((await timed(lambda: search("create an issue")))[0])
        sizes.append(len(servers[name]))
        assert runtime.catalogue.segments_built == built + 1  # that server's segment only
    print(
        f"first search after one server re-listed its tools ({min(sizes)}-{max(sizes)} tools): "
        f"median {statistics.median(restarts):.1f} ms, max {max(restarts):.1f} ms (5 servers)"
    )
    secrets: list[float] = []
    for i, name in enumerate(names[:5]):
        await runtime.secrets.set("bench", name, f"S{i}", "v")
        secrets.append((await timed(lambda: search("create an issue")))[0])
    print(
        f"first search after the user set a secret on one server: median "
        f"{statistics.median(secrets):.1f} ms, max {max(secrets):.1f} ms (5 secrets)"
    )
