"""Where keys come from: MCPGW_SECRETS_KEYS, the SECRETS_KEY passphrase, the key file."""

from __future__ import annotations

import base64
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mcp_gateway.config import Settings, load_settings
from mcp_gateway.crypto.keyfile import add_primary_key, key_file_path, load_keyring
from mcp_gateway.crypto.keyring import format_key_line, parse_keys
from mcp_gateway.errors import ConfigError

CANARY = "CANARYzzQ"


def _b64(n: int) -> str:
    return base64.b64encode(secrets.token_bytes(n)).decode()


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"MCPGW_DATA_DIR": str(tmp_path / "data"), **env})


# --- MCPGW_SECRETS_KEYS and SECRETS_KEY ---------------------------------------------------


def test_env_keys_win_over_passphrase_and_key_file(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, MCPGW_SECRETS_KEYS=f"b:{_b64(32)},a:{_b64(32)}", SECRETS_KEY="p" * 40
    )
    kr = load_keyring(settings, mongodb=False)
    assert kr.key_ids == ("b", "a")
    assert not (tmp_path / "data").exists()  # no key file made


def test_passphrase_is_used_when_no_keys_and_works_in_mongodb_mode(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SECRETS_KEY="x" * 32, MCPGW_MONGODB_URI="mongodb://h:1")
    kr = load_keyring(settings)
    assert kr.primary_id == "pass"
    again = load_keyring(_settings(tmp_path, MCPGW_SECRETS_KEY="x" * 32), mongodb=True)
    blob = kr.encrypt_secret("u", "s", "n", "v")
    assert again.decrypt_secret("u", "s", "n", blob) == "v"


def test_short_passphrase_is_refused_naming_the_variable_not_the_value(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SECRETS_KEY=CANARY + "x" * 10)
    with pytest.raises(ConfigError) as info:
        load_keyring(settings, mongodb=False)
    assert "SECRETS_KEY" in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)


@pytest.mark.parametrize(
    "spec",
    [
        f"k1{CANARY}",  # no colon
        f"k1:{CANARY}!!",  # not base64
        f"bad id{CANARY}:{_b64(32)}",  # invalid key id
        f"k1:{base64.b64encode(CANARY.encode() + bytes(22)).decode()}",  # 31 bytes
        f"k1:{base64.b64encode(CANARY.encode() + bytes(24)).decode()}",  # 33 bytes
        f"k1:{_b64(32)},k1:{_b64(32)}{CANARY[:0]}",  # duplicate id
        " , ",  # empty
    ],
    ids=["no_colon", "bad_base64", "bad_id", "31_bytes", "33_bytes", "duplicate", "empty"],
)
def test_malformed_secrets_keys_is_config_error_without_the_value(
    tmp_path: Path, spec: str
) -> None:
    settings = _settings(tmp_path, MCPGW_SECRETS_KEYS=spec)
    with pytest.raises(ConfigError) as info:
        load_keyring(settings, mongodb=False)
    text = str(info.value) + repr(info.value)
    assert "MCPGW_SECRETS_KEYS" in text
    assert CANARY not in text
    for part in spec.replace(":", ",").split(","):
        if len(part.strip()) > 8:
            assert part.strip() not in text


def test_31_byte_key_error_says_how_long_it_was(tmp_path: Path) -> None:
    settings = _settings(tmp_path, MCPGW_SECRETS_KEYS=f"k:{_b64(31)}")
    with pytest.raises(ConfigError, match="exactly 32 bytes, got 31"):
        load_keyring(settings, mongodb=False)


def test_mongodb_mode_without_a_key_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, MCPGW_MONGODB_URI="mongodb://db.example:27017")
    with pytest.raises(ConfigError, match="MongoDB mode needs MCPGW_SECRETS_KEYS or SECRETS_KEY"):
        load_keyring(settings)
    assert not (tmp_path / "data").exists()
    with pytest.raises(ConfigError):
        load_keyring(_settings(tmp_path), mongodb=True)


# --- embedded key file --------------------------------------------------------------------


def test_key_file_is_created_0600_on_first_load_and_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = key_file_path(settings)
    first = load_keyring(settings, mongodb=False)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    blob = first.encrypt_secret("u", "s", "n", "value")
    second = load_keyring(settings, mongodb=False)
    assert second.key_ids == first.key_ids
    assert second.decrypt_secret("u", "s", "n", blob) == "value"
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["secrets.key"]  # no temp files left


def test_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = key_file_path(settings)
    path.parent.mkdir(parents=True)
    line = format_key_line("mine", secrets.token_bytes(32))
    path.write_text(f"# operator's file\n\n{line}\n")
    path.chmod(0o600)
    kr = load_keyring(settings, mongodb=False)
    assert kr.key_ids == ("mine",)
    assert path.read_text() == f"# operator's file\n\n{line}\n"


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    barrier = threading.Barrier(8)
    ids: list[tuple[str, ...]] = []

    def start() -> None:
        barrier.wait()
        ids.append(load_keyring(settings, mongodb=False).key_ids)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1


@contextmanager
def _unprivileged() -> Iterator[None]:
    """Root ignores file modes; drop the effective uid to 'nobody' around the check."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    # pytest's tmp_path is 0700 under root's dir; 'nobody' must be able to reach this one.
    path = Path(tempfile.mkdtemp(prefix="mcpgw-keyfile-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in sorted(path.rglob("*"), reverse=True):
            p.chmod(0o700)
        for p in sorted(path.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        path.rmdir()


def test_read_only_data_dir_is_config_error_naming_the_path(shared_tmp: Path) -> None:
    data = shared_tmp / "data"
    data.mkdir()
    data.chmod(0o555)
    settings = load_settings({"MCPGW_DATA_DIR": str(data)})
    with _unprivileged(), pytest.raises(ConfigError) as info:
        load_keyring(settings, mongodb=False)
    assert str(data / "secrets.key") in str(info.value)
    assert list(data.iterdir()) == []


def test_unreadable_key_file_is_config_error_naming_the_path(shared_tmp: Path) -> None:
    data = shared_tmp / "data"
    data.mkdir()
    path = data / "secrets.key"
    path.write_text(format_key_line("k", secrets.token_bytes(32)) + "\n")
    path.chmod(0o000)
    settings = load_settings({"MCPGW_DATA_DIR": str(data)})
    with _unprivileged(), pytest.raises(ConfigError, match="cannot read key file") as info:
        load_keyring(settings, mongodb=False)
    assert str(path) in str(info.value)


def test_key_file_that_is_a_directory_is_config_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key_file_path(settings).mkdir(parents=True)
    with pytest.raises(ConfigError, match="cannot read key file"):
        load_keyring(settings, mongodb=False)


def test_corrupt_key_file_is_config_error_naming_the_file_not_the_content(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    path = key_file_path(settings)
    path.parent.mkdir(parents=True)
    path.write_text(f"k:{CANARY}\n")
    with pytest.raises(ConfigError) as info:
        load_keyring(settings, mongodb=False)
    assert str(path) in str(info.value) and CANARY not in str(info.value)


def test_add_primary_key_prepends_and_keeps_old_keys(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    old = load_keyring(settings, mongodb=False)
    blob = old.encrypt_secret("u", "s", "n", "v")
    path = key_file_path(settings)
    new_id = add_primary_key(path, "k2")
    assert new_id == "k2"
    kr = load_keyring(settings, mongodb=False)
    assert kr.key_ids == ("k2", *old.key_ids)
    assert kr.decrypt_secret("u", "s", "n", blob) == "v"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="already exists"):
        add_primary_key(path, "k2")
    assert parse_keys(path.read_text().split("\n", 2)[2]).primary_id == "k2"


# --- the data dir -------------------------------------------------------------------------


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_key_file_creates_the_data_dir_0700_even_with_a_permissive_umask(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with _umask(0o022):
        load_keyring(settings, mongodb=False)
    assert stat.S_IMODE(settings.store.data_dir.stat().st_mode) == 0o700


@pytest.mark.anyio
async def test_first_start_leaves_the_data_dir_0700_when_the_key_file_comes_first(
    tmp_path: Path,
) -> None:
    """The runtime loads (creates) the key file before it opens the store."""
    from mcp_gateway.runtime import Runtime

    settings = _settings(tmp_path)
    assert not settings.store.data_dir.exists()
    with _umask(0o022):
        async with Runtime(settings, announce=lambda _msg: None, reconcile_packages=False):
            pass
    data_dir = settings.store.data_dir
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert {"secrets.key", "gateway.db", "admin-api-key"} <= {p.name for p in data_dir.iterdir()}
