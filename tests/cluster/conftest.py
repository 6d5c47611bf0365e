"""Two real ``mcp-gateway serve`` processes (replicas A and B) on one store: the same SQLite
file (one data dir), or one MongoDB database on the SecantusDB test server (a data dir each).

``replicas`` (parametrised ``sqlite`` / ``mongodb``) -> ``Replicas``: started, both answering,
stopped (SIGKILL if still running) after the test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, **extra: str
) -> tuple[dict[str, str], dict[str, str]]:
    common = {"MCPGW_ADMIN_API_KEY": ADMIN, "MCPGW_SECRETS_KEYS": KEYS, **extra}
    if backend == "mongodb":
        common |= {
            "MCPGW_MONGODB_URI": request.getfixturevalue("mongodb_uri"),
            "MCPGW_MONGODB_DB": request.getfixturevalue("mongodb_db"),
        }
        dirs = (tmp_path / "a", tmp_path / "b")
    else:
        dirs = (tmp_path / "shared", tmp_path / "shared")
    return (
        gateway_env(dirs[0], MCPGW_REPLICA_ID="replica-a", **common),
        gateway_env(dirs[1], MCPGW_REPLICA_ID="replica-b", **common),
    )


@pytest.fixture(params=["sqlite", "mongodb"])
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Replicas]:
    envs = replica_envs(request, tmp_path, request.param)
    with (
        GatewayProcess(envs[0], startup_timeout=60) as a,
        GatewayProcess(envs[1], startup_timeout=60) as b,
    ):
        yield Replicas(a, b, request.param, envs)
