"""Parsing of Claude Desktop / Cursor / VS Code server files (no gateway needed)."""

from __future__ import annotations

import json

import pytest

from mcp_gateway.cli.client_config import ImportFileError, load_config, plan_import

CLAUDE = {
    "mcpServers": {
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
            "env": {"DEBUG": "1", "PORT": 8080},
        },
        "remote": {"url": "https://mcp.example.com/mcp", "headers": {"X-Team": "a"}},
        "bad/name": {"command": "x"},
        "empty": {"env": {"A": "b"}},
    }
}


def test_claude_file_yields_stdio_and_http_bodies_and_reasons_in_file_order() -> None:
    entries = plan_import(load_config(json.dumps(CLAUDE)))
    assert [e.name for e in entries] == ["filesystem", "remote", "bad/name", "empty"]
    fs, remote, bad, empty = entries
    assert fs.body == {
        "name": "filesystem",
        "transportType": "stdio",
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
        "env": {"DEBUG": "1", "PORT": "8080"},
    }
    assert remote.body == {
        "name": "remote",
        "transportType": "streamable_http",
        "url": "https://mcp.example.com/mcp",
        "headers": {"X-Team": "a"},
    }
    assert not bad.valid and "invalid server name" in (bad.reason or "")
    assert not empty.valid and "neither 'command' nor 'url'" in (empty.reason or "")


def test_vscode_servers_key_and_type_field_map_to_transports() -> None:
    text = json.dumps(
        {
            "servers": {
                "a": {"type": "http", "url": "http://127.0.0.1:1/mcp"},
                "b": {"type": "sse", "url": "http://127.0.0.1:1/sse"},
                "c": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"]},
            }
        }
    )
    bodies = {e.name: e.body for e in plan_import(load_config(text))}
    assert bodies["a"] is not None and bodies["a"]["transportType"] == "streamable_http"
    assert bodies["b"] is not None and bodies["b"]["transportType"] == "sse"
    assert bodies["c"] is not None and bodies["c"]["transportType"] == "stdio"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"command": "x", "url": "http://h/"}, "both"),
        ({"type": "websocket", "url": "ws://h/"}, "unknown type"),
        ({"type": "sse", "command": "x"}, "needs a 'url'"),
        ({"url": "ftp://h/"}, "http:// or https://"),
        ({"command": "x", "args": "not-a-list"}, "'args' must be a list"),
        ({"command": "x", "env": {"A": {"nested": 1}}}, "'env.A' must be a string"),
        ("just a string", "must be an object"),
    ],
)
def test_invalid_entries_carry_a_reason_naming_the_problem(spec: object, reason: str) -> None:
    (entry,) = plan_import({"srv": spec})
    assert entry.body is None
    assert reason in (entry.reason or "")


def test_disabled_entries_are_imported_disabled() -> None:
    (entry,) = plan_import({"s": {"command": "x", "disabled": True}})
    assert entry.body is not None and entry.body["enabled"] is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"other": {}}', "no 'mcpServers'"),
        ('{"mcpServers": []}', "must be an object"),
    ],
)
def test_unusable_files_raise_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        load_config(text)
