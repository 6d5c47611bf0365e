"""API keys: generation and hashing for storage.

Keys carry 256 bits from :mod:`secrets`, so a plain SHA-256 is the right storage hash: there is
nothing to brute-force, and a slow password hash (bcrypt, scrypt) would only cost latency on
every request. The store keeps the hex digest and a short non-secret prefix.
"""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "mcpgw_"
_RANDOM_BYTES = 32  # -> 43 urlsafe base64 characters
PREFIX_LEN = len(API_KEY_PREFIX) + 6  # what operators see in listings: "mcpgw_AbC123"


def generate_api_key() -> str:
    """A new key: ``mcpgw_`` + 43 urlsafe characters (256 random bits). Show it once."""
    return API_KEY_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def hash_api_key(key: str) -> str:
    """SHA-256 hex digest of ``key``: what the store keeps and looks keys up by."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    """The first characters of a key, safe to display (they carry ~36 of its 256 bits)."""
    return key[:PREFIX_LEN]
