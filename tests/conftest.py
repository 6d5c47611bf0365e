"""Root fixtures. Backends are real: SQLite files in tmp dirs, a MongoDB-wire server.

Fixtures (all usable from any test module):

``anyio_backend`` -> ``"asyncio"``
    The anyio plugin's backend; async tests use ``@pytest.mark.anyio``.

``mongodb_uri`` (session) -> ``str``
    URI of a MongoDB-wire server: ``MCPGW_TEST_MONGODB_URI`` if set, else an in-process
    ``secantus.SecantusDBServer`` on 127.0.0.1 with a temp storage path, started on first use
    (~0.3 s) and stopped at the end of the session. SecantusDB is a test-only, slow stand-in;
    its timings say nothing about MongoDB's.

``mongodb_db`` -> ``str``
    A fresh database name for this test (``mcpgw_test_<hex>``), dropped after the test.

``make_settings`` -> ``(tmp_path: Path, backend: str = "sqlite", **sections) -> Settings``
    Settings isolated from the host environment: ``data_dir=<tmp_path>/data``,
    ``packages_dir=<tmp_path>/packages``; for ``backend="mongodb"`` also ``mongodb_uri`` and
    this test's ``mongodb_db`` (the MongoDB server is only started when asked for). ``sections``
    are dicts merged into a section, e.g. ``store={"timeout": 0.5}``,
    ``http={"auth_mode": "none"}``. Calling it twice in one test with the same backend and
    tmp_path gives settings for the same store (so a test can "restart").

``store`` (parametrised ``sqlite`` / ``mongodb``) -> an opened ``Store`` on a fresh database,
    closed after the test. ``sqlite_store`` / ``mongo_store``: the same for one backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from mcp_gateway.config import Settings, load_settings
from mcp_gateway.storage.factory import open_store
from mcp_gateway.storage.ports import Store

MakeSettings = Callable[..., Settings]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("MCPGW_TEST_MONGODB_URI")
    if external:
        yield external
        return
    from secantus import SecantusDBServer  # test-only (GPL): never imported by the package

    server = SecantusDBServer(
        host="127.0.0.1", port=0, storage_path=str(tmp_path_factory.mktemp("secantus"))
    )
    server.start()
    try:
        yield str(server.uri)
    finally:
        server.stop()


@pytest.fixture
def mongodb_db(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"mcpgw_test_{uuid.uuid4().hex[:12]}"
    yield name
    if "mongodb_uri" in request.fixturenames:  # only if this test really touched MongoDB
        uri = request.getfixturevalue("mongodb_uri")
        client: MongoClient[dict[str, Any]]
        with MongoClient(uri, serverSelectionTimeoutMS=2000) as client:
            client.drop_database(name)


@pytest.fixture
def make_settings(request: pytest.FixtureRequest, mongodb_db: str) -> MakeSettings:
    def build(tmp_path: Path, backend: str = "sqlite", **sections: dict[str, Any]) -> Settings:
        store: dict[str, Any] = {"data_dir": tmp_path / "data"}
        if backend == "mongodb":
            store |= {
                "mongodb_uri": request.getfixturevalue("mongodb_uri"),
                "mongodb_db": mongodb_db,
            }
        elif backend != "sqlite":
            raise ValueError(f"unknown backend {backend!r}")
        merged: dict[str, dict[str, Any]] = {
            "store": store,
            "installer": {"packages_dir": tmp_path / "packages"},
        }
        for section, values in sections.items():
            merged[section] = {**merged.get(section, {}), **values}
        return load_settings(environ={}, **merged)

    return build


@pytest.fixture(params=["sqlite", "mongodb"])
async def store(
    request: pytest.FixtureRequest, make_settings: MakeSettings, tmp_path: Path
) -> AsyncIterator[Store]:
    async with open_store(make_settings(tmp_path, request.param)) as opened:
        yield opened


@pytest.fixture
async def sqlite_store(make_settings: MakeSettings, tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(make_settings(tmp_path, "sqlite")) as opened:
        yield opened


@pytest.fixture
async def mongo_store(make_settings: MakeSettings, tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(make_settings(tmp_path, "mongodb")) as opened:
        yield opened
