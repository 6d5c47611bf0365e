"""``scripts/test`` (what CI runs) stops when the dev install fails."""

from __future__ import annotations

import os
import subprocess

from tests.gateway_process import ROOT


def test_scripts_test_fails_and_stops_when_the_dev_install_fails() -> None:
    env = {**os.environ, "PIP_CONSTRAINT": str(ROOT / "no-such-constraints.txt")}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test"), "--collect-only", "-q", "tests/test_errors.py"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0
    assert "installing the dev environment failed" in result.stderr
    assert "== ruff" not in result.stdout  # nothing ran after the failed install
