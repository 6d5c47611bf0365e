"""AES-256-GCM keyring: AAD binding, tamper detection, nonces, format stability."""

from __future__ import annotations

import base64
import json
import pickle
import secrets
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from mcp_gateway.crypto.keyring import (
    NONCE_SIZE,
    Keyring,
    derive_passphrase_key,
    key_id_of,
    keyring_from_passphrase,
    parse_key_line,
    parse_keys,
    secret_aad,
    token_aad,
)
from mcp_gateway.errors import CryptoError

GOLDEN = json.loads((Path(__file__).parent / "golden.json").read_text(encoding="utf-8"))


def _keyring(key_id: str = "a") -> Keyring:
    return Keyring([(key_id, secrets.token_bytes(32))])


def test_secret_round_trips() -> None:
    kr = _keyring()
    blob = kr.encrypt_secret("alice", "github", "TOKEN", "ghp_value ✓")
    assert kr.decrypt_secret("alice", "github", "TOKEN", blob) == "ghp_value ✓"
    assert b"ghp_value" not in blob


@pytest.mark.parametrize(
    "place",
    [("bob", "github", "TOKEN"), ("alice", "gitlab", "TOKEN"), ("alice", "github", "OTHER")],
    ids=["other_user", "other_server", "other_name"],
)
def test_ciphertext_moved_to_other_place_fails_to_decrypt(place: tuple[str, str, str]) -> None:
    kr = _keyring()
    blob = kr.encrypt_secret("alice", "github", "TOKEN", "v")
    with pytest.raises(CryptoError, match="decryption failed"):
        kr.decrypt_secret(*place, blob)


def test_token_ciphertext_moved_to_other_field_fails() -> None:
    kr = _keyring()
    blob = kr.encrypt_token("alice", "gdrive", "access_token", "t")
    with pytest.raises(CryptoError):
        kr.decrypt_token("alice", "gdrive", "refresh_token", blob)


def test_secret_ciphertext_cannot_be_read_as_token_with_same_fields() -> None:
    kr = _keyring()
    blob = kr.encrypt_secret("alice", "gdrive", "access_token", "t")
    assert secret_aad("alice", "gdrive", "access_token") != token_aad(
        "alice", "gdrive", "access_token"
    )
    with pytest.raises(CryptoError):
        kr.decrypt_token("alice", "gdrive", "access_token", blob)


def test_aad_fields_are_length_prefixed_so_shifted_boundaries_differ() -> None:
    assert secret_aad("ab", "c", "d") != secret_aad("a", "bc", "d")
    assert secret_aad("a", "b\x00", "c") != secret_aad("a", "b", "\x00c")
    kr = _keyring()
    blob = kr.encrypt_secret("ab", "c", "d", "v")
    with pytest.raises(CryptoError):
        kr.decrypt_secret("a", "bc", "d", blob)


def _flip(blob: bytes, index: int) -> bytes:
    out = bytearray(blob)
    out[index] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("region", ["nonce", "ciphertext", "tag"])
def test_flipped_bit_fails_to_decrypt(region: str) -> None:
    kr = _keyring("k1")
    blob = kr.encrypt(b"some plaintext", b"aad")
    header = 2 + len("k1")
    index = {"nonce": header + 3, "ciphertext": header + NONCE_SIZE + 2, "tag": len(blob) - 1}
    with pytest.raises(CryptoError, match="decryption failed"):
        kr.decrypt(_flip(blob, index[region]), b"aad")


def test_relabelled_key_id_fails_even_when_both_keys_are_known() -> None:
    key = secrets.token_bytes(32)
    kr = Keyring([("k1", key), ("k2", key)])  # same key under two ids
    blob = kr.encrypt(b"x", b"aad")
    relabelled = blob[:3] + b"2" + blob[4:]
    assert key_id_of(relabelled) == "k2"
    with pytest.raises(CryptoError, match="decryption failed"):
        kr.decrypt(relabelled, b"aad")


def test_wrong_key_with_same_id_fails_with_crypto_error() -> None:
    blob = _keyring("k1").encrypt(b"x", b"aad")
    with pytest.raises(CryptoError, match="wrong key"):
        _keyring("k1").decrypt(blob, b"aad")


def test_unknown_key_id_fails_naming_the_key_id() -> None:
    blob = _keyring("old").encrypt(b"x", b"aad")
    with pytest.raises(CryptoError, match="'old', which is not in the keyring"):
        _keyring("new").decrypt(blob, b"aad")


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x01", b"\x02\x01a" + bytes(40), b"\x01\x05ab" + bytes(8), b"\x01\x01!" + bytes(40)],
)
def test_malformed_or_unsupported_blob_fails_with_format_error(blob: bytes) -> None:
    with pytest.raises(CryptoError, match="unsupported ciphertext format"):
        _keyring().decrypt(blob, b"")


def test_error_messages_never_contain_plaintext_or_key() -> None:
    key = secrets.token_bytes(32)
    kr = Keyring([("k", key)])
    blob = kr.encrypt(b"PLAINTEXT-CANARY", b"aad")
    with pytest.raises(CryptoError) as info:
        kr.decrypt(_flip(blob, len(blob) - 1), b"aad")
    text = str(info.value) + repr(info.value)
    assert "PLAINTEXT-CANARY" not in text
    assert base64.b64encode(key).decode() not in text and key.hex() not in text


def test_primary_encrypts_and_older_keys_still_decrypt() -> None:
    old_key, new_key = secrets.token_bytes(32), secrets.token_bytes(32)
    old = Keyring([("A", old_key)])
    both = Keyring([("B", new_key), ("A", old_key)])
    blob_a = old.encrypt(b"v", b"aad")
    assert both.primary_id == "B" and both.key_ids == ("B", "A")
    assert both.decrypt(blob_a, b"aad") == b"v"
    assert not both.is_current(blob_a)
    blob_b = both.encrypt(b"v", b"aad")
    assert key_id_of(blob_b) == "B" and both.is_current(blob_b)


def test_repr_and_pickle_do_not_expose_keys() -> None:
    key = secrets.token_bytes(32)
    kr = Keyring([("main", key)])
    assert repr(kr) == "Keyring(primary='main', key_ids=['main'])"
    with pytest.raises(TypeError):
        pickle.dumps(kr)


@pytest.mark.anyio
async def test_1000_concurrent_encryptions_use_1000_distinct_nonces() -> None:
    kr = _keyring("k")
    header = 2 + 1
    blobs: list[bytes] = []

    def work() -> None:
        blobs.append(kr.encrypt(b"same plaintext", b"same aad"))

    limiter = anyio.CapacityLimiter(32)
    async with anyio.create_task_group() as tg:
        for _ in range(1000):
            tg.start_soon(lambda: anyio.to_thread.run_sync(work, limiter=limiter))
    nonces = {blob[header : header + NONCE_SIZE] for blob in blobs}
    assert len(blobs) == 1000
    assert len(nonces) == 1000
    assert len(set(blobs)) == 1000


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: c["kind"])
def test_golden_ciphertext_still_decrypts(case: dict[str, str]) -> None:
    if case["kind"] == "passphrase-secret":
        kr = keyring_from_passphrase(GOLDEN["passphrase"])
    else:
        kr = Keyring([parse_key_line(GOLDEN["key_line"])])
    blob = base64.b64decode(case["ciphertext_b64"])
    args = (case["username"], case["server"], case["name"], blob)
    decrypt = kr.decrypt_token if case["kind"] == "token" else kr.decrypt_secret
    assert decrypt(*args) == case["plaintext"]


def test_passphrase_derivation_is_deterministic_and_matches_golden() -> None:
    phrase = GOLDEN["passphrase"]
    assert derive_passphrase_key(phrase) == derive_passphrase_key(phrase)
    assert base64.b64encode(derive_passphrase_key(phrase)).decode() == GOLDEN["passphrase_key_b64"]
    assert derive_passphrase_key(phrase + "x") != derive_passphrase_key(phrase)
    assert keyring_from_passphrase(phrase).primary_id == "pass"


def test_parse_keys_orders_primary_first() -> None:
    a, b = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(2))
    kr = parse_keys(f" new:{b} , old:{a} ")
    assert kr.key_ids == ("new", "old")
    urlsafe = base64.urlsafe_b64encode(b"\xff" * 32).decode()
    assert parse_keys(f"u:{urlsafe}").primary_id == "u"
