"""``mcp-gateway serve`` started in a directory holding mcp-api's ``.env`` (real subprocess,
MongoDB-wire server): mcp-api's variables configure it and none of their values reach its logs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests.gateway_process import GatewayProcess, gateway_env
from tests.migration import mcp_api_db

pytestmark = pytest.mark.slow

MCP_API_NAMES = (
    "PORT",
    "PAYLOAD_LIMIT",
    "MONGO_USER",
    "MONGO_PASS",
    "MONGO_HOST",
    "MONGO_DBNAME",
    "MONGO_REPLICASET",
    "SECRETS_KEY",
    "SECRETS_DBNAME",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = gateway_env(tmp_path / "data", MCPGW_AUTH_MODE="none", MCPGW_LOG_LEVEL="debug")
    for name in (*MCP_API_NAMES, "MCPGW_PORT"):
        env.pop(name, None)
    env.update(extra)
    return env


def _mcp_api_env(directory: Path, mongodb_uri: str, database: str, **values: str) -> None:
    """mcp-api's example.env (MissionSquad/mcp-api), pointed at the test's MongoDB."""
    host = mongodb_uri.split("://", 1)[1].rstrip("/")
    lines = {
        "PORT": "8080",
        "MONGO_USER": "user",
        "MONGO_PASS": "password",
        "MONGO_HOST": host,
        "MONGO_DBNAME": database,
        "SECRETS_KEY": "secrets-key-here",
        "SECRETS_DBNAME": "secrets",
        "INSTALL_ON_START": "@missionsquad/mcp-github|github",
    } | values
    (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in lines.items()))


def _post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _dump(uri: str, database: str) -> dict[str, Any]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        db = client[database]
        return {
            name: ([*db[name].find({}).sort("_id", 1)], sorted(db[name].index_information()))
            for name in db.list_collection_names()
        }


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def test_serve_in_a_directory_with_mcp_apis_env_uses_its_variables_and_logs_no_value(
    tmp_path: Path, mongodb_uri: str, mongodb_db: str
) -> None:
    user = f"app-{uuid.uuid4().hex[:8]}"
    password = f"canary-mongo-pass-{uuid.uuid4().hex}"
    key = f"canary-secrets-key-{uuid.uuid4().hex}"
    client: MongoClient[dict[str, Any]]
    with MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000) as client:
        client["admin"].command("createUser", user, pwd=password, roles=["root"])
    port = _free_port()
    values = {"PORT": str(port), "PAYLOAD_LIMIT": "2kb", "SECRETS_KEY": key}
    _mcp_api_env(tmp_path, mongodb_uri, mongodb_db, MONGO_USER=user, MONGO_PASS=password, **values)
    mcp_api_db.build(mongodb_uri, mongodb_db)  # MONGO_DBNAME is mcp-api's own database
    mcp_api_before = _dump(mongodb_uri, mongodb_db)
    with GatewayProcess(_env(tmp_path), cwd=tmp_path) as gateway:
        assert gateway.url == f"http://127.0.0.1:{port}"  # PORT
        health = _get(gateway.url + "/healthz")
        assert health["store"] == {"backend": "mongodb", "status": "ok"}  # MONGO_*
        big = json.dumps({"name": "x", "command": "y", "pad": "z" * 3000}).encode()
        assert _post(gateway.url + "/mcp/servers", big) == 413  # PAYLOAD_LIMIT=2kb
        server = {"name": "fx", "transportType": "stdio", "command": "true", "enabled": False}
        assert _post(gateway.url + "/mcp/servers", json.dumps(server).encode()) in (200, 201)
        logs = gateway.stderr
    after = _dump(mongodb_uri, mongodb_db)
    assert {k: v for k, v in after.items() if not k.startswith("mcpgw_")} == mcp_api_before
    (stored,) = after["mcpgw_servers"][0]
    assert stored["name"] == "fx"
    assert (tmp_path / "data").is_dir()
    for canary in (password, key):
        assert canary not in logs
    assert "secrets-key-here" not in logs


def test_ours_win_over_mcp_api_names_in_env_and_the_environment_wins_over_env(
    tmp_path: Path,
) -> None:
    ours, theirs, environ = _free_port(), _free_port(), _free_port()
    (tmp_path / ".env").write_text(f"PORT={theirs}\nMCPGW_PORT={ours}\n")
    with GatewayProcess(_env(tmp_path), cwd=tmp_path) as gateway:
        assert gateway.url.endswith(f":{ours}")
    with GatewayProcess(_env(tmp_path, MCPGW_PORT=str(environ)), cwd=tmp_path) as gateway:
        assert gateway.url.endswith(f":{environ}")


def _serve_fails(cwd: Path, env: dict[str, str]) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "mcp_gateway", "serve"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    return run.stdout + run.stderr


def test_a_short_key_a_bad_password_and_a_replica_set_from_env_fail_cleanly_without_values(
    tmp_path: Path, mongodb_uri: str, mongodb_db: str
) -> None:
    env = _env(tmp_path, MCPGW_STORE_TIMEOUT="2")
    # mcp-api's example key as shipped: refused (too short to be a key), named, not quoted.
    _mcp_api_env(tmp_path, mongodb_uri, mongodb_db)
    out = _serve_fails(tmp_path, env)
    assert "SECRETS_KEY" in out and "secrets-key-here" not in out
    password = f"canary-wrong-pass-{uuid.uuid4().hex}"
    key = f"canary-secrets-key-{uuid.uuid4().hex}"
    _mcp_api_env(tmp_path, mongodb_uri, mongodb_db, MONGO_PASS=password, SECRETS_KEY=key)
    out = _serve_fails(tmp_path, env)
    assert "MongoDB" in out and password not in out and key not in out
    with (tmp_path / ".env").open("a") as env_file:
        env_file.write(f"MONGO_USER=\nMONGO_REPLICASET=rs-{uuid.uuid4().hex[:6]}\n")
    # The test server is no replica set: naming one makes the driver find no member.
    assert "replica set" in _serve_fails(tmp_path, env)
