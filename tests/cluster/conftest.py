"""Two real ``mcp-gateway serve`` processes (replicas A and B) on one store: the same SQLite
file (one data dir), or one MongoDB database on the SecantusDB test server (a data dir each).

``replicas`` (module scope, parametrised ``sqlite`` / ``mongodb``) -> ``Replicas``: started,
both answering, stopped (SIGKILL if still running) after the module's tests.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests.gateway_process import GatewayProcess, gateway_env

ADMIN = "mcpgw_cluster-admin-key-0123456789abcdefghijk"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
KEYS = "k1:a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="
TINY = str(Path(__file__).resolve().parents[1] / "fixtures" / "tiny_stdio_server.py")


def tiny_server(name: str, **fields: Any) -> dict[str, Any]:
    """A POST /mcp/servers body running the stdlib-only stdio fixture (starts in ms)."""
    return {"name": name, "command": sys.executable, "args": [TINY], **fields}


@dataclass
class Replicas:
    a: GatewayProcess
    b: GatewayProcess
    backend: str
    envs: tuple[dict[str, str], dict[str, str]]


def replica_envs(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    backend: str,
    database: str | None = None,
    **extra: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """The environments of replicas A and B (``database``: default, this test's own)."""
    common = {"MCPGW_ADMIN_API_KEY": ADMIN, "MCPGW_SECRETS_KEYS": KEYS, **extra}
    if backend == "mongodb":
        common |= {
            "MCPGW_MONGODB_URI": request.getfixturevalue("mongodb_uri"),
            "MCPGW_MONGODB_DB": database or request.getfixturevalue("mongodb_db"),
        }
        dirs = (tmp_path / "a", tmp_path / "b")
    else:
        dirs = (tmp_path / "shared", tmp_path / "shared")
    return (
        gateway_env(dirs[0], MCPGW_REPLICA_ID="replica-a", **common),
        gateway_env(dirs[1], MCPGW_REPLICA_ID="replica-b", **common),
    )


@pytest.fixture(scope="module", params=["sqlite", "mongodb"])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    """Shared by the tests of a module (two process starts per store, not per test): each
    test uses server and key names of its own."""
    database = f"mcpgw_test_{uuid.uuid4().hex[:12]}"
    envs = replica_envs(
        request, tmp_path_factory.mktemp("replicas"), request.param, database=database
    )
    try:
        with (
            GatewayProcess(envs[0], startup_timeout=60) as a,
            GatewayProcess(envs[1], startup_timeout=60) as b,
        ):
            yield Replicas(a, b, request.param, envs)
    finally:
        if request.param == "mongodb":
            client: MongoClient[dict[str, Any]]
            uri = request.getfixturevalue("mongodb_uri")
            with MongoClient(uri, serverSelectionTimeoutMS=2000) as client:
                client.drop_database(database)
