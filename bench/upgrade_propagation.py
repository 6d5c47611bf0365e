"""An upgrade on replica A served by replica B: from A's 200 to B's first answer from the new
version (issue 14, "an upgrade on A is carried out on B too before B switches").

Usage: ``.venv/bin/python bench/upgrade_propagation.py [--rounds 6] [--shared]``

Two ``mcp-gateway serve`` processes on one SQLite file, installing the npm fixture package from
the tests' local registry (tests/installer/local_registry.py; needs node and npm). B runs in a
mount namespace of its own where the packages path is a private directory (its own disk: it
installs every upgrade itself before it switches); ``--shared`` gives both one packages
directory (a shared volume: B only switches). Each round upgrades the package on A to the other
of two versions while a client calls B every 20 ms; prints per round the time from A's 200 to
B's first answer from the new version and whether any call to B failed, then p50/max (ms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster.conftest import ADMIN, AUTH, KEYS  # noqa: E402
from tests.gateway_process import GatewayProcess, gateway_env  # noqa: E402
from tests.installer.local_registry import (  # noqa: E402
    NPM_NAME,
    build_artifacts,
    start_registry,
)

CALL = {"serverName": "fx", "methodName": "version", "args": {}}
VERSIONS = ("1.9.0", "1.10.0")


async def _wait_serving(client: httpx2.AsyncClient, version: str, errors: list[str]) -> None:
    while True:
        resp = await client.post("/mcp/tool/call", json=CALL)
        if resp.status_code != 200:
            errors.append(resp.text[:200])
        elif f'"{version}' in resp.text:
            return
        await anyio.sleep(0.02)


async def run(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="upgrade-bench-"))
    registry = start_registry(build_artifacts(base / "artifacts"), base)
    shared, private = base / "packages", base / "b-disk"
    shared.mkdir()
    private.mkdir()
    common = {
        "MCPGW_ADMIN_API_KEY": ADMIN,
        "MCPGW_SECRETS_KEYS": KEYS,
        "MCPGW_PACKAGES_DIR": str(shared),
        "MCPGW_NPM_REGISTRY": registry.npm_url,
        "MCPGW_LOG_LEVEL": "warning",
    }
    env_a = gateway_env(base / "data", MCPGW_REPLICA_ID="replica-a", **common)
    env_b = gateway_env(base / "data", MCPGW_REPLICA_ID="replica-b", **common)
    env_a["MCPGW_PACKAGES_DIR"] = env_b["MCPGW_PACKAGES_DIR"] = str(shared)
    prefix: tuple[str, ...] = ()
    if not args.shared:
        flags = "-m" if os.geteuid() == 0 else "-Urm"
        bind = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
        prefix = ("unshare", flags, "sh", "-c", bind, "sh", str(private), str(shared))
    times: list[float] = []
    try:
        with (
            GatewayProcess(env_a, startup_timeout=60) as a,
            GatewayProcess(env_b, startup_timeout=60, prefix=prefix) as b,
        ):
            async with (
                httpx2.AsyncClient(base_url=a.url, headers=AUTH, timeout=300) as on_a,
                httpx2.AsyncClient(base_url=b.url, headers=AUTH, timeout=300) as on_b,
            ):
                body = {"name": NPM_NAME, "serverName": "fx", "version": VERSIONS[0]}
                assert (await on_a.post("/packages/install", json=body)).status_code == 200
                with anyio.fail_after(300):
                    await _wait_serving(on_b, VERSIONS[0], [])
                for i in range(args.rounds):
                    version = VERSIONS[(i + 1) % 2]
                    errors: list[str] = []
                    resp = await on_a.put("/packages/fx/upgrade", json={"version": version})
                    assert resp.status_code == 200, resp.text
                    ok_at = time.perf_counter()
                    with anyio.fail_after(300):
                        await _wait_serving(on_b, version, errors)
                    ms = (time.perf_counter() - ok_at) * 1000
                    times.append(ms)
                    print(f"round {i + 1}: -> {version}: B serves it {ms:.0f} ms after A's 200; "
                          f"failed calls to B: {len(errors)}")  # fmt: skip
    finally:
        registry.stop()
        shutil.rmtree(base, ignore_errors=True)
    mode = "shared packages volume" if args.shared else "B on its own disk"
    print(
        f"{mode}: p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
        f"over {len(times)} upgrades"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--shared", action="store_true")
    anyio.run(run, parser.parse_args())


if __name__ == "__main__":
    main()
