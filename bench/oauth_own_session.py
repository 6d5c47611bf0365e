"""Cost of mcp-api's per-user OAuth sessions on a shared HTTP server (issue 11).

Every tool call on an HTTP server now asks the store whether the user posted OAuth tokens for
it (``UpstreamCredentials.own_session``: one indexed read, plus a decryption when there are
tokens), and a user with tokens runs on a session of their own whose HTTP client reads the
token for every upstream request (``OAuthBearerAuth``).

In one process: a Runtime on SQLite behind the ASGI app (httpx2 ASGI transport), the test AS
and the fixture MCP server (``/trust/mcp``: it serves requests with and without a token alike,
so only the gateway's cost differs) as subprocesses. Measured at
concurrency 1, sequentially:

- ``own_session(no tokens)`` / ``own_session(tokens)``: the check alone;
- ``call, shared session``: ``POST /mcp/tool/call`` (echo) by a user without tokens;
- ``call, own session``: the same call by a user whose tokens are stored.

Prints p50/p99 (ms) and calls/s per round and the medians as a Markdown table.

Run: .venv/bin/python bench/oauth_own_session.py [--rounds 3] [--calls 300] [--checks 3000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp_gateway.api.app import create_app  # noqa: E402
from mcp_gateway.config import load_settings  # noqa: E402
from mcp_gateway.runtime import Runtime  # noqa: E402
from tests.fixtures.oauth_as import FixtureProcess  # noqa: E402

ADMIN = "mcpgw_bench-admin-key-0123456789abcdefghijkl"
SERVER = "shared-http"
Op = Callable[[], Awaitable[Any]]


async def measure(op: Op, n: int) -> tuple[float, float, float]:
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        await op()
        samples.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    samples.sort()
    return samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.99)] * 1000, n / total


async def run(args: argparse.Namespace, as_url: str, mcp_url: str) -> dict[str, list[Any]]:
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(
            environ={},
            store={"data_dir": Path(data) / "data"},
            installer={"packages_dir": Path(data) / "packages"},
            http={"admin_api_key": ADMIN},
            oauth={"allowed_hosts": ["127.0.0.1"], "public_url": "http://gateway.bench"},
        )
        runtime = Runtime(settings, announce=lambda _: None, reconcile_packages=False)
        app = create_app(runtime)
        results: dict[str, list[Any]] = {}
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app)
            admin = {"Authorization": f"Bearer {ADMIN}"}
            async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as gw:
                body = {"name": SERVER, "transportType": "streamable_http", "url": mcp_url}
                (await gw.post("/mcp/servers", json=body, headers=admin)).raise_for_status()
                async with httpx2.AsyncClient(timeout=5.0) as plain:
                    await plain.post(as_url + "/admin/client", json={"client_id": "bench"})
                    grant = (
                        await plain.post(
                            as_url + "/admin/grant", json={"client_id": "bench", "sub": "alice"}
                        )
                    ).json()
                tokens = {
                    "username": "alice",
                    "accessToken": grant["access_token"],
                    "refreshToken": grant["refresh_token"],
                    "expiresIn": 3600,
                    "clientId": "bench",
                    "redirectUri": "https://platform.example/callback",
                }
                url = f"/mcp/servers/{SERVER}/oauth"
                (await gw.post(url, json=tokens, headers=admin)).raise_for_status()
                server = await runtime.servers.config(SERVER)

                def call(user: str) -> Op:
                    body = {"serverName": SERVER, "methodName": "echo", "args": {"text": "x"}}

                    async def op() -> None:
                        resp = await gw.post(
                            "/mcp/tool/call", json={**body, "username": user}, headers=admin
                        )
                        resp.raise_for_status()

                    return op

                def check(user: str) -> Op:
                    async def op() -> None:
                        await runtime.credentials.own_session(server, user)

                    return op

                ops: list[tuple[str, Op, int]] = [
                    ("own_session(no tokens)", check("bob"), args.checks),
                    ("own_session(tokens)", check("alice"), args.checks),
                    ("call, shared session", call("bob"), args.calls),
                    ("call, own session", call("alice"), args.calls),
                ]
                for _name, op, _n in ops:  # warm up: sessions up, caches filled
                    for _ in range(20):
                        await op()
                for rnd in range(args.rounds):
                    for name, op, n in ops:
                        p50, p99, rate = await measure(op, n)
                        results.setdefault(name, []).append((p50, p99, rate))
                        print(f"round {rnd + 1} {name:24} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  "
                              f"{rate:8.0f}/s", flush=True)  # fmt: skip
        return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--checks", type=int, default=3000)
    args = parser.parse_args()
    with (
        FixtureProcess([str(ROOT / "tests/fixtures/oauth_as.py")]) as auth,
        FixtureProcess(
            [str(ROOT / "tests/fixtures/oauth_mcp_server.py"), "--as-url", auth.url]
        ) as mcp,
    ):
        results = anyio.run(run, args, auth.url, mcp.url + "/trust/mcp")
    print("\n| operation | p50 ms | p99 ms | ops/s |\n|---|---|---|---|")
    for name, rows in results.items():
        p50 = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        rate = statistics.median(r[2] for r in rows)
        print(f"| {name} | {p50:.3f} | {p99:.3f} | {rate:.0f} |")


if __name__ == "__main__":
    main()
