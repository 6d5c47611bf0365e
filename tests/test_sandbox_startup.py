"""``serve`` and the child sandbox: a loud warning and ``/healthz`` say when it is off;
``MCPGW_SANDBOX=required`` refuses to start without it.

"No bubblewrap" is simulated by pointing ``MCPGW_SANDBOX_BWRAP`` at a file that does not exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.gateway_process import ROOT, GatewayProcess, gateway_env

NO_BWRAP = "/nonexistent/bwrap"


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    return body


def test_auto_without_bubblewrap_warns_at_start_and_healthz_says_disabled(
    tmp_path: Path,
) -> None:
    env = gateway_env(tmp_path / "data", MCPGW_SANDBOX="auto", MCPGW_SANDBOX_BWRAP=NO_BWRAP)
    with GatewayProcess(env) as gateway:
        sandbox = _health(gateway.url)["sandbox"]
        warning = [line for line in gateway.stderr.splitlines() if "NOT SANDBOXED" in line]
    assert sandbox == {
        "enabled": False,
        "mode": "auto",
        "reason": f"bubblewrap not found at {NO_BWRAP}",
    }
    assert len(warning) == 1 and "WARNING" in warning[0] and "docs/security.md" in warning[0]


def test_required_without_bubblewrap_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "data", MCPGW_SANDBOX="required", MCPGW_SANDBOX_BWRAP=NO_BWRAP)
    result = subprocess.run(
        [sys.executable, "-m", "mcp_gateway", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "mcp-gateway: MCPGW_SANDBOX=required but children cannot be sandboxed: "
        f"bubblewrap not found at {NO_BWRAP}"
    ]


def test_off_is_reported_as_an_explicit_opt_out(tmp_path: Path) -> None:
    with GatewayProcess(gateway_env(tmp_path / "data", MCPGW_SANDBOX="off")) as gateway:
        sandbox = _health(gateway.url)["sandbox"]
        assert "MCPGW_SANDBOX=off" in gateway.stderr
    assert sandbox == {"enabled": False, "mode": "off", "reason": "disabled by MCPGW_SANDBOX=off"}


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root here (CI runs as root)")
@pytest.mark.skipif(not os.access("/usr/bin/bwrap", os.X_OK), reason="bubblewrap not installed")
def test_as_root_with_bubblewrap_healthz_says_enabled_and_no_warning(tmp_path: Path) -> None:
    with GatewayProcess(gateway_env(tmp_path / "data")) as gateway:
        sandbox = _health(gateway.url)["sandbox"]
        assert "NOT SANDBOXED" not in gateway.stderr
    assert sandbox == {"enabled": True, "mode": "auto"}
