"""``mcp-gateway toolsets list|show|set|delete`` against a live ``mcp-gateway serve``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mcp_gateway.cli.main import app
from tests.cli.live import as_json, close_stderr, ok
from tests.gateway_process import GatewayProcess, gateway_env

ADMIN_KEY = "mgw-cli-toolsets-admin-key-0123456789abcdef"

Run = Callable[..., Result]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir: Path = tmp_path_factory.mktemp("cli-toolsets")
    with GatewayProcess(gateway_env(data_dir, MCPGW_ADMIN_API_KEY=ADMIN_KEY)) as live:

        def invoke(*args: str, key: str = ADMIN_KEY) -> Result:
            env = {"MCPGW_URL": live.url, "MCPGW_API_KEY": key}
            return CliRunner(env=env).invoke(app, list(args))

        yield invoke
        live.terminate()
    close_stderr(live)


def test_set_show_list_replace_and_delete_round_trip(run: Run) -> None:
    created = ok(
        run(
            "toolsets", "set", "triage", "-t", "github/create_issue", "-t", "My Server.v2/a/b",
            "-s", "docs", "-d", "issue work",
        )
    )  # fmt: skip
    assert "created toolset triage (3 entries), served at /mcp/toolsets/triage" in created.stdout
    shown = as_json(run("toolsets", "show", "triage", "--json"))
    assert shown["description"] == "issue work"
    assert [(e["server"], e["tool"]) for e in shown["tools"]] == [
        ("github", "create_issue"),
        ("My Server.v2", "a/b"),  # split at the first '/': tool names may hold one
        ("docs", "*"),
    ]
    assert shown["tools"][0]["mcpName"] == "github__create_issue"
    text = ok(run("toolsets", "show", "triage")).stdout
    assert "github/create_issue" in text and "docs/*" in text and "all tools" in text

    replaced = ok(run("toolsets", "set", "triage", "-s", "docs"))
    assert "replaced toolset triage (1 entries)" in replaced.stdout
    ok(run("toolsets", "set", "alpha"))
    listed = as_json(run("toolsets", "list", "--json"))
    assert [(t["name"], len(t["tools"])) for t in listed] == [("alpha", 0), ("triage", 1)]
    assert "triage" in ok(run("toolsets", "list")).stdout

    assert "deleted toolset triage" in ok(run("toolsets", "delete", "triage")).stdout
    again = as_json(run("toolsets", "delete", "triage", "--json"))
    assert again == {"name": "triage", "deleted": False}
    missing = run("toolsets", "show", "triage")
    assert missing.exit_code == 1 and "toolset_not_found" in missing.stderr


def test_bad_input_exits_with_the_gateways_message_and_writes_nothing(run: Run) -> None:
    usage = run("toolsets", "set", "t", "-t", "no-slash")
    assert usage.exit_code == 2 and "expected SERVER/TOOL" in usage.stderr
    refused = run("toolsets", "set", "t", "-t", "fx/echo", "-t", "fx/echo")
    assert refused.exit_code == 1
    assert "duplicate entry for server 'fx', tool 'echo'" in refused.stderr
    bad_name = run("toolsets", "set", "a.b c", "-s", "fx")
    assert bad_name.exit_code == 1 and "invalid toolset name" in bad_name.stderr
    assert all(t["name"] != "t" for t in as_json(run("toolsets", "list", "--json")))


def test_a_non_admin_key_is_refused(run: Run) -> None:
    created = as_json(run("apikeys", "create", "svc", "--role", "service", "--json"))
    refused = run("toolsets", "list", key=created["key"])
    assert refused.exit_code == 1 and "forbidden" in refused.stderr
    assert json.dumps(created["key"]) not in refused.output
