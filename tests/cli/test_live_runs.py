"""``tools call --async`` and ``runs list|show|watch|cancel`` against a live gateway process."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mcp_gateway.cli.main import app
from tests.cli.live import as_json, close_stderr, ok
from tests.gateway_process import ROOT, GatewayProcess, gateway_env

ADMIN_KEY = "mgw-cli-runs-admin-key-0123456789abcdef"
FIXTURE = str(ROOT / "tests" / "fixtures" / "mcp_fixture_server.py")

Run = Callable[..., Result]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir: Path = tmp_path_factory.mktemp("cli-runs")
    with GatewayProcess(gateway_env(data_dir, MCPGW_ADMIN_API_KEY=ADMIN_KEY)) as live:

        def invoke(*args: str) -> Result:
            env = {"MCPGW_URL": live.url, "MCPGW_API_KEY": ADMIN_KEY}
            return CliRunner(env=env).invoke(app, list(args))

        ok(invoke("servers", "add", "fx", "--command", sys.executable, "--", FIXTURE))
        deadline = time.monotonic() + 60
        while as_json(invoke("servers", "show", "fx", "--json"))["status"] != "connected":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield invoke
        live.terminate()
    close_stderr(live)


def start(run: Run, *args: str) -> str:
    result = ok(run("tools", "call", "fx", *args, "--async"))
    run_id = result.stdout.strip()
    assert run_id.startswith("run_") and "runs watch" in result.stderr
    return run_id


def test_async_call_then_watch_prints_progress_and_the_result(run: Run) -> None:
    run_id = start(run, "progress", "--arg", "steps=2", "--arg", "hold=0.3")
    watched = ok(run("runs", "watch", run_id))
    assert watched.stdout.strip() == "done 2"
    shown = ok(run("runs", "show", run_id))
    assert "success" in shown.stdout and "done 2" in shown.stdout
    detail = as_json(run("runs", "show", run_id, "--json"))
    assert detail["progress"]["progress"] == 2 and detail["result"]["content"][0]["text"]
    listed = as_json(run("runs", "list", "--json", "--status", "success"))
    assert run_id in [item["id"] for item in listed]


def test_cancel_then_watch_and_show_exit_1_saying_cancelled(run: Run) -> None:
    run_id = start(run, "sleep", "--arg", "seconds=60")
    assert f"run {run_id} is cancelled" in ok(run("runs", "cancel", run_id)).stdout
    watched = run("runs", "watch", run_id)
    assert watched.exit_code == 1 and "ended cancelled" in watched.stderr
    assert run("runs", "show", run_id).exit_code == 1


def test_unknown_run_exits_1_with_not_found(run: Run) -> None:
    for command in ("show", "watch", "cancel"):
        result = run("runs", command, "run_nope")
        assert result.exit_code == 1 and "not_found" in result.stderr, command
