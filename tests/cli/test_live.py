"""The CLI against a live ``mcp-gateway serve`` subprocess and the stdio fixture MCP servers.

One gateway and one full fixture server ("fx") per module (starting them is the slow part);
tests that change servers use their own names and the tiny stdlib fixture.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mcp_gateway.cli.main import app
from tests.cli.live import as_json, close_stderr, ok
from tests.gateway_process import ROOT, GatewayProcess, gateway_env

ADMIN_KEY = "mgw-cli-live-admin-key-0123456789abcdef"
FIXTURE = str(ROOT / "tests" / "fixtures" / "mcp_fixture_server.py")  # echo_args, stderr
TINY = str(ROOT / "tests" / "fixtures" / "tiny_stdio_server.py")  # starts in milliseconds
SECRET = "s3cr3t-value-for-alice"

Run = Callable[..., Result]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-gateway")


@pytest.fixture(scope="module")
def live(data_dir: Path) -> Iterator[GatewayProcess]:
    with GatewayProcess(gateway_env(data_dir, MCPGW_ADMIN_API_KEY=ADMIN_KEY)) as process:
        yield process
        process.terminate()  # SIGTERM: the gateway stops its MCP children before exiting
    close_stderr(process)


@pytest.fixture(scope="module")
def run(live: GatewayProcess) -> Run:
    """Invoke the CLI with MCPGW_URL/MCPGW_API_KEY pointing at the live gateway."""

    def invoke(*args: str, input: str | None = None, key: str | None = ADMIN_KEY) -> Result:
        env = {"MCPGW_URL": live.url, "MCPGW_API_KEY": key}
        return CliRunner(env=env).invoke(app, list(args), input=input)

    return invoke


def wait_status(run: Run, name: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll ``servers show --json`` until the server reports ``status``."""
    deadline = time.monotonic() + timeout
    while True:
        server: dict[str, Any] = as_json(run("servers", "show", name, "--json"))
        if server["status"] == status:
            return server
        assert time.monotonic() < deadline, f"{name} stuck in {server['status']}: {server}"
        time.sleep(0.05)


def add_server(run: Run, name: str, script: str = TINY, *extra: str) -> dict[str, Any]:
    ok(run("servers", "add", name, "--command", sys.executable, "--", script, *extra))
    return wait_status(run, name, "connected")


@pytest.fixture(scope="module")
def fx(run: Run) -> str:
    """The full fixture server, registered through the CLI and connected."""
    added = run("servers", "add", "fx", "--command", sys.executable, "--", FIXTURE)
    assert "added server fx" in ok(added).stdout
    wait_status(run, "fx", "connected")
    return "fx"


def test_added_server_is_listed_as_json_with_its_tools(run: Run, fx: str) -> None:
    servers = as_json(run("servers", "list", "--json"))
    fx = next(s for s in servers if s["name"] == "fx")
    assert fx["command"] == sys.executable and fx["args"] == [FIXTURE]
    assert {"echo", "echo_args"} <= {t["name"] for t in fx["toolsList"]}
    tools = as_json(run("tools", "list", "--server", "fx", "--json"))
    assert list(tools) == ["fx"] and "add" in {t["name"] for t in tools["fx"]}
    table = ok(run("servers", "list")).stdout
    assert "fx" in table and "connected" in table


def test_import_reports_added_skipped_and_invalid(run: Run, tmp_path: Path) -> None:
    add_server(run, "imp-existing")
    config = {
        "mcpServers": {
            "imp-existing": {"command": sys.executable, "args": [TINY]},
            "imp-new": {"command": sys.executable, "args": [TINY], "env": {"MODE": "x"}},
            "imp-remote": {"type": "http", "url": "http://127.0.0.1:9/mcp"},
            "bad/name": {"command": "x"},
            "imp-empty": {"env": {"A": "b"}},
        }
    }
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    result = run("servers", "import", str(path), "--json")
    assert result.exit_code == 1, result.output  # some entries were invalid
    report = json.loads(result.stdout)
    assert report["added"] == ["imp-new", "imp-remote"]
    assert report["skipped"] == [{"name": "imp-existing", "reason": "already exists"}]
    assert [i["name"] for i in report["invalid"]] == ["bad/name", "imp-empty"]
    assert "neither 'command' nor 'url'" in report["invalid"][1]["reason"]
    server = as_json(run("servers", "show", "imp-new", "--json"))
    assert server["env"] == {"MODE": "x"} and server["transportType"] == "stdio"
    remote = as_json(run("servers", "show", "imp-remote", "--json"))
    assert remote["transportType"] == "streamable_http"
    # Importing again skips what now exists, and the human report says so.
    again = run("servers", "import", str(path))
    assert again.exit_code == 1
    assert "0 added, 3 skipped, 2 invalid" in again.stdout
    ok(run("servers", "remove", "imp-remote", "--yes"))  # unreachable: in error, status degraded


def test_secret_from_stdin_is_injected_into_the_tool_call(run: Run, fx: str) -> None:
    stored = run("secrets", "set", "fx", "token", "--username", "alice", input=SECRET + "\n")
    assert SECRET not in ok(stored).output
    names = as_json(run("secrets", "list", "fx", "-u", "alice", "--json"))
    assert names == ["token"]
    result = as_json(
        run("tools", "call", "fx", "echo_args", "-u", "alice", "--arg", "text=hi", "--json")
    )
    received = json.loads(result["content"][0]["text"])
    assert received["token"] == SECRET  # the trailing newline of stdin was dropped
    assert received["text"] == "hi"
    other = run("tools", "call", "fx", "echo_args", "-u", "bob", "--arg", "text=hi")
    assert json.loads(ok(other).stdout)["token"] == ""
    ok(run("secrets", "delete", "fx", "token", "-u", "alice"))
    assert as_json(run("secrets", "list", "fx", "-u", "alice", "--json")) == []
    again = ok(run("secrets", "delete", "fx", "token", "-u", "alice"))  # idempotent
    assert "was not set" in again.stdout


def test_tool_arguments_from_k_v_and_json_args(run: Run, fx: str) -> None:
    summed = run("tools", "call", "fx", "add", "--json-args", '{"a": 2}', "--arg", "b=3.5")
    assert ok(summed).stdout.strip() == "5.5"
    echoed = run("tools", "call", "fx", "echo", "--arg", "text=007")
    assert ok(echoed).stdout.strip() == "007"  # not valid JSON -> kept as a string


def test_wrong_key_exits_1_with_the_gateways_message(run: Run) -> None:
    result = run("servers", "list", key="mgw-wrong-key-000000000000000000")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "invalid or revoked API key" in result.stderr and "unauthenticated" in result.stderr
    assert "Traceback" not in result.output and "mgw-wrong-key" not in result.output


def test_missing_key_exits_1_with_a_hint(run: Run) -> None:
    result = run("servers", "list", key=None)
    assert result.exit_code == 1
    assert "unauthenticated" in result.stderr and "MCPGW_API_KEY" in result.stderr


def test_gateway_error_codes_reach_stderr(run: Run) -> None:
    missing = run("servers", "show", "no-such-server")
    assert missing.exit_code == 1 and "server_not_found" in missing.stderr
    ok(run("servers", "add", "dup", "--command", sys.executable, "--", TINY))
    again = run("servers", "add", "dup", "--command", sys.executable, "--", TINY)
    assert again.exit_code == 1 and "server_already_exists" in again.stderr


def test_logs_show_why_a_server_failed(run: Run) -> None:
    ok(run("servers", "add", "broken", "-c", sys.executable, "--", TINY, "--fail-start", "boom-42"))
    deadline = time.monotonic() + 30
    while not any(
        "boom-42" in line for line in as_json(run("servers", "logs", "broken", "--json"))
    ):
        assert time.monotonic() < deadline, "the failing server's stderr never reached its logs"
        time.sleep(0.05)
    assert "boom-42" in ok(run("servers", "logs", "broken", "--tail", "5")).stdout
    ok(run("servers", "remove", "broken", "--yes"))  # a server in error makes status degraded


def test_disable_enable_update_and_remove(run: Run) -> None:
    add_server(run, "fx-life")
    ok(run("servers", "disable", "fx-life"))
    assert wait_status(run, "fx-life", "disconnected")["enabled"] is False  # mcp-api's status
    refused = run("tools", "call", "fx-life", "echo", "--arg", "text=x")
    assert refused.exit_code == 1 and "server_disabled" in refused.stderr
    ok(run("servers", "enable", "fx-life"))
    wait_status(run, "fx-life", "connected")
    updated = as_json(run("servers", "update", "fx-life", "--env", "MODE=two", "--json"))
    assert updated["env"] == {"MODE": "two"}
    ok(run("servers", "remove", "fx-life", "--yes"))
    assert run("servers", "show", "fx-life").exit_code == 1


def test_servers_add_and_update_take_a_rate_limit_and_a_call_over_it_exits_1(run: Run) -> None:
    limit = '{"rateLimit": {"perUser": {"requests": 1, "perMs": 60000}}}'
    ok(run("servers", "add", "fx-rl", "-c", sys.executable, "--extra", limit, "--", TINY))
    shown = wait_status(run, "fx-rl", "connected")
    assert shown["rateLimit"] == {"perUser": {"requests": 1, "perMs": 60000}}
    ok(run("tools", "call", "fx-rl", "echo", "--arg", "text=x"))
    refused = run("tools", "call", "fx-rl", "echo", "--arg", "text=x")
    assert refused.exit_code == 1
    assert "rate_limited" in refused.stderr and "perUser" in refused.stderr
    updated = as_json(run("servers", "update", "fx-rl", "--extra", '{"rateLimit": {}}', "--json"))
    assert updated["rateLimit"] == {}
    ok(run("tools", "call", "fx-rl", "echo", "--arg", "text=x"))
    ok(run("servers", "remove", "fx-rl", "--yes"))


def test_status_shows_health_restarts_and_tool_counts(run: Run, fx: str) -> None:
    report = as_json(run("status", "--json"))
    assert report["health"]["status"] == "ok"
    row = next(r for r in report["servers"] if r["name"] == "fx")
    assert row["status"] == "connected" and row["restarts"] == 0 and row["tools"] >= 5
    table = ok(run("status")).stdout
    assert "fx" in table and "RESTARTS" in table and "TOOLS" in table
    # Without a key: the aggregate only (no server names since issue 15), still exit 0.
    keyless = ok(run("status", key=None)).stdout
    assert "fx" not in keyless and "TOOLS" not in keyless and "unhealthy" in keyless


def test_apikeys_create_list_revoke_over_http(run: Run) -> None:
    created = as_json(
        run("apikeys", "create", "alice-cli", "--role", "user", "-u", "alice", "--json")
    )
    key, key_id = created["key"], created["id"]
    listed = as_json(run("apikeys", "list", "--json"))
    row = next(k for k in listed if k["id"] == key_id)
    assert row["role"] == "user" and row["username"] == "alice"
    assert key not in json.dumps(listed)
    assert ok(run("servers", "list", key=key)).exit_code == 0  # a user key may read servers
    ok(run("apikeys", "revoke", key_id))
    after = run("servers", "list", key=key)
    assert after.exit_code == 1 and "unauthenticated" in after.stderr
    assert "nothing to revoke" in ok(run("apikeys", "revoke", key_id)).stdout  # idempotent


def test_apikeys_create_local_writes_a_key_the_gateway_accepts(run: Run, data_dir: Path) -> None:
    env = {"MCPGW_DATA_DIR": str(data_dir), "MCPGW_PACKAGES_DIR": str(data_dir / "packages")}
    result = CliRunner(env=env).invoke(
        app, ["apikeys", "create", "ops-local", "--role", "admin", "--local", "--json"]
    )
    key = json.loads(ok(result).stdout)["key"]
    assert ok(run("servers", "list", "--json", key=key)).exit_code == 0
