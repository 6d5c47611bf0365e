"""API keys: random, stored as a hash (verified by the service: tests/services/test_apikeys.py)."""

from __future__ import annotations

import re

from mcp_gateway.crypto.apikeys import generate_api_key, hash_api_key, key_prefix


def test_generated_keys_are_prefixed_urlsafe_and_unique() -> None:
    keys = {generate_api_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert re.fullmatch(r"mcpgw_[A-Za-z0-9_-]{43}", key)


def test_hash_is_sha256_hex_and_differs_from_key() -> None:
    key = generate_api_key()
    digest = hash_api_key(key)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert key not in digest
    assert hash_api_key(key) == digest
    assert hash_api_key(generate_api_key()) != digest


def test_prefix_is_short_and_identifies_the_key_start() -> None:
    key = generate_api_key()
    assert key_prefix(key) == key[:12] and key_prefix(key).startswith("mcpgw_")
