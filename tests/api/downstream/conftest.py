"""A real gateway on a real socket (Hypercorn, as ``serve`` runs it) for the official MCP SDK
client: its legacy era keeps a GET stream open, which an in-memory ASGI transport cannot carry.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_gateway.api.app import create_app
from mcp_gateway.runtime import Runtime
from tests.api.conftest import Gateway
from tests.conftest import MakeSettings

MODES = ["legacy", "2026-07-28"]


class LiveGateway(Gateway):
    url: str

    @asynccontextmanager
    async def mcp_client(
        self,
        path: str,
        key: str | None,
        *,
        mode: str = "legacy",
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> AsyncIterator[Client]:
        """The official SDK client for ``self.url + path`` with ``key`` as Bearer token;
        ``options``: more Client arguments (sampling, elicitation, roots, logging callbacks)."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        async with httpx2.AsyncClient(headers=sent, timeout=httpx2.Timeout(30.0)) as http:
            transport = streamable_http_client(self.url + path, http_client=http)
            async with Client(transport, mode=mode, cache=None, **options) as client:
                yield client


MakeLive = Callable[..., AbstractAsyncContextManager[LiveGateway]]


@asynccontextmanager
async def _served(app: Any) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # Hypercorn owns (and closes) it from here
    config.accesslog = None
    config.graceful_timeout = 2.0
    stop = asyncio.Event()
    # Its own task, as serve does: Hypercorn's shutdown bookkeeping must not touch the test's.
    task = asyncio.create_task(hypercorn_serve(app, config, shutdown_trigger=stop.wait))
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx2.AsyncClient(base_url=url) as probe:
            with anyio.fail_after(60):
                while True:
                    if task.done():
                        task.result()
                    try:
                        await probe.get("/healthz")
                        break
                    except httpx2.TransportError:
                        await anyio.sleep(0.05)
        yield url
    finally:
        stop.set()
        await task


@pytest.fixture
def make_live(make_settings: MakeSettings, tmp_path: Path) -> MakeLive:
    @asynccontextmanager
    async def build(
        backend: str = "sqlite", **sections: dict[str, Any]
    ) -> AsyncIterator[LiveGateway]:
        settings = make_settings(tmp_path, backend, **sections)
        announced: list[str] = []
        runtime = Runtime(settings, announce=announced.append, reconcile_packages=False)
        app = create_app(runtime)
        async with _served(app) as url:
            async with httpx2.AsyncClient(base_url=url, timeout=30.0) as client:
                live = LiveGateway(runtime, client, announced, app)
                live.url = url
                yield live

    return build


@pytest.fixture
async def live(make_live: MakeLive) -> AsyncIterator[LiveGateway]:
    async with make_live() as gw:
        yield gw
