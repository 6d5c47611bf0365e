"""Key rotation on both real store backends (the ``store`` fixture: sqlite and mongodb)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from mcp_gateway.crypto.keyring import Keyring, key_id_of
from mcp_gateway.domain.records import StoredOAuthTokens, StoredSecret
from mcp_gateway.errors import StoreUnavailable
from mcp_gateway.services.key_rotation import rotate_keys
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio

KEY_A = secrets.token_bytes(32)
KEY_B = secrets.token_bytes(32)
ONLY_A = Keyring([("A", KEY_A)])
B_THEN_A = Keyring([("B", KEY_B), ("A", KEY_A)])
ONLY_B = Keyring([("B", KEY_B)])

USERS = ("alice", "bob@example.com", "default")
SERVERS = ("github", "brave")
NAMES = ("TOKEN", "API_KEY")
TOKEN_FIELDS = ("access_token", "refresh_token")


def _value(*parts: str) -> str:
    return "value-of-" + "/".join(parts)


async def _seed(store: Store, keyring: Keyring = ONLY_A) -> int:
    """Write 12 secrets and 3 token records (6 encrypted fields) under ``keyring``."""
    for user in USERS:
        for server in SERVERS:
            for name in NAMES:
                blob = keyring.encrypt_secret(user, server, name, _value(user, server, name))
                await store.put_secret(StoredSecret(user, server, name, blob, 1.0))
        fields = {
            f: keyring.encrypt_token(user, "gdrive", f, _value(user, "gdrive", f))
            for f in TOKEN_FIELDS
        }
        await store.put_tokens(
            StoredOAuthTokens(
                "gdrive", user, fields, expires_at=123.0, meta={"scope": "drive"}, updated_at=2.0
            )
        )
    return len(USERS) * (len(SERVERS) * len(NAMES) + len(TOKEN_FIELDS))


async def _all_ciphertexts(store: Store) -> dict[tuple[str, ...], bytes]:
    out: dict[tuple[str, ...], bytes] = {}
    async for s in store.iter_all_secrets():
        out[("secret", s.username, s.server, s.name)] = s.ciphertext
    async for t in store.iter_all_tokens():
        for f, blob in t.fields.items():
            out[("token", t.username, t.server, f)] = blob
    return out


async def _assert_all_readable(store: Store, keyring: Keyring) -> None:
    blobs = await _all_ciphertexts(store)
    assert blobs
    for (kind, user, server, name), blob in blobs.items():
        decrypt = keyring.decrypt_secret if kind == "secret" else keyring.decrypt_token
        assert decrypt(user, server, name, blob) == _value(user, server, name)


async def test_rotation_rewraps_everything_under_the_new_primary(store: Store) -> None:
    total = await _seed(store)
    report = await rotate_keys(store, B_THEN_A)
    assert (report.rewrapped, report.already_current, report.failed) == (total, 0, [])
    assert report.ok and report.primary_key_id == "B"
    blobs = await _all_ciphertexts(store)
    assert len(blobs) == total
    assert {key_id_of(b) for b in blobs.values()} == {"B"}
    await _assert_all_readable(store, ONLY_B)  # key A is no longer needed
    tokens = await store.get_tokens("gdrive", "alice")
    assert tokens is not None
    assert (tokens.expires_at, tokens.meta, tokens.state) == (123.0, {"scope": "drive"}, "valid")


async def test_rerun_after_rotation_changes_nothing(store: Store) -> None:
    total = await _seed(store)
    await rotate_keys(store, B_THEN_A)
    before = await _all_ciphertexts(store)
    report = await rotate_keys(store, B_THEN_A)
    assert (report.rewrapped, report.already_current, report.failed) == (0, total, [])
    assert await _all_ciphertexts(store) == before


class _DiesAfter:
    """Delegates to a real store; the n-th compare-and-swap raises like a lost connection."""

    def __init__(self, store: Store, writes: int) -> None:
        self._store = store
        self._left = writes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _tick(self) -> None:
        if self._left == 0:
            raise StoreUnavailable("store connection lost (simulated interruption)")
        self._left -= 1

    async def replace_secret_ciphertext(self, *args: Any) -> bool:
        self._tick()
        return bool(await self._store.replace_secret_ciphertext(*args))

    async def replace_token_fields(self, *args: Any) -> bool:
        self._tick()
        return bool(await self._store.replace_token_fields(*args))


@pytest.mark.parametrize("writes_before_crash", [5, 13])  # mid-secrets, mid-tokens
async def test_interrupted_rotation_rerun_finishes_and_loses_nothing(
    store: Store, writes_before_crash: int
) -> None:
    total = await _seed(store)
    with pytest.raises(StoreUnavailable):
        await rotate_keys(_DiesAfter(store, writes_before_crash), B_THEN_A)  # type: ignore[arg-type]
    halfway = await _all_ciphertexts(store)
    ids = [key_id_of(b) for b in halfway.values()]
    assert "A" in ids and "B" in ids  # really half-done
    await _assert_all_readable(store, B_THEN_A)

    report = await rotate_keys(store, B_THEN_A)
    assert report.failed == []
    assert report.rewrapped + report.already_current == total
    assert report.already_current == ids.count("B")
    assert {key_id_of(b) for b in (await _all_ciphertexts(store)).values()} == {"B"}
    await _assert_all_readable(store, ONLY_B)


async def test_undecryptable_ciphertexts_are_reported_by_name_and_left_alone(
    store: Store,
) -> None:
    total = await _seed(store)
    stranger = Keyring([("X", secrets.token_bytes(32))])
    unknown = stranger.encrypt_secret("alice", "github", "UNKNOWN_KEY", "CANARY-unknown")
    tampered = bytearray(ONLY_A.encrypt_secret("alice", "github", "TAMPERED", "CANARY-tamper"))
    tampered[-1] ^= 1
    await store.put_secret(StoredSecret("alice", "github", "UNKNOWN_KEY", unknown))
    await store.put_secret(StoredSecret("alice", "github", "TAMPERED", bytes(tampered)))
    moved = ONLY_A.encrypt_token("bob@example.com", "gdrive", "access_token", "CANARY-moved")
    await store.put_tokens(StoredOAuthTokens("other", "alice", {"access_token": moved}))

    report = await rotate_keys(store, B_THEN_A)
    assert report.rewrapped == total
    assert sorted(line.split(":")[0] for line in report.failed) == [
        "oauth token alice/other/access_token",
        "secret alice/github/TAMPERED",
        "secret alice/github/UNKNOWN_KEY",
    ]
    assert "CANARY" not in " ".join(report.failed)
    blobs = await _all_ciphertexts(store)
    assert blobs[("secret", "alice", "github", "UNKNOWN_KEY")] == unknown
    assert blobs[("secret", "alice", "github", "TAMPERED")] == bytes(tampered)
    assert blobs[("token", "alice", "other", "access_token")] == moved


class _ConcurrentWriter:
    """Before the first compare-and-swap of each secret, a 'user' sets a new value."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.overwritten: set[tuple[str, str, str]] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def replace_secret_ciphertext(
        self, username: str, server: str, name: str, old: bytes, new: bytes
    ) -> bool:
        if (username, server, name) not in self.overwritten:
            self.overwritten.add((username, server, name))
            blob = B_THEN_A.encrypt_secret(username, server, name, "NEW " + name)
            await self._store.put_secret(StoredSecret(username, server, name, blob))
        return bool(await self._store.replace_secret_ciphertext(username, server, name, old, new))


async def test_concurrent_update_during_rotation_is_never_overwritten(store: Store) -> None:
    total = await _seed(store)
    writer = _ConcurrentWriter(store)
    report = await rotate_keys(writer, B_THEN_A)  # type: ignore[arg-type]
    secrets_count = len(USERS) * len(SERVERS) * len(NAMES)
    assert report.failed == []
    assert report.already_current == secrets_count  # every lost swap re-read a current value
    assert report.rewrapped == total - secrets_count
    async for s in store.iter_all_secrets():
        assert ONLY_B.decrypt_secret(s.username, s.server, s.name, s.ciphertext) == "NEW " + s.name
