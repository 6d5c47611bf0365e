"""Run ``mcp-gateway serve`` as a real subprocess for end-to-end tests.

``GatewayProcess`` starts it on port 0, reads the bound port from Hypercorn's "Running on" line,
and stops it with SIGTERM (or SIGKILL on request). Its stderr is kept for assertions.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
_RUNNING = re.compile(r"Running on http://([\d.]+):(\d+)")


def gateway_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a gateway child: no inherited MCPGW_* from the test runner."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPGW_")}
    env.update(
        MCPGW_DATA_DIR=str(data_dir),
        MCPGW_PACKAGES_DIR=str(data_dir / "packages"),
        MCPGW_PORT="0",
        MCPGW_LOG_LEVEL="info",
    )
    env.update(extra)
    return env


class GatewayProcess:
    def __init__(
        self,
        env: dict[str, str],
        *,
        startup_timeout: float = 30.0,
        cwd: Path = ROOT,
        prefix: tuple[str, ...] = (),
    ) -> None:
        """``prefix``: a command that execs the rest of its argv (e.g. in its own mount
        namespace), so that the process is the gateway itself."""
        self.prefix = prefix
        self.env = env
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._lines: list[str] = []
        self._ready = threading.Event()
        self._pump_thread: threading.Thread

    @property
    def stderr(self) -> str:
        return "".join(self._lines)

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.append(line)
            match = _RUNNING.search(line)
            if match and not self.url:
                self.url = f"http://{match.group(1)}:{match.group(2)}"
                self._ready.set()
        self._ready.set()  # process ended: unblock waiters

    def start(self) -> GatewayProcess:
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "mcp_gateway", "serve"],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        if not self._ready.wait(self.startup_timeout) or not self.url:
            self.kill()
            raise RuntimeError(f"gateway did not start:\n{self.stderr}")
        return self

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._close()
        return code

    def kill(self) -> None:
        """SIGKILL (no graceful shutdown) and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stderr is not None:
            self._pump_thread.join(10)  # read to EOF so stderr holds everything
            self.proc.stderr.close()

    def wait_exit(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.proc.wait(max(0.0, deadline - time.monotonic()) + 1)

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
