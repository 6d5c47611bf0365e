"""SQLite-only behaviour: durability across kill -9, unusable data dirs, locks, migrations."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from mcp_gateway.domain.audit import AuditFilter, AuditQuery
from mcp_gateway.domain.records import AuditEvent, StoredSecret
from mcp_gateway.domain.runs import RunRecord
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.domain.toolsets import Toolset, ToolsetEntry
from mcp_gateway.errors import ConfigError, StoreUnavailable
from mcp_gateway.storage.codec import to_json
from mcp_gateway.storage.factory import open_store
from mcp_gateway.storage.sqlite import SqliteStore
from mcp_gateway.storage.sqlite import secrets as sqlite_secrets
from mcp_gateway.storage.sqlite.db import DB_FILE
from mcp_gateway.storage.sqlite.schema import CREATE_VERSION_TABLE, MIGRATIONS, SCHEMA_VERSION
from tests.conftest import MakeSettings

pytestmark = pytest.mark.anyio

WRITER = textwrap.dedent(
    """
    import sys, anyio
    from pathlib import Path
    from mcp_gateway.domain.records import StoredSecret
    from mcp_gateway.domain.servers import ServerConfig
    from mcp_gateway.storage.sqlite import SqliteStore

    async def main():
        store = await SqliteStore.open(Path(sys.argv[1]))
        await store.create_server(ServerConfig(name="github", command="gh"))
        for i in range(50):
            await store.put_secret(StoredSecret(f"user{i}", "github", "TOKEN", bytes([i]) * 8))
        print("committed", flush=True)
        await anyio.sleep_forever()  # never closes cleanly: the parent SIGKILLs us

    anyio.run(main)
    """
)


async def test_committed_writes_survive_kill_9_of_the_writer(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with anyio.fail_after(60):
        async with await anyio.open_process(
            [sys.executable, "-c", WRITER, str(data_dir)], stderr=subprocess.STDOUT
        ) as proc:
            assert proc.stdout is not None
            output = b""
            while b"committed" not in output:
                chunk = await proc.stdout.receive()
                output += chunk
            proc.send_signal(signal.SIGKILL)
            assert await proc.wait() == -signal.SIGKILL
    # The commits live in the WAL only (no clean close, no checkpoint): recovery must replay it.
    assert (data_dir / f"{DB_FILE}-wal").stat().st_size > 0
    store = await SqliteStore.open(data_dir)
    try:
        assert await store.get_server("github") == ServerConfig(name="github", command="gh")
        for i in range(50):
            assert await store.get_secrets(f"user{i}", "github") == [
                StoredSecret(f"user{i}", "github", "TOKEN", bytes([i]) * 8)
            ]
    finally:
        await store.aclose()
    with sqlite3.connect(data_dir / DB_FILE) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_store_uses_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "nested" / "data")  # missing dirs are created
    await store.aclose()
    with sqlite3.connect(tmp_path / "nested" / "data" / DB_FILE) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        versions = raw.execute("SELECT version FROM schema_version").fetchall()
        assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


async def test_schema_newer_than_the_code_is_a_config_error(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    await store.aclose()
    with sqlite3.connect(tmp_path / DB_FILE) as raw:
        raw.execute("INSERT INTO schema_version VALUES (99, 0)")
    with pytest.raises(ConfigError, match="schema version 99"):
        await SqliteStore.open(tmp_path)


async def test_data_dir_under_a_regular_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError) as err:
        await SqliteStore.open(tmp_path / "file" / "data")
    assert str(tmp_path / "file" / "data") in str(err.value)


OPENER = textwrap.dedent(
    """
    import sys, anyio
    from pathlib import Path
    from mcp_gateway.errors import GatewayError
    from mcp_gateway.storage.sqlite import SqliteStore

    async def main():
        try:
            store = await SqliteStore.open(Path(sys.argv[1]))
        except GatewayError as exc:
            print(f"{type(exc).__name__}: {exc}")
            return
        await store.aclose()
        print("opened")

    anyio.run(main)
    """
)


@pytest.fixture
def read_only_dir() -> Iterator[Path]:
    """A directory an unprivileged process cannot write."""
    path = Path(tempfile.mkdtemp(prefix="mcpgw-ro-"))
    path.chmod(0o555)
    try:
        yield path
    finally:
        path.chmod(0o700)
        shutil.rmtree(path)


def _open_as_unprivileged(data_dir: Path) -> str:
    prefix: list[str] = []
    if os.geteuid() == 0:
        # root ignores permission bits through CAP_DAC_OVERRIDE: drop every capability, as an
        # unprivileged service account would run.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without util-linux setpriv to drop capabilities")
        prefix = [setpriv, "--bounding-set=-all", "--inh-caps=-all"]
    done = subprocess.run(
        [*prefix, sys.executable, "-c", OPENER, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("child", [None, "data"], ids=["existing-dir", "missing-subdir"])
def test_unwritable_data_dir_is_a_config_error_naming_the_path(
    read_only_dir: Path, child: str | None
) -> None:
    data_dir = read_only_dir / child if child else read_only_dir
    line = _open_as_unprivileged(data_dir)
    assert line.startswith("ConfigError: ")
    assert str(data_dir) in line
    assert "Traceback" not in line


async def test_read_only_database_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    await store.aclose()
    (tmp_path / DB_FILE).chmod(0o444)
    line = _open_as_unprivileged(tmp_path)
    assert line == f"ConfigError: SQLite store file {tmp_path / DB_FILE} is not writable"


async def test_writes_wait_at_most_the_timeout_for_another_writer_and_reads_do_not(
    tmp_path: Path,
) -> None:
    store = await SqliteStore.open(tmp_path, busy_timeout=0.2)
    try:
        await store.put_secret(StoredSecret("alice", "s", "K", b"v"))
        other = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with anyio.fail_after(5):
                with pytest.raises(StoreUnavailable, match="locked"):
                    await store.put_secret(StoredSecret("alice", "s", "K2", b"v"))
                assert len(await store.get_secrets("alice", "s")) == 1
        finally:
            other.execute("ROLLBACK")
            other.close()
        await store.put_secret(StoredSecret("alice", "s", "K2", b"v"))
        assert await store.list_secret_names("alice", "s") == ["K", "K2"]
    finally:
        await store.aclose()


async def test_iter_all_secrets_pages_through_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_secrets, "_PAGE", 3)
    store = await SqliteStore.open(tmp_path)
    try:
        expected = {StoredSecret(f"u{i % 4}", f"s{i % 3}", f"n{i}", b"x") for i in range(11)}
        for secret in expected:
            await store.put_secret(secret)
        got = [s async for s in store.iter_all_secrets()]
        assert len(got) == 11
        assert set(got) == expected
    finally:
        await store.aclose()


async def test_secret_fetch_and_purge_are_primary_key_searches_not_scans(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    await store.aclose()
    with sqlite3.connect(tmp_path / DB_FILE) as raw:
        fetch = raw.execute(f"EXPLAIN QUERY PLAN {sqlite_secrets._GET_SECRETS}", ("u", "s"))
        assert [row[-1] for row in fetch.fetchall()] == [
            "SEARCH secrets USING PRIMARY KEY (server=? AND username=?)"
        ]
        purge = raw.execute("EXPLAIN QUERY PLAN DELETE FROM secrets WHERE server = ?", ("s",))
        assert [row[-1] for row in purge.fetchall()] == [
            "SEARCH secrets USING PRIMARY KEY (server=?)"
        ]


async def test_new_data_dir_and_store_files_are_private_to_the_owner(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "fresh")
    async with open_store(settings) as store:
        await store.put_secret(StoredSecret("alice", "srv", "k", b"\x01ciphertext"))
        data_dir = settings.store.data_dir
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in ("gateway.db", "gateway.db-wal", "gateway.db-shm"):
            mode = stat.S_IMODE((data_dir / name).stat().st_mode)
            assert mode & 0o077 == 0, (name, oct(mode))


def _old_event(i: int, username: str) -> AuditEvent:
    return AuditEvent(ts=float(i), request_id=f"r{i}", actor="k", role="service",
                      action="tool_call", username=username)  # fmt: skip


@pytest.mark.anyio
async def test_a_version_1_database_gains_the_audit_columns_without_a_backfill(
    tmp_path: Path,
) -> None:
    from mcp_gateway.storage.codec import to_json
    from mcp_gateway.storage.sqlite.db import DB_FILE
    from mcp_gateway.storage.sqlite.schema import CREATE_VERSION_TABLE, MIGRATIONS
    from mcp_gateway.storage.sqlite.store import SqliteStore

    with sqlite3.connect(tmp_path / DB_FILE) as raw:  # what a gateway before issue 15 wrote
        raw.execute(CREATE_VERSION_TABLE)
        for statement in MIGRATIONS[0]:
            raw.execute(statement)
        raw.execute("INSERT INTO schema_version VALUES (1, 0)")
        for event in (_old_event(1, "old-bob"), _old_event(2, "alice")):
            raw.execute("INSERT INTO audit (ts, doc) VALUES (?, ?)", (event.ts, to_json(event)))
    store = await SqliteStore.open(tmp_path)
    try:
        rows = await store.query_audit(AuditQuery(AuditFilter(username="old-bob")))
        assert [row.event.request_id for row in rows] == ["r1"]
    finally:
        await store.aclose()


async def test_a_version_1_sqlite_store_gains_the_runs_table_and_keeps_its_data(
    tmp_path: Path,
) -> None:
    with sqlite3.connect(tmp_path / DB_FILE) as raw:  # what a gateway before runs left behind
        raw.execute(CREATE_VERSION_TABLE)
        for statement in MIGRATIONS[0]:
            raw.execute(statement)
        raw.execute("INSERT INTO schema_version VALUES (1, 0)")
        raw.execute("INSERT INTO servers VALUES ('fx', ?)", (to_json(ServerConfig(name="fx")),))
    store = await SqliteStore.open(tmp_path)
    try:
        assert [s.name for s in await store.list_servers()] == ["fx"]
        await store.create_run(
            RunRecord("run_x", "k1", "service", "alice", "fx", "echo", "r1", 1.0)
        )
        assert await store.count_active_runs("k1", "alice") == 1
    finally:
        await store.aclose()


async def test_a_version_3_sqlite_store_gains_the_toolsets_table_and_keeps_its_data(
    tmp_path: Path,
) -> None:
    with sqlite3.connect(tmp_path / DB_FILE) as raw:  # what a gateway before toolsets wrote
        raw.execute(CREATE_VERSION_TABLE)
        for version, statements in enumerate(MIGRATIONS[:3], start=1):
            for statement in statements:
                raw.execute(statement)
            raw.execute("INSERT INTO schema_version VALUES (?, 0)", (version,))
        raw.execute("INSERT INTO servers VALUES ('fx', ?)", (to_json(ServerConfig(name="fx")),))
    store = await SqliteStore.open(tmp_path)
    try:
        assert [s.name for s in await store.list_servers()] == ["fx"]
        toolset = Toolset("t", tools=(ToolsetEntry("fx", "echo"),))
        await store.put_toolset(toolset)
        assert await store.list_toolsets() == [toolset]
    finally:
        await store.aclose()
