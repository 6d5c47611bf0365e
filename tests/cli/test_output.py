"""What the CLI prints: upstream text cannot drive the terminal, tables never cut or wrap
data, ``status`` is not ``ok`` while a server is in error, and ``apikeys list`` shows LAST USED.

Against a live ``mcp-gateway serve`` subprocess (one per module) and the tiny stdio fixture.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mcp_gateway.cli import output
from mcp_gateway.cli.main import app
from tests.cli.live import as_json, close_stderr, ok
from tests.gateway_process import ROOT, GatewayProcess, gateway_env

ADMIN_KEY = "mgw-cli-output-admin-key-0123456789abcdef"
TINY = str(ROOT / "tests" / "fixtures" / "tiny_stdio_server.py")
HOSTILE = "\x1b]0;pwned\x07Echo \x1b[2Jthe\u202e text\x9b31m back\x07"

Run = Callable[..., Result]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir = tmp_path_factory.mktemp("cli-output")
    with GatewayProcess(gateway_env(data_dir, MCPGW_ADMIN_API_KEY=ADMIN_KEY)) as process:

        def invoke(*args: str, key: str | None = ADMIN_KEY) -> Result:
            env = {"MCPGW_URL": process.url, "MCPGW_API_KEY": key, "COLUMNS": "80"}
            return CliRunner(env=env).invoke(app, list(args))

        yield invoke
        process.terminate()
    close_stderr(process)


def _wait_status(run: Run, name: str, status: str) -> dict[str, Any]:
    give_up = time.monotonic() + 30
    while True:
        server: dict[str, Any] = as_json(run("servers", "show", name, "--json"))
        if server["status"] == status:
            return server
        assert time.monotonic() < give_up, f"{name} stuck in {server['status']}"
        time.sleep(0.05)


def test_control_sequences_from_an_upstream_never_reach_the_terminal(run: Run) -> None:
    ok(run("servers", "add", "hostile", "-c", sys.executable, "-e", f"TINY_DESCRIPTION={HOSTILE}",
           "--", TINY))  # fmt: skip
    _wait_status(run, "hostile", "connected")
    listed = ok(run("tools", "list", "--server", "hostile"))
    called = ok(run("tools", "call", "hostile", "echo", "--arg", f"text={HOSTILE}"))
    as_json_text = ok(run("tools", "list", "--server", "hostile", "--json")).stdout
    for printed in (listed.stdout, called.stdout, listed.stderr, as_json_text):
        assert "\x1b" not in printed and "\x9b" not in printed and "\u202e" not in printed
        assert "\x07" not in printed
    assert "Echo the\\u202e text back\\x07" in listed.stdout
    assert "Echo the\\u202e text back\\x07" in called.stdout
    # JSON keeps the data: it parses back to the exact upstream string.
    (echo,) = [t for t in json.loads(as_json_text)["hostile"] if t["name"] == "echo"]
    assert echo["description"] == HOSTILE
    ok(run("servers", "remove", "hostile", "--yes"))


def test_a_long_key_id_and_name_are_shown_whole_at_80_columns(run: Run) -> None:
    name = "a-key-with-a-name-long-enough-to-push-the-table-past-80-columns-x"[:64]
    created = as_json(run("apikeys", "create", name, "--role", "service", "--json"))
    table = ok(run("apikeys", "list")).stdout
    row = next(line for line in table.splitlines() if created["id"] in line)
    assert row.split("\t")[:3] == [created["id"], name, "service"]
    assert "…" not in table


def test_a_terminal_table_is_as_wide_as_its_data_needs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    long_id = "id-" + "0123456789" * 10
    output.print_table(["ID", "NAME"], [[long_id, "n" * 60]], title="Keys")
    printed = capsys.readouterr().out
    assert long_id in printed and "n" * 60 in printed and "…" not in printed


def test_status_is_degraded_and_exits_1_while_a_server_is_in_error(run: Run) -> None:
    assert ok(run("status", "--json")) and as_json(run("status", "--json"))["status"] == "ok"
    # No restarts: "error" is then final (with restarts it flips back to "connecting" while
    # the next attempt runs, and the status could read "ok" in between).
    no_restarts = json.dumps({"reconnectionOptions": {"maxRetries": 0}})
    ok(run("servers", "add", "broken", "-c", sys.executable, "--extra", no_restarts, "--", TINY,
           "--fail-start", "no"))  # fmt: skip
    assert _wait_status(run, "broken", "error")["nextRestartAt"] is None
    plain = run("status")
    assert plain.exit_code == 1
    assert "\tdegraded" in plain.stdout or "degraded" in plain.stdout
    report = run("status", "--json")
    assert report.exit_code == 1 and json.loads(report.stdout)["status"] == "degraded"
    ok(run("servers", "remove", "broken", "--yes"))
    assert as_json(run("status", "--json"))["status"] == "ok"


def test_status_shows_the_uptime_read_as_milliseconds(run: Run) -> None:
    # (Exit codes not checked: a server another test left in error makes the status 1.)
    row = next(line for line in run("status").stdout.splitlines() if "uptime" in line)
    health = json.loads(run("status", "--json").stdout)["health"]  # asked after the row
    hours, minutes, seconds = (int(part) for part in row.split()[-1].split(":"))
    # /healthz's uptime is milliseconds: a gateway started for this test is minutes old at most.
    assert (hours, minutes) < (0, 30) and health["uptime"] >= seconds * 1000


def test_apikeys_list_shows_when_a_key_was_last_used(run: Run) -> None:
    created = as_json(run("apikeys", "create", "used-key", "--role", "user", "-u", "bob", "--json"))
    listed = as_json(run("apikeys", "list", "--json"))
    assert next(k for k in listed if k["id"] == created["id"]).get("lastUsedAt") is None
    ok(run("servers", "list", key=created["key"]))
    give_up = time.monotonic() + 10
    while True:
        listed = as_json(run("apikeys", "list", "--json"))
        used = next(k for k in listed if k["id"] == created["id"]).get("lastUsedAt")
        if used:
            break
        assert time.monotonic() < give_up, "LAST USED never recorded"
        time.sleep(0.05)
    assert abs(used - time.time()) < 60
    row = next(r for r in ok(run("apikeys", "list")).stdout.splitlines() if created["id"] in r)
    assert row.split("\t")[-1] != "-"


def test_audit_follow_text_keeps_one_event_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A caller chooses its tool name (and a refused request its path): a newline in it must
    not print a forged event line under ``mcp-gateway audit --follow``."""
    from mcp_gateway.cli.audit import _emit

    forged = "2026-12-06T19:00:00.000Z  ok  alice  github  delete_repo  1.0  k1  admin  r1"
    item = {"time": "T", "outcome": "server_not_found", "username": "bob", "server": "s",
            "tool": f"x\n{forged}\tmore", "action": "tool_call", "keyId": "k9"}  # fmt: skip
    _emit([item], as_json=False)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "\t" not in out
    assert "x\\n2026-12-06" in out
