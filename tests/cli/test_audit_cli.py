"""``mcp-gateway audit`` against a live ``serve`` subprocess: the caller's scope as JSON, a
table cleaned of control characters, and ``--follow`` printing new events as they happen."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mcp_gateway.cli.main import app
from tests.cli.live import as_json, close_stderr, ok
from tests.gateway_process import ROOT, GatewayProcess, gateway_env

pytestmark = pytest.mark.slow

ADMIN_KEY = "mgw-cli-audit-admin-key-0123456789abcdef"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    data_dir = tmp_path_factory.mktemp("cli-audit")
    with GatewayProcess(gateway_env(data_dir, MCPGW_ADMIN_API_KEY=ADMIN_KEY)) as process:
        yield process
        process.terminate()
    close_stderr(process)


def _run(live: GatewayProcess, *args: str, key: str = ADMIN_KEY) -> Result:
    env = {"MCPGW_URL": live.url, "MCPGW_API_KEY": key}
    return CliRunner(env=env).invoke(app, list(args))


def _call(live: GatewayProcess, key: str, tool: str) -> None:
    """A tool call on a server that does not exist: a 404, audited as a tool_call."""
    body = json.dumps({"serverName": "nowhere", "methodName": tool, "args": {}}).encode()
    req = urllib.request.Request(f"{live.url}/mcp/tool/call", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {key}")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=20)
    err.value.close()
    assert err.value.code == 404


def _wait_json(live: GatewayProcess, *args: str, key: str = ADMIN_KEY, count: int = 1) -> Any:
    deadline = time.monotonic() + 20
    while True:
        items = as_json(_run(live, "audit", "--json", *args, key=key))
        if len(items) >= count:
            return items
        assert time.monotonic() < deadline, items
        time.sleep(0.1)


def test_a_service_key_sees_its_own_calls_and_the_table_is_clean(live: GatewayProcess) -> None:
    service = as_json(_run(live, "apikeys", "create", "svc", "--role", "service", "--json"))
    other = as_json(_run(live, "apikeys", "create", "svc2", "--role", "service", "--json"))
    _call(live, service["key"], "evil\x1b[2J\ntool")
    _call(live, other["key"], "theirs")
    mine = _wait_json(live, key=service["key"])
    assert [item["keyId"] for item in mine] == [service["id"]]
    assert mine[0]["outcome"] == "server_not_found" and mine[0]["role"] == "service"
    table = ok(_run(live, "audit", "--outcome", "server_not_found")).stdout
    assert "server_not_found" in table and "\x1b" not in table
    assert "theirs" in table  # the admin reads every key's events


def test_follow_prints_new_events_as_json_lines(live: GatewayProcess) -> None:
    service = as_json(_run(live, "apikeys", "create", "svc-f", "--role", "service", "--json"))
    env = {**os.environ, "MCPGW_URL": live.url, "MCPGW_API_KEY": service["key"]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_gateway", "audit", "--follow", "--json", "--interval", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        seen: list[str] = []
        for n in range(3):
            _call(live, service["key"], f"follow-{n}")
            deadline = time.monotonic() + 20
            while f"follow-{n}" not in seen:
                assert time.monotonic() < deadline and proc.poll() is None, seen
                try:
                    seen.append(json.loads(lines.get(timeout=0.5))["tool"])
                except queue.Empty:
                    pass
        assert seen == ["follow-0", "follow-1", "follow-2"]  # in order, each once
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
