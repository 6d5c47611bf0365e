"""Helpers shared by the live-gateway CLI tests."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from typer.testing import Result

from tests.gateway_process import GatewayProcess


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}"
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def close_stderr(process: GatewayProcess) -> None:
    """Close the stderr pipe once GatewayProcess's reader thread hit EOF (else a
    ResourceWarning fires at some later garbage collection and fails an unrelated test)."""
    deadline = time.monotonic() + 10
    while any(t.name.endswith("(_pump)") and t.is_alive() for t in threading.enumerate()):
        assert time.monotonic() < deadline, "gateway stderr reader did not finish"
        time.sleep(0.01)
    if process.proc is not None and process.proc.stderr is not None:
        process.proc.stderr.close()
