"""Fixtures and helpers shared by the package-service tests (import fixtures by name): the real
UpstreamPool, ServerService and PackageService over SQLite, installing from the local registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp_types import TextContent

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.records import PackageRuntime
from mcp_gateway.installer import Installer, NpmInstaller, PythonInstaller
from mcp_gateway.services.packages import PackageService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.installer.local_registry import LocalRegistry


@pytest.fixture
async def pool(sqlite_store: Store) -> AsyncIterator[UpstreamPool]:
    async with UpstreamPool(sessions=sqlite_store, settings=UpstreamSettings()) as live:
        yield live


def installers(tmp_path: Path, registry: LocalRegistry) -> dict[PackageRuntime, Installer]:
    return {
        PackageRuntime.NODE: NpmInstaller(
            tmp_path / "packages" / "node", timeout=120, registry=registry.npm_url
        ),
        PackageRuntime.PYTHON: PythonInstaller(
            tmp_path / "packages" / "python", timeout=120, index_url=registry.index_url
        ),
    }


@pytest.fixture
def servers(sqlite_store: Store, pool: UpstreamPool) -> ServerService:
    return ServerService(sqlite_store, pool)


@pytest.fixture
def service(
    sqlite_store: Store, servers: ServerService, registry: LocalRegistry, tmp_path: Path
) -> PackageService:
    return PackageService(sqlite_store, servers, installers(tmp_path, registry), verify_timeout=30)


async def answer(pool: UpstreamPool, store: Store, name: str) -> str:
    """The text of the fixture's ``version`` tool on server ``name``."""
    server = await store.get_server(name)
    assert server is not None
    with anyio.fail_after(30):
        result = await pool.call_tool(server, "version", {}, username="default")
    content = result.content[0]
    assert isinstance(content, TextContent)
    return content.text


def attempt_dirs(tmp_path: Path, name: str, runtime: str = "node") -> list[Path]:
    slot = tmp_path / "packages" / runtime / name
    return sorted(slot.iterdir()) if slot.exists() else []
