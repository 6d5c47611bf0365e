"""Packages per replica with two real ``serve`` processes on one MongoDB store (SecantusDB),
each with its own disk: B runs in a mount namespace of its own where the shared
``MCPGW_PACKAGES_DIR`` path is a private directory. An upgrade on A is installed by B into its
own directory while B keeps serving the old version (no call to B fails), shown in ``GET
/packages`` as B's ``installing`` state, and served by B once installed
(services/package_replicas.py; the failure path is tests/services/test_package_replicas.py)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.cluster.conftest import AUTH, replica_envs
from tests.gateway_process import GatewayProcess
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME, LocalRegistry

__all__ = ["artifacts", "registry"]

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CALL = {"serverName": "fx", "methodName": "version", "args": {}}
_BIND = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'


def own_disk(private: Path, shared: Path) -> tuple[str, ...]:
    """An argv prefix running the rest in a mount namespace where ``shared`` is ``private``
    (skips the test where namespaces cannot be had)."""
    flags = "-m" if os.geteuid() == 0 else "-Urm"
    prefix = ("unshare", flags, "sh", "-c", _BIND, "sh", str(private), str(shared))
    try:
        subprocess.run([*prefix, "true"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("no mount namespace here (unshare) to give replica B a disk of its own")
    return prefix


async def _until(client: httpx2.AsyncClient, check: Any, within: float = 120.0) -> Any:
    with anyio.fail_after(within):
        while True:
            found = await check(client)
            if found:
                return found
            await anyio.sleep(0.1)


async def _b_installing(client: httpx2.AsyncClient) -> dict[str, Any] | None:
    package = (await client.get("/packages/by-id/fx")).json()["package"]
    states = package.get("replicas") or []
    return next((s for s in states if s["state"] == "installing"), None)


async def test_an_upgrade_on_a_is_installed_on_b_before_b_switches_and_no_call_fails(
    request: pytest.FixtureRequest, tmp_path: Path, registry: LocalRegistry
) -> None:
    shared, private = tmp_path / "packages", tmp_path / "b-disk"
    shared.mkdir()
    private.mkdir()
    prefix = own_disk(private, shared)
    env_a, env_b = replica_envs(request, tmp_path, "mongodb", MCPGW_PACKAGES_DIR=str(shared))
    env_a["MCPGW_NPM_REGISTRY"] = registry.npm_url
    env_b["MCPGW_NPM_REGISTRY"] = registry.held_npm_url  # B's installs can be held
    with (
        GatewayProcess(env_a, startup_timeout=60) as a,
        GatewayProcess(env_b, startup_timeout=60, prefix=prefix) as b,
    ):
        async with (
            httpx2.AsyncClient(base_url=a.url, headers=AUTH, timeout=120) as on_a,
            httpx2.AsyncClient(base_url=b.url, headers=AUTH, timeout=120) as on_b,
        ):
            body = {"name": NPM_NAME, "serverName": "fx", "version": "1.9.0"}
            resp = await on_a.post("/packages/install", json=body)
            assert resp.status_code == 200, resp.text

            async def serves_190(client: httpx2.AsyncClient) -> bool:
                resp = await client.post("/mcp/tool/call", json=CALL)
                return resp.status_code == 200 and "1.9.0" in resp.text

            await _until(on_b, serves_190)  # installed on B's own disk by B
            assert any(private.iterdir()) and any(shared.iterdir())  # two disks, one path

            answers: list[tuple[int, str]] = []
            registry.held = threading.Event()

            switched = anyio.Event()

            async def keep_calling() -> None:
                while not answers or "1.10.0" not in answers[-1][1]:
                    resp = await on_b.post("/mcp/tool/call", json=CALL)
                    answers.append((resp.status_code, resp.text))
                    await anyio.sleep(0.02)  # leave the box's 2 cores to B's install
                switched.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(keep_calling)
                resp = await on_a.put("/packages/fx/upgrade", json={"version": "1.10.0"})
                assert resp.status_code == 200, resp.text
                state = await _until(on_a, _b_installing)
                assert state["replicaId"] == "replica-b", state
                assert (state["version"], state["targetVersion"]) == ("1.9.0", "1.10.0"), (
                    state,
                    b.stderr[-4000:],
                )
                seen = len(answers)

                async def served_meanwhile(_: httpx2.AsyncClient) -> bool:
                    return len(answers) > seen + 3

                await _until(on_b, served_meanwhile)
                registry.held.set()
                with anyio.fail_after(120):
                    await switched.wait()
            failed = [answer for answer in answers if answer[0] != 200]
            assert not failed, (failed[:3], b.stderr[-4000:])
            versions = ["1.10.0" if "1.10.0" in text else "1.9.0" for _, text in answers]
            assert versions == sorted(versions, key=lambda v: v == "1.10.0")  # never back

            async def agreed(client: httpx2.AsyncClient) -> bool:
                # B records ready right after switching: it may land after B's first answer.
                package = (await client.get("/packages/by-id/fx")).json()["package"]
                return "replicas" not in package

            await _until(on_a, agreed, within=30)
