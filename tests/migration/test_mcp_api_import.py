"""``mcp-gateway migrate mcp-api``: an mcp-api database (built in its exact format in a real
MongoDB-wire server) carried into both store backends, checked through the gateway itself."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from dotenv import dotenv_values
from pymongo import MongoClient

from mcp_gateway.api.app import create_app
from mcp_gateway.config import Settings
from mcp_gateway.crypto.keyfile import load_keyring
from mcp_gateway.domain.dcr_clients import registration_owner
from mcp_gateway.domain.servers import InjectAs
from mcp_gateway.errors import ConfigError, CryptoError
from mcp_gateway.migration.mcp_api_format import McpApiEnv, decrypt_mcp_api, mcp_api_key
from mcp_gateway.runtime import Runtime
from mcp_gateway.services.oauth.tokens import unseal
from mcp_gateway.storage.factory import open_store
from mcp_gateway.storage.ports import Store
from tests.api.conftest import Gateway
from tests.conftest import MakeSettings
from tests.migration import mcp_api_db
from tests.migration.mcp_api_db import CANARY, SECRETS_KEY, corrupted, mcp_api_encrypt

REPO = Path(__file__).resolve().parents[2]


def test_decrypts_values_made_like_mcp_api_and_refuses_tampered_ones() -> None:
    key = mcp_api_key(SECRETS_KEY)
    stored = mcp_api_encrypt(SECRETS_KEY, "héllo-canary")
    assert decrypt_mcp_api(key, stored) == "héllo-canary"
    for bad in (corrupted(stored), "zz:yy:xx", "abc", None, stored.replace(":", "", 1)):
        with pytest.raises(CryptoError) as caught:
            decrypt_mcp_api(key, bad)
        assert "canary" not in caught.value.message
    with pytest.raises(CryptoError):
        decrypt_mcp_api(mcp_api_key("another key"), stored)


def test_env_file_variables_are_read_with_mcp_api_defaults() -> None:
    env = McpApiEnv.from_env(
        {
            "MONGO_USER": "u",
            "MONGO_PASS": "p@ss:w/rd",
            "MONGO_HOST": "db:27017",
            "MONGO_REPLICASET": "rs0",
            "SECRETS_KEY": "k",
            "MONGO_DBNAME": "prod",
        }
    )
    assert (env.url, env.username, env.password, env.replica_set) == (
        "mongodb://db:27017",
        "u",
        "p@ss:w/rd",
        "rs0",
    )
    assert (env.database, env.secrets_collection, env.default_key) == ("prod", "secrets", False)
    assert "p@ss" not in repr(env) and "'k'" not in repr(env)
    # src/env.ts: `process.env.X || default`, so empty means the default too.
    bare = McpApiEnv.from_env({"MONGO_USER": "", "MONGO_HOST": "mongodb+srv://c.example.org"})
    assert (bare.url, bare.username, bare.password) == (
        "mongodb+srv://c.example.org",
        "root",
        "example",
    )
    assert (bare.database, bare.secrets_key, bare.default_key) == ("squad-test", "secret", True)
    with pytest.raises(ConfigError):
        McpApiEnv.from_env({"MONGO_HOST": "two words"})


@pytest.fixture
def source_db(mongodb_uri: str) -> Iterator[str]:
    """mcp-api's database, and a MongoDB user (with a password that needs escaping) that mcp-api
    would log in as."""
    name = f"mcpapi_src_{uuid.uuid4().hex[:10]}"
    mcp_api_db.build(mongodb_uri, name)
    client: MongoClient[dict[str, Any]]
    with MongoClient(mongodb_uri, serverSelectionTimeoutMS=2000) as client:
        client["admin"].command("createUser", f"{name}_user", pwd=SOURCE_PASSWORD, roles=["root"])
    yield name
    with MongoClient(mongodb_uri, serverSelectionTimeoutMS=2000) as client:
        client.drop_database(name)
        client["admin"].command("dropUser", f"{name}_user")


SOURCE_PASSWORD = "p@ss:w/rd%canary-8y8y"


def _env_lines(mongodb_uri: str, source_db: str, password: str = SOURCE_PASSWORD) -> str:
    return (
        f"MONGO_HOST={urlsplit(mongodb_uri).netloc}\nMONGO_USER={source_db}_user\n"
        f"MONGO_PASS='{password}'\nMONGO_DBNAME={source_db}\nSECRETS_KEY='{SECRETS_KEY}'\n"
        "SECRETS_DBNAME=secrets\n"
    )


def _cli_env(settings: Settings, backend: str, keys: str | None) -> dict[str, str]:
    """Only what the command needs: no host MCPGW_*/MONGO_*/SECRETS_* leak in."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    env["MCPGW_DATA_DIR"] = str(settings.store.data_dir)
    if backend == "mongodb":
        assert settings.store.mongodb_uri is not None and keys is not None
        env["MCPGW_MONGODB_URI"] = settings.store.mongodb_uri.get_secret_value()
        env["MCPGW_MONGODB_DB"] = settings.store.mongodb_db
        env["MCPGW_SECRETS_KEYS"] = keys
    return env


async def _migrate(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", "mcp_gateway", "migrate", "mcp-api", *args]
    done = await anyio.run_process(cmd, cwd=cwd, env=env, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def _snapshot(store: Store) -> dict[str, Any]:
    servers = await store.list_servers()
    return {
        "servers": servers,
        "secrets": sorted(
            [(s.username, s.server, s.name, s.ciphertext) async for s in store.iter_all_secrets()]
        ),
        "tokens": [(t.server, t.username, t.fields) async for t in store.iter_all_tokens()],
        "sessions": [
            await store.get_session(name, scope)
            for name in ("remote", "oauthsrv")
            for scope in ("", "alice", "bob")
        ],
        "packages": await store.list_packages(),
        "installs": await store.list_server_installs("oauthsrv"),
    }


def _entries(report: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {e["key"]: e for e in report["entries"] if e["kind"] == kind}


def _echo(resp: httpx2.Response) -> dict[str, str]:
    body = resp.json()
    assert body["success"] is True, body
    result: dict[str, str] = json.loads(body["data"]["content"][0]["text"])
    return result


async def _call_through_gateway(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """Start the gateway on the migrated store and call the fixture tool as alice and bob."""
    announced: list[str] = []
    runtime = Runtime(settings, announce=announced.append, reconcile_packages=False)
    app = create_app(runtime)
    transport = httpx2.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as client:
            gw = Gateway(runtime, client, announced, app)
            service = await gw.new_key("service")
            await gw.wait_status("fixture", "connected")
            alice = _echo(await gw.call(service, "fixture", "echo_args", username="alice"))
            bob = _echo(await gw.call(service, "fixture", "echo_args", username="bob"))
    return alice, bob


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["sqlite", "mongodb"])
async def test_migrate_carries_an_mcp_api_database_into_the_store_once_and_never_prints_secrets(
    backend: str,
    source_db: str,
    mongodb_uri: str,
    make_settings: MakeSettings,
    tmp_path: Path,
) -> None:
    keys = "k1:" + base64.b64encode(os.urandom(32)).decode() if backend == "mongodb" else None
    settings = make_settings(tmp_path, backend, secrets={"keys": keys} if keys else {})
    env_file = tmp_path / "mcp-api.env"
    env_file.write_text(_env_lines(mongodb_uri, source_db))
    env = _cli_env(settings, backend, keys)
    outputs: list[str] = []

    # 1. Dry run: a full report, nothing written (not even the embedded key file).
    rc, out, err = await _migrate(tmp_path, env, "--env-file", str(env_file), "--dry-run", "--json")
    outputs += [out, err]
    assert rc == 1, err  # the corrupt ciphertext is a failed entry
    dry = json.loads(out)
    assert dry["dryRun"] is True and dry["counts"]["create"] > 0
    assert not (settings.store.data_dir / "secrets.key").exists()
    if backend == "sqlite":  # not even the database file
        assert not settings.store.data_dir.exists()
    async with open_store(settings) as store:
        empty = await _snapshot(store)
    assert empty["servers"] == [] and empty["secrets"] == [] and empty["packages"] == []

    # 2. The real run.
    rc, out, err = await _migrate(tmp_path, env, "--env-file", str(env_file), "--json")
    outputs += [out, err]
    assert rc == 1, err
    report = json.loads(out)
    assert [(e["kind"], e["key"], e["action"]) for e in report["entries"]] == [
        (e["kind"], e["key"], e["action"]) for e in dry["entries"]
    ]
    servers = _entries(report, "server")
    assert {k: v["action"] for k, v in servers.items()} == {
        "fixture": "create",
        "remote": "create",
        "oauthsrv": "create",
        "bad/name": "not_carried",
    }
    secrets = _entries(report, "secret")
    assert secrets["alice fixture.token"]["action"] == "create"
    assert secrets["alice fixture.api_key"]["action"] == "create"
    assert secrets["bob fixture.token"]["action"] == "create"
    assert secrets["alice BARE_KEY"]["action"] == "not_carried"
    assert secrets["alice ghost.TOKEN"]["action"] == "not_carried"
    assert secrets["alice fixture.extra"]["action"] == "failed"
    assert "decrypt" in secrets["alice fixture.extra"]["reason"]
    assert _entries(report, "oauth_tokens")["alice oauthsrv"]["action"] == "create"
    sessions = _entries(report, "session")
    assert sessions["(shared) remote"]["action"] == "create"
    assert sessions["alice oauthsrv"]["action"] == "create"
    assert sessions["bob remote"]["action"] == "not_carried"
    packages = _entries(report, "package")
    assert packages["fixture"]["action"] == "create"
    assert "did not finish" in packages["@example/broken-mcp"]["reason"]
    installs = _entries(report, "user_install")
    assert installs["alice oauthsrv"]["action"] == "create"
    assert installs["alice oauthsrv"]["reason"] == "its OAuth client secret is now encrypted"
    assert next(iter(_entries(report, "dcr_client").values()))["action"] == "create"

    keyring = load_keyring(settings)
    async with open_store(settings) as store:
        # mcp-api's shared DCR client, under the key the gateway's registration looks up
        owner = registration_owner(
            "https://as.example.org", "https://api.example.org", "https://app.example.org/callback"
        )
        dcr = await store.get_tokens(owner, "")
        assert dcr is not None and dcr.meta["kind"] == "dcr_client"
        assert CANARY["dcr_secret"].encode() not in dcr.fields["client_secret"]
        carried = unseal(dcr, keyring)
        assert (
            carried.client_id,
            carried.client_secret,
            carried.auth_method,
            carried.expires_at,
        ) == (
            "dcr-client",
            CANARY["dcr_secret"],
            "client_secret_post",
            None,
        )
        first = await _snapshot(store)
        fixture = await store.get_server("fixture")
        assert fixture is not None
        assert (fixture.startup_timeout, fixture.call_timeout) == (20.0, 20.0)
        assert fixture.env == {"FIXTURE_MODE": "plain"} and fixture.enabled
        assert [(s.name, s.inject_as, s.required) for s in fixture.secrets] == [
            ("token", InjectAs.ARG, False),
            ("api_key", InjectAs.ARG, False),
        ]
        assert (fixture.reconnection.max_retries, fixture.reconnection.initial_delay) == (2, 1.0)
        # Metadata is typed (the same ServerMetadata the HTTP API reads and writes).
        assert fixture.metadata.display_name == "Fixture"
        assert fixture.metadata.created_at == datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()
        assert fixture.metadata.secret_fields[0].input_type == "password"
        assert fixture.reconnection.grow_factor == 1.5
        assert fixture.extra["reconnectionOptions"]["reconnectionDelayGrowFactor"] == 1.5
        remote = await store.get_server("remote")
        assert remote is not None and remote.enabled is False
        assert remote.headers == {"X-Team": "blue"} and remote.secrets[0].name == "legacy_key"
        oauthsrv = await store.get_server("oauthsrv")
        assert oauthsrv is not None and oauthsrv.oauth is not None
        assert oauthsrv.oauth.token_endpoint == "https://as.example.org/token"
        # Secrets decrypt (gateway keyring, AAD (username, server, name)) to the same plaintext.
        stored = {(s.username, s.name): s for s in await store.get_secrets("alice", "fixture")}
        assert set(stored) == {("alice", "token"), ("alice", "api_key")}
        blob = stored[("alice", "token")].ciphertext
        assert keyring.decrypt_secret("alice", "fixture", "token", blob) == CANARY["alice_token"]
        with pytest.raises(CryptoError):  # bound to its place: not usable as bob's
            keyring.decrypt_secret("bob", "fixture", "token", blob)
        record = await store.get_tokens("oauthsrv", "alice")
        assert record is not None
        tokens = unseal(record, keyring)
        assert (tokens.access_token, tokens.refresh_token) == (CANARY["access"], CANARY["refresh"])
        assert tokens.client_secret == CANARY["client_secret"]
        assert (tokens.client_id, tokens.auth_method) == ("client-123", "client_secret_post")
        assert tokens.scopes == ("read", "write") and tokens.expires_at == 1798761600.0
        # mcp-api's install, its plaintext client secret now encrypted (token AAD)
        install = await store.get_install("oauthsrv", "alice")
        assert install is not None and install.client_secret is not None
        assert (install.enabled, install.client_id, install.scopes) == (
            True,
            "client-123",
            ("read",),
        )
        assert CANARY["install_secret"].encode() not in install.client_secret
        assert (
            keyring.decrypt_token(
                "alice", "oauthsrv", "install_client_secret", install.client_secret
            )
            == CANARY["install_secret"]
        )
        shared = await store.get_session("remote", "")
        assert shared is not None and shared.session_id == "shared-session-0001"
        package = await store.get_package("fixture")
        assert package is not None and package.name == "@example/fixture-mcp"
        assert package.install_dir == "" and package.requested_version == "latest"
        assert (package.command, package.args) == (fixture.command, fixture.args)

    # 3. A second run changes nothing.
    rc, out, err = await _migrate(tmp_path, env, "--env-file", str(env_file))
    outputs += [out, err]
    assert rc == 1, err
    assert "create " not in out and "unchanged" in out
    async with open_store(settings) as store:
        assert await _snapshot(store) == first

    # 4. The gateway injects them where mcp-api did: <server>.<NAME> into that server as NAME.
    alice, bob = await _call_through_gateway(settings)
    assert (alice["token"], alice["api_key"]) == (CANARY["alice_token"], CANARY["alice_api_key"])
    assert (bob["token"], bob["api_key"]) == (CANARY["bob_token"], "")

    text = "\n".join(outputs)
    for canary in [*CANARY.values(), SOURCE_PASSWORD]:
        assert canary not in text


@pytest.mark.anyio
async def test_rerun_keeps_what_the_gateway_changed_since_and_reports_a_conflict(
    source_db: str,
    mongodb_uri: str,
    sqlite_store: Store,
    make_settings: MakeSettings,
    tmp_path: Path,
) -> None:
    from mcp_gateway.migration.mcp_api import McpApiImport
    from mcp_gateway.storage.mongo.mcp_api_source import McpApiMongoSource

    lines = _env_lines(mongodb_uri, source_db)
    env = McpApiEnv.from_env(dotenv_values(stream=io.StringIO(lines)))
    keyring = load_keyring(make_settings(tmp_path))
    source = McpApiMongoSource(env.url, env.database, username=env.username, password=env.password)
    try:
        await McpApiImport(source, env, sqlite_store, keyring).run()
        changed = keyring.encrypt_secret("alice", "fixture", "token", "rotated-by-operator")
        old = (await sqlite_store.get_secrets("alice", "fixture"))[0]
        await sqlite_store.put_secret(type(old)("alice", "fixture", "token", changed, 1.0))
        report = await McpApiImport(source, env, sqlite_store, keyring).run()
    finally:
        await source.aclose()
    entry = _entries(report.to_json(), "secret")["alice fixture.token"]
    assert entry["action"] == "conflict" and "kept" in entry["reason"]
    kept = {s.name: s for s in await sqlite_store.get_secrets("alice", "fixture")}["token"]
    assert keyring.decrypt_secret("alice", "fixture", "token", kept.ciphertext) == (
        "rotated-by-operator"
    )
    assert report.counts()["create"] == 0


@pytest.mark.anyio
async def test_unreachable_mcp_api_database_is_one_line_exit_2_without_the_password(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    env_file = tmp_path / "mcp-api.env"
    env_file.write_text("MONGO_HOST=127.0.0.1:1\nMONGO_USER=root\nMONGO_PASS=pw-canary-9z9z\n")
    env = _cli_env(settings, "sqlite", None) | {"MCPGW_STORE_TIMEOUT": "0.5"}
    rc, out, err = await _migrate(tmp_path, env, "--env-file", str(env_file))
    assert rc == 2 and out == ""
    assert err.startswith("mcp-gateway: MongoDB unreachable") and err.count("\n") == 1
    assert "pw-canary-9z9z" not in err and "Traceback" not in err
    rc, _, err = await _migrate(tmp_path, env, "--env-file", str(tmp_path / "missing.env"))
    assert rc == 2 and "does not exist" in err


@pytest.mark.anyio
async def test_wrong_mcp_api_password_is_exit_2_naming_the_variables_not_the_value(
    source_db: str, mongodb_uri: str, make_settings: MakeSettings, tmp_path: Path
) -> None:
    env_file = tmp_path / "mcp-api.env"
    env_file.write_text(_env_lines(mongodb_uri, source_db, password="wrong-canary-5x5x"))
    env = _cli_env(make_settings(tmp_path), "sqlite", None)
    rc, out, err = await _migrate(tmp_path, env, "--env-file", str(env_file))
    assert rc == 2 and out == "" and "MONGO_USER/MONGO_PASS" in err
    assert "wrong-canary-5x5x" not in err and "Traceback" not in err


def _dump(uri: str, database: str) -> dict[str, list[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri, serverSelectionTimeoutMS=2000) as client:
        db = client[database]
        return {
            name: [*db[name].find({}).sort("_id", 1)]
            + [{"indexes": sorted(db[name].index_information())}]
            for name in sorted(db.list_collection_names())
        }


@pytest.mark.anyio
async def test_migrating_into_mcp_api_own_database_changes_none_of_its_collections(
    source_db: str, mongodb_uri: str, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    env_file = tmp_path / "mcp-api.env"
    env_file.write_text(_env_lines(mongodb_uri, source_db))
    env = _cli_env(settings, "sqlite", None) | {
        "MCPGW_MONGODB_URI": mongodb_uri,
        "MCPGW_MONGODB_DB": source_db,
        "MCPGW_SECRETS_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
    }
    before = _dump(mongodb_uri, source_db)
    rc, out, err = await _migrate(tmp_path, env, "--env-file", str(env_file), "--json")
    assert rc == 1, err  # the source's one corrupt ciphertext is a failed entry
    assert json.loads(out)["counts"]["create"] > 0
    after = _dump(mongodb_uri, source_db)
    assert {k: v for k, v in after.items() if not k.startswith("mcpgw_")} == before
    assert {"mcpgw_servers", "mcpgw_secrets", "mcpgw_packages"} <= set(after)
    # A second run finds everything in place.
    rc, out, err = await _migrate(tmp_path, env, "--env-file", str(env_file), "--json")
    assert json.loads(out)["counts"].get("create", 0) == 0, out
