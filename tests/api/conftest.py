"""In-process gateway fixtures: a real Runtime (SQLite store, real upstream pool running the
stdio fixture MCP server) behind the ASGI app, driven by an httpx2 client.

``gateway`` runs on SQLite; ``any_gateway`` is parametrised over SQLite and MongoDB
(SecantusDB) for suites where the store matters.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from starlette.applications import Starlette

from mcp_gateway.api.app import create_app
from mcp_gateway.runtime import Runtime
from tests.conftest import MakeSettings

FIXTURE_SERVER = str(Path(__file__).resolve().parents[1] / "fixtures" / "mcp_fixture_server.py")


def fixture_server(name: str, **fields: Any) -> dict[str, Any]:
    """A POST /mcp/servers body running the stdio fixture server."""
    return {"name": name, "command": sys.executable, "args": [FIXTURE_SERVER], **fields}


class Gateway:
    def __init__(
        self,
        runtime: Runtime,
        client: httpx2.AsyncClient,
        announced: list[str],
        app: Starlette | None = None,
    ):
        self.runtime = runtime
        self.app = app
        self.client = client
        self.announced = announced
        self.admin_key = announced[0].rsplit(" ", 1)[-1] if announced else ""

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.auth(self.admin_key)

    async def new_key(self, role: str, username: str | None = None) -> str:
        body: dict[str, Any] = {"name": f"{role}-{username}", "role": role}
        if username is not None:
            body["username"] = username
        resp = await self.client.post("/admin/apikeys", json=body, headers=self.admin)
        assert resp.status_code == 200, resp.text
        key: str = resp.json()["key"]
        return key

    async def add_server(self, name: str, *, wait: bool = True, **fields: Any) -> dict[str, Any]:
        resp = await self.client.post(
            "/mcp/servers", json=fixture_server(name, **fields), headers=self.admin
        )
        assert resp.status_code == 200, resp.text
        if wait:
            return await self.wait_status(name, "connected")
        server: dict[str, Any] = resp.json()["server"]
        return server

    async def wait_status(self, name: str, status: str, limit: float = 20.0) -> dict[str, Any]:
        with anyio.fail_after(limit):
            while True:
                resp = await self.client.get(f"/mcp/servers/{name}", headers=self.admin)
                server: dict[str, Any] = resp.json()["server"]
                if server["status"] == status and (status != "connected" or server["toolsList"]):
                    return server
                await anyio.sleep(0.05)

    async def set_secret(self, key: str, server: str, name: str, value: str, **extra: Any) -> None:
        body = {"serverName": server, "secretName": name, "secretValue": value, **extra}
        resp = await self.client.post("/secrets/set", json=body, headers=self.auth(key))
        assert resp.status_code == 200, resp.text

    async def call(
        self, key: str, server: str, tool: str, args: dict[str, Any] | None = None, **extra: Any
    ) -> httpx2.Response:
        body = {"serverName": server, "methodName": tool, "args": args or {}, **extra}
        return await self.client.post("/mcp/tool/call", json=body, headers=self.auth(key))


MakeGateway = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def make_gateway(make_settings: MakeSettings, tmp_path: Path) -> MakeGateway:
    @asynccontextmanager
    async def build(backend: str = "sqlite", **sections: dict[str, Any]) -> AsyncIterator[Gateway]:
        settings = make_settings(tmp_path, backend, **sections)
        announced: list[str] = []
        runtime = Runtime(settings, announce=announced.append, reconcile_packages=False)
        app = create_app(runtime)
        transport = httpx2.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as client:
                yield Gateway(runtime, client, announced, app)

    return build


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> AsyncIterator[Gateway]:
    async with make_gateway() as gw:
        yield gw


@pytest.fixture(params=["sqlite", "mongodb"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both stores: a test taking it runs once per backend (MongoDB is SecantusDB)."""
    name: str = request.param
    return name


@pytest.fixture
async def any_gateway(make_gateway: MakeGateway, backend: str) -> AsyncIterator[Gateway]:
    """:func:`gateway` on each store in turn."""
    async with make_gateway(backend, secrets=secrets_section(backend)) as gw:
        yield gw


def secrets_section(backend: str, **values: Any) -> dict[str, Any]:
    """A ``secrets`` settings section for ``backend`` (MongoDB mode needs a configured key)."""
    if backend == "mongodb":
        values["keys"] = "k1:" + base64.b64encode(os.urandom(32)).decode()
    return values
