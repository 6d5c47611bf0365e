"""Memory and time of OAuth discovery against a hostile authorization server.

The test AS (tests/fixtures/oauth_as.py, a subprocess) answers every ``/.well-known/`` request
with a generated metadata body of ``--mb`` MiB (streamed, no Content-Length; or gzipped with
``--mode gzip_bomb``). This process runs the gateway's discovery (``discover`` through the
guarded client) and reports its RSS before/after (``/proc/self/status`` VmRSS), the peak
(VmHWM), the wall time, and how much the AS generated before the gateway hung up.

Run: .venv/bin/python bench/oauth_discovery_memory.py --mb 200 [--mode huge|gzip_bomb]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import anyio
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp_gateway.errors import GatewayError  # noqa: E402
from mcp_gateway.services.oauth import GuardedClientFactory  # noqa: E402
from mcp_gateway.services.oauth.discovery import discover  # noqa: E402
from tests.fixtures.oauth_as import FixtureProcess  # noqa: E402


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _measure(url: str, mb: int, mode: str) -> None:
    httpx2.post(url + "/admin/config", json={"metadata_mode": mode, "huge_mb": mb}, timeout=5)
    factory = GuardedClientFactory(["127.0.0.1"])
    before, started = _status_mib("VmRSS"), time.monotonic()
    outcome = "no error (!)"
    try:
        async with factory() as client:
            await discover(client, factory.guard, url + "/mcp")
    except GatewayError as exc:
        outcome = f"{type(exc).__name__} {exc.status}: {exc.message}"
    elapsed = time.monotonic() - started
    sent = httpx2.get(url + "/stats", timeout=5).json()["metadata_bytes_sent"]
    print(f"mode={mode} body={mb} MiB -> {outcome}")
    print(
        f"RSS {before:.0f} -> {_status_mib('VmRSS'):.0f} MiB (peak {_status_mib('VmHWM'):.0f}), "
        f"{elapsed:.2f} s, AS generated {sent / 1024:.0f} KiB before the hang-up"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--mode", choices=["huge", "gzip_bomb"], default="huge")
    args = parser.parse_args()
    with FixtureProcess(["tests/fixtures/oauth_as.py"]) as fixture:
        anyio.run(_measure, fixture.url, args.mb, args.mode)


if __name__ == "__main__":
    main()
