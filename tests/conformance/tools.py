"""The Node 22 test tools (``scripts/node22``) and the processes these tests start.

``node_tools()`` installs Node 22, the conformance suite and the Inspector once into a cache
directory (pinned versions in ``scripts/node22``). When that fails because the npm registry
cannot be reached the tests skip, saying so; any other failure fails them (CI reaches npm, so
there they always run).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "node22"
FIXTURE = ROOT / "tests" / "fixtures" / "conformance_server.py"
REGISTRY = ("registry.npmjs.org", 443)
_SCENARIO_DIR = re.compile(r"^server-(.+)-\d{4}-\d\d-\d\dT")


@dataclass(frozen=True)
class NodeTools:
    cache: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.cache / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["NO_COLOR"] = "1"
        return env

    def bin(self, name: str) -> str:
        return str(self.cache / "node_modules" / ".bin" / name)


def _registry_reachable() -> bool:
    """``npm ping`` (it honours npm's proxy settings); a TCP probe when npm is missing."""
    try:
        ping = subprocess.run(
            ["npm", "ping", "--fetch-timeout=15000", "--fetch-retries=0"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        return ping.returncode == 0
    except FileNotFoundError:
        pass
    except subprocess.TimeoutExpired:
        return False
    try:
        with socket.create_connection(REGISTRY, timeout=5):
            return True
    except OSError:
        return False


def node_tools() -> NodeTools:
    """The installed tools (installing them once). Skips only when they are not installed yet
    and npm's registry is unreachable (checked first, so an offline run skips at once instead of
    waiting out npm's retries); any other failure fails."""
    script = ["bash", str(SCRIPT)]
    installed = subprocess.run([*script, "--check"], check=False).returncode == 0
    if not installed and not _registry_reachable():
        pytest.skip("npm's registry is unreachable (npm ping): cannot install the Node 22 tools")
    done = subprocess.run(script, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode == 0:
        return NodeTools(Path(done.stdout.strip().splitlines()[-1]))
    if not _registry_reachable():
        pytest.skip("npm's registry is unreachable (npm ping): cannot install the Node 22 tools")
    pytest.fail(f"scripts/node22 failed ({done.returncode}):\n{done.stderr[-4000:]}")


@contextmanager
def conformance_upstream() -> Iterator[str]:
    """The fixture upstream over Streamable HTTP; yields its ``/mcp`` URL."""
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURE), "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "PORT=<n>" once the socket listens
        match = re.match(r"PORT=(\d+)", line)
        assert match, f"fixture did not start: {line!r}"
        yield f"http://127.0.0.1:{match.group(1)}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def add_server(base: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """Register a server with the gateway at ``base`` and wait until it lists its tools."""
    with httpx2.Client(base_url=base, headers=headers or {}, timeout=30) as client:
        resp = client.post("/mcp/servers", json=body)
        assert resp.status_code == 200, resp.text
        deadline = time.monotonic() + 60
        while True:
            server = client.get(f"/mcp/servers/{body['name']}").json()["server"]
            if server["status"] == "connected" and server["toolsList"]:
                return
            assert time.monotonic() < deadline, f"server never connected: {server}"
            time.sleep(0.05)


def run_conformance(tools: NodeTools, url: str, requirements: str, out: Path) -> dict[str, bool]:
    """``conformance server`` against ``url``: each scenario run -> whether it passed (no
    check with status FAILURE; warnings and skips are not failures, as in the suite's own
    summary)."""
    cmd = [tools.bin("conformance"), "server", "--url", url, "--requirements", requirements]
    done = subprocess.run(
        [*cmd, "-o", str(out)],
        env=tools.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    results: dict[str, bool] = {}
    for checks in sorted(out.glob("*/checks.json")):
        match = _SCENARIO_DIR.match(checks.parent.name)
        assert match, checks
        statuses = {c["status"] for c in json.loads(checks.read_text())}
        results[match.group(1)] = "FAILURE" not in statuses
    assert results, f"the suite ran no scenario:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return results


def required_scenarios(tools: NodeTools, requirements: str) -> set[str]:
    """The server scenarios the suite scores for ``requirements`` (``conformance list``)."""
    cmd = [tools.bin("conformance"), "list", "--server", "--requirements", requirements]
    out = subprocess.run(
        cmd, env=tools.env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    section = out.split("Server scenarios", 1)[1].split("\n\n", 1)[0]
    names = set(re.findall(r"^\s+- (\S+)$", section, re.M))
    assert names, out
    return names


def failures(out: Path, scenario: str, status: str = "FAILURE") -> list[str]:
    """The failing checks (or those of another ``status``) of one scenario's run,
    ``id: message``."""
    found: list[str] = []
    for checks in out.glob(f"server-{scenario}-*/checks.json"):
        match = _SCENARIO_DIR.match(checks.parent.name)
        if match is None or match.group(1) != scenario:
            continue  # another scenario whose name starts with this one
        for check in json.loads(checks.read_text()):
            if check["status"] == status:
                found.append(f"{check['id']}: {(check.get('errorMessage') or '')[:200]}")
    return found
