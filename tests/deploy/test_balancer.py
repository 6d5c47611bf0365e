"""deploy/nginx.conf in front of two real ``mcp-gateway serve`` replicas (one SQLite store):
what compose.yaml's balancer promises, observed. Only the replicas' addresses and the listen
port are changed (compose's names resolve only on its network). Needs nginx (Debian's
nginx-light, installed by ``.ci/run``); skips without it."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.gateway_process import GatewayProcess, gateway_env

pytestmark = pytest.mark.slow

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
ADMIN = "mcpgw_balancer-admin-key-0123456789abcdefghij"
KEYS = "k1:YmFsYW5jZXItdGVzdC1rZXktMzItYnl0ZXMtbG9uZyE="
AUTH = {"Authorization": f"Bearer {ADMIN}"}
TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_stdio_server.py"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", **AUTH}
LEGACY = "2025-11-25"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _balancer_conf(tmp: Path, upstreams: list[str], port: int) -> Path:
    text = CONF.read_text()
    replicas = iter(upstreams)
    text = re.sub(r"server gateway-\d:8080", lambda _: f"server {next(replicas)}", text)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    # Temp files inside the test's directory (Debian's defaults are under /var/lib/nginx).
    temp = "".join(
        f"    {kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    conf = tmp / "nginx.conf"
    conf.write_text(text)
    return conf


@pytest.fixture(scope="module")
def balancer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The balancer's URL, in front of replicas ``gateway-1`` and ``gateway-2``."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (Debian's nginx-light; .ci/run installs it)")
    tmp = tmp_path_factory.mktemp("balancer")
    common = {"MCPGW_ADMIN_API_KEY": ADMIN, "MCPGW_SECRETS_KEYS": KEYS}
    envs = [gateway_env(tmp / "data", MCPGW_REPLICA_ID=f"gateway-{n}", **common) for n in (1, 2)]
    with (
        GatewayProcess(envs[0], startup_timeout=60) as one,
        GatewayProcess(envs[1], startup_timeout=60) as two,
    ):
        port = _free_port()
        upstreams = [one.url.removeprefix("http://"), two.url.removeprefix("http://")]
        conf = _balancer_conf(tmp, upstreams, port)
        argv = [nginx, "-p", str(tmp), "-c", str(conf), "-e", "stderr"]
        proc = subprocess.Popen(
            [*argv, "-g", f"daemon off; pid {tmp / 'nginx.pid'};"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, "nginx exited"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "nginx did not listen"
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()  # nginx's fast shutdown: the master stops its workers
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def test_requests_on_one_connection_alternate_between_the_replicas(balancer: str) -> None:
    with httpx2.Client(base_url=balancer, headers=AUTH, timeout=30) as client:
        seen = [client.get("/healthz").json()["replica"] for _ in range(4)]
    assert set(seen) == {"gateway-1", "gateway-2"}
    assert seen[0] != seen[1] and seen[0] == seen[2] and seen[1] == seen[3]  # round robin


def test_the_api_key_reaches_the_replicas_and_a_write_is_served_by_both(balancer: str) -> None:
    with httpx2.Client(base_url=balancer, timeout=30) as client:
        assert client.get("/admin/apikeys").status_code == 401
        server = {"name": "lb-echo", "command": "python3", "args": [str(TINY)]}
        resp = client.post("/mcp/servers", json=server, headers=AUTH)
        assert resp.status_code == 200, resp.text
        call = {"serverName": "lb-echo", "methodName": "echo", "args": {"text": "hi"}}
        for _ in range(2):  # one call on each replica, right after the write
            resp = client.post("/mcp/tool/call", json=call, headers=AUTH)
            assert resp.status_code == 200, resp.text
            assert resp.json()["success"] is True


def test_a_legacy_mcp_session_id_passes_both_ways_and_is_served_by_either_replica(
    balancer: str,
) -> None:
    """docs/scaling.md: no affinity is needed: the 2025-11-25 era's session is stored at
    initialize, so the replica that did not open it resumes it from the store."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "balancer-test", "version": "0"},
        },
    }
    with httpx2.Client(base_url=balancer, headers=MCP_HEADERS, timeout=30) as client:
        resp = client.post("/mcp", json=initialize)
        assert resp.status_code == 200, resp.text
        session = resp.headers["mcp-session-id"]
        headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
        elsewhere = client.post("/mcp", json=listing, headers=headers)
        home = client.post("/mcp", json=listing, headers=headers)
    assert elsewhere.status_code == 200, elsewhere.text
    assert home.status_code == 200, home.text


def test_a_browser_origin_of_the_balancers_own_address_is_accepted_on_mcp(balancer: str) -> None:
    """/mcp accepts a browser Origin equal to its own scheme://Host: nginx must pass the
    client's Host with its port (``$host`` drops it, and every such browser got 403)."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "balancer-test", "version": "0"},
        },
    }
    with httpx2.Client(base_url=balancer, headers=MCP_HEADERS, timeout=30) as client:
        resp = client.post("/mcp", json=initialize, headers={"Origin": balancer})
        other = client.post("/mcp", json=initialize, headers={"Origin": "http://evil.example"})
    assert resp.status_code == 200, resp.text
    assert other.status_code == 403
