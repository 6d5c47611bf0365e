"""One install per server across replicas (services/install_lock.py), with two real ``serve``
processes on one store installing from the local registry: while A installs, B answers 409
``install_in_progress``, and B serves what A installed and upgraded; when A is killed (-9)
mid-install, its lease expires after ``MCPGW_INSTALL_LEASE_TTL`` and B's retried install
succeeds. (Both run on one host: B runs the package from A's directory; installing it on a
replica's own disk is tests/services/test_package_restore.py.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.cluster.conftest import AUTH, replica_envs
from tests.gateway_process import GatewayProcess
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME, LocalRegistry

__all__ = ["artifacts", "registry"]

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

BODY = {"name": NPM_NAME, "serverName": "fx", "version": "1.9.0"}
STREAM = {**AUTH, "Accept": "text/event-stream"}


@asynccontextmanager
async def _installing(client: httpx2.AsyncClient) -> AsyncIterator[list[str]]:
    """A streamed install, entered once the installer printed its first line (the replica
    holds the lease by then); yields the rest of the stream's lines when read."""
    async with client.stream("POST", "/packages/install", json=BODY, headers=STREAM) as resp:
        assert resp.status_code == 200
        lines = resp.aiter_lines()
        with anyio.fail_after(120):
            async for line in lines:
                if line.startswith("event: line"):
                    break
        rest: list[str] = []
        yield rest
        with anyio.fail_after(120):
            rest += [line async for line in lines]


@pytest.fixture(params=["sqlite", "mongodb"])
def envs(
    request: pytest.FixtureRequest, tmp_path: Path, registry: LocalRegistry
) -> tuple[dict[str, str], dict[str, str]]:
    return replica_envs(
        request,
        tmp_path,
        request.param,
        MCPGW_NPM_REGISTRY=registry.npm_url,
        MCPGW_INSTALL_LEASE_TTL="2",
    )


async def test_while_a_installs_b_answers_409_install_in_progress_then_serves_its_upgrade(
    envs: tuple[dict[str, str], dict[str, str]],
) -> None:
    with GatewayProcess(envs[0], startup_timeout=60) as a, GatewayProcess(envs[1]) as b:
        async with (
            httpx2.AsyncClient(base_url=a.url, timeout=120) as on_a,
            httpx2.AsyncClient(base_url=b.url, headers=AUTH, timeout=120) as on_b,
        ):
            async with _installing(on_a) as rest:
                resp = await on_b.post("/packages/install", json=BODY)
                assert resp.status_code == 409, resp.text
                assert resp.json()["code"] == "install_in_progress"
            result = [line for line in rest if line.startswith("data: ")][-1]
            assert json.loads(result.removeprefix("data: "))["success"] is True
            # Installed once; B now sees it as taken, not as in progress.
            resp = await on_b.post("/packages/install", json=BODY)
            assert (resp.status_code, resp.json()["code"]) == (409, "server_already_exists")
            # An upgrade on A is served by B (it follows the definition A switched to).
            call = {"serverName": "fx", "methodName": "version", "args": {}}
            assert "1.9.0" in (await on_b.post("/mcp/tool/call", json=call)).text
            resp = await on_a.put("/packages/fx/upgrade", json={"version": "1.10.0"}, headers=AUTH)
            assert resp.status_code == 200, resp.text
            with anyio.fail_after(60):
                while True:
                    if "1.10.0" in (await on_b.post("/mcp/tool/call", json=call)).text:
                        break
                    await anyio.sleep(0.1)


async def test_a_replica_killed_mid_install_loses_its_lease_and_b_installs_after_it(
    envs: tuple[dict[str, str], dict[str, str]],
) -> None:
    with GatewayProcess(envs[0], startup_timeout=60) as a, GatewayProcess(envs[1]) as b:
        async with (
            httpx2.AsyncClient(base_url=a.url, timeout=120) as on_a,
            httpx2.AsyncClient(base_url=b.url, headers=AUTH, timeout=120) as on_b,
        ):
            with pytest.raises(httpx2.HTTPError):  # the stream breaks when A dies
                async with _installing(on_a):
                    a.kill()  # SIGKILL while holding the lease: nothing is released
            with anyio.fail_after(60):
                while True:
                    resp = await on_b.post("/packages/install", json=BODY)
                    if resp.status_code != 409:
                        break
                    assert resp.json()["code"] == "install_in_progress", resp.text
                    await anyio.sleep(0.2)
            assert resp.status_code == 200, resp.text
            call = {"serverName": "fx", "methodName": "version", "args": {}}
            resp = await on_b.post("/mcp/tool/call", json=call)
            assert resp.status_code == 200 and "1.9.0" in resp.text
