"""``mcp-gateway clients config``: entries that point each client at the MCP endpoint and
never carry the key."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mcp_gateway.cli.main import app

CANARY = "mcpgw_clients-config-canary-key-000"


def _run(*args: str) -> str:
    result = CliRunner(env={"MCPGW_API_KEY": CANARY}).invoke(app, ["clients", "config", *args])
    assert result.exit_code == 0, result.output
    assert CANARY not in result.output
    return result.output


def test_each_client_entry_points_at_the_endpoint_and_names_the_key_by_placeholder() -> None:
    url = "https://gw.example"
    claude = json.loads(_run("claude", "--url", url))["mcpServers"]["mcp-gateway"]
    assert claude["command"] == "mcp-gateway" and claude["args"] == ["connect"]
    assert claude["env"]["MCPGW_URL"] == url
    cursor = json.loads(_run("cursor", "--url", url, "--server", "fx"))["mcpServers"]
    assert cursor["mcp-gateway-fx"]["url"] == f"{url}/mcp/fx"
    assert cursor["mcp-gateway-fx"]["headers"]["Authorization"].endswith("${env:MCPGW_API_KEY}")
    vscode = json.loads(_run("vscode", "--url", url))
    assert vscode["servers"]["mcp-gateway"] == {
        "type": "http",
        "url": f"{url}/mcp",
        "headers": {"Authorization": "Bearer ${input:mcpgw-api-key}"},
    }
    assert vscode["inputs"][0]["password"] is True
    code = _run("claude-code", "--url", url, "--server", "My Server")
    assert code.startswith("claude mcp add --transport http 'mcp-gateway-My Server' ")
    assert f"{url}/mcp/My%20Server" in code and "$MCPGW_API_KEY" in code


def test_unknown_client_is_a_usage_error_naming_the_choices() -> None:
    result = CliRunner().invoke(app, ["clients", "config", "emacs"])
    assert result.exit_code == 2
    assert "claude, claude-code, cursor, vscode" in result.output


def test_a_toolset_entry_points_at_the_toolset_endpoint_and_connect_takes_it() -> None:
    url = "https://gw.example"
    claude = json.loads(_run("claude", "--url", url, "--toolset", "triage"))["mcpServers"]
    assert claude["mcp-gateway-triage"]["args"] == ["connect", "--toolset", "triage"]
    cursor = json.loads(_run("cursor", "--url", url, "--toolset", "triage"))["mcpServers"]
    assert cursor["mcp-gateway-triage"]["url"] == f"{url}/mcp/toolsets/triage"
    both = CliRunner().invoke(
        app, ["clients", "config", "cursor", "--server", "x", "--toolset", "y"]
    )
    assert both.exit_code == 2 and "not both" in both.output


def test_connect_refuses_a_server_and_a_toolset_together() -> None:
    both = CliRunner().invoke(app, ["connect", "--server", "x", "--toolset", "y"])
    assert both.exit_code == 2 and "not both" in both.output
