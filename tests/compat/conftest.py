"""The mcp-api compatibility suite's gateway: a real ``mcp-gateway serve`` process reached
over a socket the way an mcp-api client reaches mcp-api after switching the URL.

``mcp_api`` (module scope, SQLite) and ``mcp_api_any`` (SQLite and MongoDB via SecantusDB)
run with ``MCPGW_AUTH_MODE=none`` on loopback: no API key, like mcp-api on a trusted network.
Every test names its own servers (``unique``), so one process serves a whole module.
"""

from __future__ import annotations

import base64
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.gateway_process import GatewayProcess, gateway_env

FIXTURE_SERVER = str(Path(__file__).resolve().parents[1] / "fixtures" / "mcp_fixture_server.py")

# mcp-api's status values (README: GET /mcp/servers).
STATUSES = {"connected", "connecting", "disconnected", "error"}
# Keys of mcp-api's server object (README + mcp-api-compat.md) that every view carries.
SERVER_KEYS = {
    "name", "transportType", "command", "args", "env", "status", "enabled", "toolsList",
    "logs", "secretNames", "startupTimeout", "reconnectionOptions", "url", "headers",
    "displayName", "description", "source", "authMode", "oauthTemplate", "secretFields",
    "homepageUrl", "repositoryUrl", "licenseName", "catalogProvider", "catalogId",
    "createdBy", "createdAt", "updatedAt",
}  # fmt: skip
RECONNECTION_KEYS = {
    "maxReconnectionDelay", "initialReconnectionDelay", "reconnectionDelayGrowFactor",
    "maxRetries",
}  # fmt: skip


class McpApiClient:
    """An mcp-api client pointed at the gateway: plain JSON requests, no API key."""

    def __init__(self, process: GatewayProcess) -> None:
        self.process = process
        self.http = httpx2.Client(base_url=process.url, timeout=60)

    def request(self, method: str, path: str, body: Any = None, **params: str) -> httpx2.Response:
        return self.http.request(method, path, json=body, params=params or None)

    def get(self, path: str, **params: str) -> httpx2.Response:
        return self.request("GET", path, **params)

    def post(self, path: str, body: Any = None) -> httpx2.Response:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any = None) -> httpx2.Response:
        return self.request("PUT", path, body)

    def delete(self, path: str) -> httpx2.Response:
        return self.request("DELETE", path)

    def add_fixture_server(self, name: str, **fields: Any) -> dict[str, Any]:
        """``POST /mcp/servers`` with the stdio fixture server; waits until it is connected
        (unless ``enabled`` is false)."""
        body = {"name": name, "command": sys.executable, "args": [FIXTURE_SERVER], **fields}
        resp = self.post("/mcp/servers", body)
        assert resp.status_code == 200, resp.text
        if fields.get("enabled") is False:
            server: dict[str, Any] = resp.json()["server"]
            return server
        return self.wait_status(name, "connected")

    def wait_status(self, name: str, status: str, limit: float = 60.0) -> dict[str, Any]:
        """Poll ``GET /mcp/servers/{name}`` until ``status`` (and its tools, when connected)."""
        deadline = time.monotonic() + limit
        while True:
            resp = self.get(f"/mcp/servers/{name}")
            assert resp.status_code == 200, resp.text
            server: dict[str, Any] = resp.json()["server"]
            if server["status"] == status and (status != "connected" or server["toolsList"]):
                return server
            assert time.monotonic() < deadline, f"{name} stuck in {server['status']}"
            time.sleep(0.05)

    def call(self, server: str, tool: str, args: dict[str, Any], **extra: Any) -> httpx2.Response:
        body = {"serverName": server, "methodName": tool, "args": args, **extra}
        return self.post("/mcp/tool/call", body)

    def close(self) -> None:
        self.http.close()


def unique(prefix: str) -> str:
    """A server name of its own for one test (the gateway process is shared by a module)."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def assert_error(resp: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    """mcp-api's error shape ``{success: false, error: <text>}`` plus the gateway's ``code``."""
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["success"] is False and isinstance(body["error"], str) and body["error"]
    assert body["code"] == code, body
    assert "Traceback" not in resp.text
    return body


def assert_server_shape(server: dict[str, Any]) -> None:
    """mcp-api's server object: its keys, its status values, integer milliseconds."""
    missing = SERVER_KEYS - server.keys()
    assert not missing, f"missing mcp-api keys {sorted(missing)}"
    assert server["status"] in STATUSES, server["status"]
    assert server["enabled"] is not False or server["status"] == "disconnected"
    assert isinstance(server["startupTimeout"], int)
    assert isinstance(server["secretNames"], list) and isinstance(server["toolsList"], list)
    assert isinstance(server["logs"], list) and isinstance(server["env"], dict)
    assert RECONNECTION_KEYS <= server["reconnectionOptions"].keys()
    assert isinstance(server["createdAt"], str) and isinstance(server["updatedAt"], str)


def start_gateway(
    data_dir: Path, backend: str, mongodb_uri: str | None = None, **env: str
) -> GatewayProcess:
    """A gateway process as an mcp-api user runs it: auth off on loopback."""
    extra = {"MCPGW_AUTH_MODE": "none", **env}
    if backend == "mongodb":
        assert mongodb_uri is not None
        extra |= {
            "MCPGW_MONGODB_URI": mongodb_uri,
            "MCPGW_MONGODB_DB": f"mcpgw_compat_{uuid.uuid4().hex[:10]}",
            "MCPGW_SECRETS_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        }
    return GatewayProcess(gateway_env(data_dir, **extra), startup_timeout=60).start()


@pytest.fixture(scope="module")
def mcp_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpApiClient]:
    process = start_gateway(tmp_path_factory.mktemp("compat"), "sqlite")
    client = McpApiClient(process)
    try:
        yield client
    finally:
        client.close()
        process.terminate()


@pytest.fixture(scope="module", params=["sqlite", "mongodb"])
def mcp_api_any(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[McpApiClient]:
    """:func:`mcp_api` on each store in turn."""
    backend: str = request.param
    uri = request.getfixturevalue("mongodb_uri") if backend == "mongodb" else None
    process = start_gateway(tmp_path_factory.mktemp(f"compat-{backend}"), backend, uri)
    client = McpApiClient(process)
    try:
        yield client
    finally:
        client.close()
        process.terminate()
