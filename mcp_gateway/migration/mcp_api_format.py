"""mcp-api's own formats: its ``.env`` variables, its MongoDB location and its secret cipher.

mcp-api (MissionSquad, 1.11.x) encrypts every secret with AES-256-GCM under the raw 32 bytes of
SHA-256(UTF-8 ``SECRETS_KEY``), a random 12-byte IV, a 16-byte tag and no AAD, and stores
``hex(iv):hex(tag):hex(ciphertext)``. It keeps everything in one database (``MONGO_DBNAME``,
default ``squad-test``); ``SECRETS_DBNAME`` (default ``secrets``) is the name of the secrets
*collection* in it (``mcp-api-compat.md`` in the shared reference, and mcp-api's
``src/utils/secretEncryptor.ts``, ``src/env.ts``, ``src/index.ts``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mcp_gateway.config import mcp_api_mongo_url
from mcp_gateway.errors import ConfigError, CryptoError

MCP_API_DEFAULT_SECRETS_KEY = "secret"  # mcp-api's default when SECRETS_KEY is unset
IV_BYTES = 12
TAG_BYTES = 16


# mcp-api's ``tokenEndpointAuthMethod`` values (``SupportedTokenEndpointAuthMethod``).
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")


def text_field(doc: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string field of an mcp-api document, else None (mcp-api stores unset
    optional fields as BSON null)."""
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


def mcp_api_key(passphrase: str) -> bytes:
    """mcp-api's AES key: SHA-256 of the passphrase, used raw (no KDF, no salt)."""
    return hashlib.sha256(passphrase.encode("utf-8")).digest()


def decrypt_mcp_api(key: bytes, stored: object) -> str:
    """Decrypt one mcp-api ciphertext. Raises CryptoError (never quoting the value)."""
    if not isinstance(stored, str):
        raise CryptoError(f"not an mcp-api ciphertext (a {type(stored).__name__}, not text)")
    parts = stored.split(":")
    if len(parts) != 3:
        raise CryptoError("not an mcp-api ciphertext (expected hex(iv):hex(tag):hex(data))")
    try:
        iv, tag, data = (bytes.fromhex(p) for p in parts)
    except ValueError as exc:
        raise CryptoError("not an mcp-api ciphertext (a part is not hex)") from exc
    if len(iv) != IV_BYTES or len(tag) != TAG_BYTES:
        raise CryptoError("not an mcp-api ciphertext (wrong IV or tag length)")
    try:
        plain = AESGCM(key).decrypt(iv, data + tag, None)
    except InvalidTag as exc:
        raise CryptoError("cannot decrypt: corrupt, or made with another SECRETS_KEY") from exc
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CryptoError("decrypted value is not UTF-8 text") from exc


# mcp-api's defaults (its src/env.ts: every variable read as ``process.env.X || default``, so
# an empty value means the default too).
DEFAULTS = {
    "MONGO_USER": "root",
    "MONGO_PASS": "example",
    "MONGO_HOST": "localhost:27017",
    "MONGO_DBNAME": "squad-test",
    "SECRETS_KEY": MCP_API_DEFAULT_SECRETS_KEY,
    "SECRETS_DBNAME": "secrets",
}


@dataclass(frozen=True, slots=True)
class McpApiEnv:
    """How mcp-api connects, from its ``.env``: ``new MongoClient(url, {auth: {username,
    password}, replicaSet})`` with ``url`` = ``MONGO_HOST`` when it holds ``://``, else
    ``mongodb://`` + ``MONGO_HOST`` (so the driver authenticates against ``admin`` unless the
    URL names another source). Credentials never appear in ``repr``."""

    url: str = field(repr=False)
    username: str = field(repr=False)
    password: str = field(repr=False)
    replica_set: str | None
    database: str
    secrets_collection: str
    secrets_key: str = field(repr=False)
    default_key: bool = False  # SECRETS_KEY was unset: mcp-api used its default "secret"

    def __repr__(self) -> str:
        return f"McpApiEnv(database={self.database!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str | None]) -> McpApiEnv:
        """Read mcp-api's variables with mcp-api's defaults. Raises ConfigError."""

        def get(name: str) -> str:
            value = env.get(name)
            return value if value else DEFAULTS[name]

        host = get("MONGO_HOST").strip()
        if not host or any(c.isspace() for c in host):
            raise ConfigError("MONGO_HOST in mcp-api's env file is not a host:port or URL")
        return cls(
            url=mcp_api_mongo_url(host),
            username=get("MONGO_USER"),
            password=get("MONGO_PASS"),
            replica_set=env.get("MONGO_REPLICASET") or None,
            database=get("MONGO_DBNAME"),
            secrets_collection=get("SECRETS_DBNAME"),
            secrets_key=get("SECRETS_KEY"),
            default_key=not env.get("SECRETS_KEY"),
        )
