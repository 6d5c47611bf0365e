"""ServerService: the command check at registration, and the one cache of definitions the pool
runs (real pool, real SQLite store, the tiny stdio fixture server)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import ServerConfig, ServerStatus
from mcp_gateway.errors import InvalidRequest, ServerNotFound
from mcp_gateway.services.servers import ServerService
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool

pytestmark = pytest.mark.anyio

TINY = str(Path(__file__).resolve().parents[1] / "fixtures" / "tiny_stdio_server.py")


@pytest.fixture
async def pool(sqlite_store: Store) -> AsyncIterator[UpstreamPool]:
    async with UpstreamPool(sessions=sqlite_store, settings=UpstreamSettings()) as live:
        yield live


def _tiny(name: str, *args: str, env: dict[str, str] | None = None) -> ServerConfig:
    return ServerConfig(name=name, command=sys.executable, args=(TINY, *args), env=env or {})


async def test_a_server_whose_command_does_not_exist_is_refused_naming_it(
    sqlite_store: Store, pool: UpstreamPool, tmp_path: Path
) -> None:
    servers = ServerService(sqlite_store, pool)
    missing = [
        ("mcpgw-no-such-command", None, "'mcpgw-no-such-command' not found on PATH"),
        (str(tmp_path / "nope"), None, f"{str(tmp_path / 'nope')!r} not found"),
        ("./bin/server", str(tmp_path), "'./bin/server' not found"),
    ]
    for command, cwd, message in missing:
        with pytest.raises(InvalidRequest, match=message) as exc:
            await servers.create(ServerConfig(name="s", command=command, cwd=cwd))
        assert exc.value.details == [{"field": "command", "error": "not found"}]
    assert await sqlite_store.list_servers() == [] and pool.statuses() == {}
    # looked up, never run: a script that would leave a marker is registered disabled
    marker = tmp_path / "ran"
    script = tmp_path / "bin" / "server"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    await servers.create(
        ServerConfig(name="s", command="./bin/server", cwd=str(tmp_path), enabled=False)
    )
    assert not marker.exists()
    # an update to a missing command is refused and changes nothing
    with pytest.raises(InvalidRequest, match="'gone-cmd' not found"):
        await servers.update("s", {"command": "gone-cmd"})
    stored = await sqlite_store.get_server("s")
    assert stored is not None and stored.command == "./bin/server"


async def test_a_command_on_the_definitions_own_path_is_found(
    sqlite_store: Store, pool: UpstreamPool, tmp_path: Path
) -> None:
    tool = tmp_path / "mcpgw-own-tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    servers = ServerService(sqlite_store, pool)
    server = ServerConfig(
        name="own", command="mcpgw-own-tool", env={"PATH": str(tmp_path)}, enabled=False
    )
    await servers.create(server)
    stored = await sqlite_store.get_server("own")
    assert stored is not None and stored.metadata.created_at is not None  # set by create
    assert stored == dataclasses.replace(server, metadata=stored.metadata)


async def test_the_pool_runs_the_definition_object_the_service_owns(
    sqlite_store: Store, pool: UpstreamPool
) -> None:
    servers = ServerService(sqlite_store, pool, cache_ttl=0)  # re-read on every call
    await servers.create(_tiny("s"))
    first = await servers.config("s")
    assert await servers.config("s") is first  # an unchanged re-read keeps the object
    # another process sharing the store disables it: seen on the next read, applied once
    await sqlite_store.update_server(dataclasses.replace(first, enabled=False))
    changed = await servers.config("s")
    assert changed is not first and not changed.enabled
    assert pool.status("s").status is ServerStatus.DISABLED
    # and deletes it: the pool stops it
    await sqlite_store.delete_server("s")
    with pytest.raises(ServerNotFound):
        await servers.config("s")
    assert "s" not in pool.statuses()


async def test_check_start_reports_a_server_that_fails_with_its_stderr(
    sqlite_store: Store, pool: UpstreamPool
) -> None:
    servers = ServerService(sqlite_store, pool)
    server = _tiny("boom", "--fail-start", "boom-token-1234", env={"T": "1234"})
    with anyio.fail_after(30):
        check = await servers.trial(server, within=20)
    assert check.failed and check.error
    assert any("boom-token-***" in line for line in check.stderr)  # env values masked
    assert pool.statuses() == {} and await sqlite_store.list_servers() == []
