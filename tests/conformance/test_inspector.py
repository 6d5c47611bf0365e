"""The MCP Inspector CLI (``@modelcontextprotocol/inspector --cli``, Node 22) lists and calls a
namespaced tool through ``/mcp`` of a real ``serve`` process, with a user's API key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.api.conftest import fixture_server
from tests.conformance.tools import NodeTools, add_server, node_tools
from tests.gateway_process import GatewayProcess, gateway_env

pytestmark = [pytest.mark.slow, pytest.mark.network]

ADMIN = "mcpgw_inspector-admin-key-0123456789abcdef"


def _inspector(tools: NodeTools, tmp_path: Path, url: str, key: str, *args: str) -> Any:
    """The Inspector CLI's JSON answer. The key travels in a 0600 config file's ``headers``
    (the same header ``--header`` sends), never in argv, where process listings show it."""
    config = tmp_path / "inspector.json"
    server = {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {key}"}}
    config.touch(mode=0o600)
    config.write_text(json.dumps({"mcpServers": {"gateway": server}}))
    cmd = [tools.bin("mcp-inspector"), "--cli", "--config", str(config), "--server", "gateway"]
    done = subprocess.run(
        [*cmd, *args], env=tools.env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert key not in done.stdout + done.stderr
    return json.loads(done.stdout)


def test_inspector_cli_lists_and_calls_a_namespaced_tool_through_mcp_with_a_user_key(
    tmp_path: Path,
) -> None:
    tools = node_tools()
    env = gateway_env(tmp_path / "data", MCPGW_ADMIN_API_KEY=ADMIN)
    with GatewayProcess(env) as gateway:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        add_server(gateway.url, fixture_server("fx"), admin)
        with httpx2.Client(base_url=gateway.url, headers=admin, timeout=30) as client:
            body = {"name": "inspector", "role": "user", "username": "alice"}
            resp = client.post("/admin/apikeys", json=body)
            assert resp.status_code == 200, resp.text
            key = resp.json()["key"]
        url = f"{gateway.url}/mcp"

        listed = _inspector(tools, tmp_path, url, key, "--method", "tools/list")
        names = {tool["name"] for tool in listed["tools"]}
        assert {"fx__echo", "fx__add"} <= names

        args = ["--method", "tools/call", "--tool-name", "fx__echo", "--tool-arg", "text=hi"]
        called = _inspector(tools, tmp_path, url, key, *args)
        assert called["isError"] is False
        assert called["content"] == [{"type": "text", "text": "hi"}]

        # no key: the gateway refuses (401), the inspector reports it and exits non-zero
        cmd = [tools.bin("mcp-inspector"), "--cli", url, "--transport", "http"]
        done = subprocess.run(
            [*cmd, "--method", "tools/list"],
            env={**tools.env, "MCP_CATALOG_PATH": str(tmp_path / "catalog.json")},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode != 0
        assert "fx__echo" not in done.stdout
