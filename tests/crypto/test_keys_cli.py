"""``mcp-gateway keys generate`` and ``keys rotate`` through the real typer sub-app."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from pathlib import Path

import anyio
import pytest
from click.testing import Result
from typer.testing import CliRunner

from mcp_gateway.cli.keys import keys_app
from mcp_gateway.config import load_settings
from mcp_gateway.crypto.keyfile import key_file_path, load_keyring, read_key_file
from mcp_gateway.crypto.keyring import Keyring, key_id_of, parse_keys
from mcp_gateway.domain.records import StoredSecret
from mcp_gateway.storage.factory import open_store

# Settings that would change which keyring or store the CLI picks: cleared for every run.
_CLEARED = (
    "MCPGW_SECRETS_KEYS",
    "MCPGW_SECRETS_KEY",
    "SECRETS_KEY",
    "MCPGW_MONGODB_URI",
    "MONGO_HOST",
    "MONGO_USER",
    "MONGO_PASS",
    "MONGO_DBNAME",
    "MCPGW_MONGODB_DB",
)


def _env(data_dir: Path, **extra: str) -> dict[str, str | None]:
    env: dict[str, str | None] = dict.fromkeys(_CLEARED)
    env["MCPGW_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def _run(args: list[str], env: Mapping[str, str | None]) -> Result:
    return CliRunner(env=env).invoke(keys_app, args)


def _seed(data_dir: Path, keyring: Keyring, names: list[str]) -> None:
    settings = load_settings({"MCPGW_DATA_DIR": str(data_dir)})

    async def put() -> None:
        async with open_store(settings) as store:
            for name in names:
                blob = keyring.encrypt_secret("alice", "github", name, "v-" + name)
                await store.put_secret(StoredSecret("alice", "github", name, blob))

    anyio.run(put)


def _ciphertexts(data_dir: Path) -> dict[str, bytes]:
    settings = load_settings({"MCPGW_DATA_DIR": str(data_dir)})

    async def read() -> dict[str, bytes]:
        async with open_store(settings) as store:
            return {s.name: s.ciphertext async for s in store.iter_all_secrets()}

    return anyio.run(read)


def test_generate_prints_a_line_the_keyring_accepts() -> None:
    result = _run(["generate"], {})
    assert result.exit_code == 0
    line = result.stdout.strip()
    kr = parse_keys(line)
    assert kr.primary_id == line.split(":")[0]
    assert len(base64.b64decode(line.split(":")[1])) == 32
    assert _run(["generate"], {}).stdout.strip() != line


def test_generate_with_explicit_id_and_bad_id() -> None:
    assert parse_keys(_run(["generate", "--id", "k2"], {}).stdout).primary_id == "k2"
    bad = _run(["generate", "--id", "no spaces"], {})
    assert bad.exit_code == 2
    assert "invalid key id" in bad.stderr and "Traceback" not in bad.output


def test_rotate_new_key_in_embedded_mode_rewraps_under_the_new_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = load_settings({"MCPGW_DATA_DIR": str(data)})
    old = load_keyring(settings, mongodb=False)  # creates the key file
    _seed(data, old, ["A", "B", "C"])

    result = _run(["rotate", "--new-key"], _env(data))
    assert result.exit_code == 0, result.output
    assert "3 rewrapped, 0 already current, 0 failed" in result.stdout
    kr = read_key_file(key_file_path(settings))
    assert kr.key_ids[1:] == old.key_ids and kr.primary_id in result.stdout
    blobs = _ciphertexts(data)
    assert {key_id_of(b) for b in blobs.values()} == {kr.primary_id}
    new_only = Keyring([(kr.primary_id, _key_bytes(key_file_path(settings), kr.primary_id))])
    assert {n: new_only.decrypt_secret("alice", "github", n, b) for n, b in blobs.items()} == {
        "A": "v-A",
        "B": "v-B",
        "C": "v-C",
    }


def _key_bytes(path: Path, key_id: str) -> bytes:
    for line in path.read_text().splitlines():
        if line.startswith(key_id + ":"):
            return base64.b64decode(line.split(":", 1)[1])
    raise AssertionError(key_id)


def test_rotate_with_env_keys_moves_to_the_first_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = ("a", secrets.token_bytes(32))
    b = ("b", secrets.token_bytes(32))
    _seed(data, Keyring([a]), ["X"])
    spec = ",".join(f"{i}:{base64.b64encode(k).decode()}" for i, k in (b, a))
    result = _run(["rotate"], _env(data, MCPGW_SECRETS_KEYS=spec))
    assert result.exit_code == 0, result.output
    assert key_id_of(_ciphertexts(data)["X"]) == "b"


def test_rotate_exits_1_when_a_ciphertext_cannot_be_decrypted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = ("a", secrets.token_bytes(32))
    _seed(data, Keyring([("gone", secrets.token_bytes(32))]), ["LOST"])
    _seed(data, Keyring([key]), ["OK"])
    spec = (
        f"b:{base64.b64encode(secrets.token_bytes(32)).decode()},a:"
        + base64.b64encode(key[1]).decode()
    )
    result = _run(["rotate"], _env(data, MCPGW_SECRETS_KEYS=spec))
    assert result.exit_code == 1
    assert "1 rewrapped" in result.stdout
    assert "secret alice/github/LOST" in result.stderr and "'gone'" in result.stderr


@pytest.mark.parametrize(
    ("args", "extra", "needle"),
    [
        (["rotate"], {"MCPGW_SECRETS_KEYS": "k:CANARYshort"}, "MCPGW_SECRETS_KEYS"),
        (["rotate"], {"MCPGW_MONGODB_URI": "mongodb://127.0.0.1:1"}, "MongoDB mode needs"),
        (["rotate", "--new-key"], {"SECRETS_KEY": "CANARY" + "x" * 40}, "--new-key only works"),
    ],
    ids=["bad_keys", "mongodb_without_key", "new_key_with_passphrase"],
)
def test_rotate_config_errors_exit_2_with_one_line(
    tmp_path: Path, args: list[str], extra: dict[str, str], needle: str
) -> None:
    result = _run(args, _env(tmp_path / "data", **extra))
    assert result.exit_code == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output and "CANARY" not in result.output
    assert not (tmp_path / "data" / "secrets.key").exists()
