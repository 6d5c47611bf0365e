"""``mcp-gateway serve`` as a real subprocess: start-up, health, shutdown, crash durability."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.gateway_process import ROOT, GatewayProcess, gateway_env

ADMIN_KEY = "mcpgw_test-admin-key-0123456789abcdefghijklmnopqrstuv"


def _request(
    url: str, method: str = "GET", body: dict[str, Any] | None = None, key: str | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.slow
def test_serve_starts_on_empty_data_dir_answers_health_and_exits_0_on_sigterm(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    gateway = GatewayProcess(gateway_env(data)).start()
    try:
        status, body = _request(f"{gateway.url}/healthz")
        assert status == 200
        assert body["status"] == "ok"
        assert body["store"] == {"backend": "sqlite", "status": "ok"}
        assert body["version"]
        status, body = _request(f"{gateway.url}/readyz")
        assert status == 200 and body["ready"] is True
        # First start on an empty store: an admin key, printed once and saved 0600.
        key_file = data / "admin-api-key"
        assert key_file.exists()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text().strip() in gateway.stderr
        assert stat.S_IMODE((data / "secrets.key").stat().st_mode) == 0o600
        assert gateway.url.startswith("http://127.0.0.1:")
    finally:
        code = gateway.terminate()
    assert code == 0, gateway.stderr
    assert "Traceback" not in gateway.stderr


def test_api_requires_a_key_by_default(tmp_path: Path) -> None:
    with GatewayProcess(gateway_env(tmp_path / "data")) as gateway:
        status, body = _request(f"{gateway.url}/mcp/servers")
        assert status == 401
        assert body == {"success": False, "error": body["error"], "code": "unauthenticated"}


@pytest.mark.slow
def test_kill_9_then_restart_keeps_every_stored_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = gateway_env(data, MCPGW_ADMIN_API_KEY=ADMIN_KEY)
    server = {
        "name": "keep",
        "transportType": "stdio",
        "command": sys.executable,
        "args": ["-c", "pass"],
        "enabled": False,
    }
    gateway = GatewayProcess(env).start()
    try:
        status, body = _request(f"{gateway.url}/mcp/servers", "POST", server, ADMIN_KEY)
        assert status in (200, 201), body
        for i in range(20):
            status, body = _request(
                f"{gateway.url}/secrets/set",
                "POST",
                {
                    "username": f"u{i % 3}",
                    "serverName": "keep",
                    "secretName": f"s{i}",
                    "secretValue": f"v{i}",
                },
                ADMIN_KEY,
            )
            assert status == 200, body
    finally:
        gateway.kill()  # SIGKILL: no graceful close
    with GatewayProcess(env) as again:
        for user in ("u0", "u1", "u2"):
            status, body = _request(
                f"{again.url}/secrets?serverName=keep&username={user}", key=ADMIN_KEY
            )
            assert status == 200, body
            expected = sorted(f"s{i}" for i in range(20) if f"u{i % 3}" == user)
            assert sorted(body["secrets"]) == expected


def _serve_until_exit(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``serve`` expecting it to refuse to start (30 s cap)."""
    return subprocess.run(
        [sys.executable, "-m", "mcp_gateway", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_bad_setting_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "data", MCPGW_PORT="not-a-port")
    result = _serve_until_exit(env)
    assert result.returncode == 2
    assert "MCPGW_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_error_raised_while_services_start_is_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    # The admin key is checked after the pool and audit task groups are open: the error must
    # not arrive as an exception group traceback.
    env = gateway_env(tmp_path / "data", MCPGW_ADMIN_API_KEY="short")
    result = _serve_until_exit(env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "ExceptionGroup" not in result.stderr
    # (log lines of what did start, e.g. the key file created, may come before it)
    assert result.stderr.strip().splitlines()[-1] == (
        "mcp-gateway: MCPGW_ADMIN_API_KEY must be at least 16 characters"
    )


def test_the_listening_address_is_logged_at_warning_level_too(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "data", MCPGW_LOG_LEVEL="warning")
    with GatewayProcess(env) as gateway:  # reads the port from Hypercorn's "Running on" line
        status, _ = _request(f"{gateway.url}/healthz")
        assert status == 200


def test_mongodb_mode_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "data", MCPGW_MONGODB_URI="mongodb://127.0.0.1:1")
    result = _serve_until_exit(env)
    assert result.returncode == 2
    assert "MCPGW_SECRETS_KEYS" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_logging_never_turns_on_the_sdk_message_traces() -> None:
    from mcp_gateway.cli.serve import _VERBATIM_LOGGERS, _configure_logging

    saved = {name: logging.getLogger(name).level for name in ("", *_VERBATIM_LOGGERS)}
    try:
        _configure_logging("debug")
        assert logging.getLogger("mcp_gateway").isEnabledFor(logging.DEBUG)
        for name in _VERBATIM_LOGGERS:  # they log raw JSON-RPC: arguments, tokens
            assert not logging.getLogger(f"{name}.client").isEnabledFor(logging.DEBUG)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
