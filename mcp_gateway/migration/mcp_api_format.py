"""mcp-api's own formats: its ``.env`` variables, its MongoDB location and its secret cipher.

mcp-api (MissionSquad, 1.11.x) encrypts every secret with AES-256-GCM under the raw 32 bytes of
SHA-256(UTF-8 ``SECRETS_KEY``), a random 12-byte IV, a 16-byte tag and no AAD, and stores
``hex(iv):hex(tag):hex(ciphertext)``. It keeps everything in one database (``MONGO_DBNAME``,
default ``mcp``); ``SECRETS_DBNAME`` (default ``secrets``) is the name of the secrets
*collection* in it (measured: ``/work/shared/reference/mcp-api-compat.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mcp_gateway.errors import ConfigError, CryptoError

MCP_API_DEFAULT_SECRETS_KEY = "secret"  # mcp-api's default when SECRETS_KEY is unset
IV_BYTES = 12
TAG_BYTES = 16


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


@dataclass(frozen=True, slots=True)
class McpApiEnv:
    """What the importer needs from mcp-api's ``.env``. ``repr`` hides the credentials."""

    uri: str = field(repr=False)
    database: str
    secrets_collection: str
    secrets_key: str = field(repr=False)
    default_key: bool = False  # SECRETS_KEY was unset: mcp-api used its default "secret"

    def __repr__(self) -> str:
        return f"McpApiEnv(database={self.database!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str | None], *, uri: str | None = None) -> McpApiEnv:
        """Build from mcp-api's variables (``uri`` overrides the MONGO_* connection).

        mcp-api's connection string is assumed to be ``mongodb://user:pass@host/`` with
        ``authSource=admin`` when a user is given (MongoDB's root users live there) and
        ``replicaSet`` when ``MONGO_REPLICASET`` is set. Raises ConfigError.
        """

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else None

        if uri is None:
            host = get("MONGO_HOST")
            if host is None:
                raise ConfigError("mcp-api's env file sets no MONGO_HOST (host:port)")
            params: list[str] = []
            auth = ""
            user = get("MONGO_USER")
            if user is not None:
                password = env.get("MONGO_PASS") or ""
                auth = f"{quote_plus(user)}:{quote_plus(password)}@"
                params.append("authSource=admin")
            replica_set = get("MONGO_REPLICASET")
            if replica_set is not None:
                params.append(f"replicaSet={quote_plus(replica_set)}")
            query = f"?{'&'.join(params)}" if params else ""
            uri = f"mongodb://{auth}{host}/{query}"
        key = env.get("SECRETS_KEY")
        return cls(
            uri=uri,
            database=get("MONGO_DBNAME") or "mcp",
            secrets_collection=get("SECRETS_DBNAME") or "secrets",
            secrets_key=key if key else MCP_API_DEFAULT_SECRETS_KEY,
            default_key=not key,
        )
