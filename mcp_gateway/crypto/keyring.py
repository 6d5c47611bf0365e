"""AES-256-GCM keyring: encrypt and decrypt secrets bound to their place by AAD.

Ciphertext format (version 1), self-describing so any key of the keyring can open it::

    0x01 | len(key_id) (1 byte) | key_id (ASCII) | nonce (12 bytes) | ciphertext + 16-byte tag

The header (version, key id) is authenticated too: it is prepended to the caller's AAD, so a
ciphertext relabelled with another key id fails like a tampered one.

AAD binds a ciphertext to where it is stored (see :func:`secret_aad`, :func:`token_aad`): each
field is length-prefixed and led by a domain tag, so no secret AAD can equal a token AAD and no
two different (username, server, name) triples share an encoding.

Keys come from ``MCPGW_SECRETS_KEYS`` (``id:base64key,...``, first is primary, see
:func:`parse_keys`) or from mcp-api's ``SECRETS_KEY`` passphrase (see
:func:`keyring_from_passphrase`). The embedded key file lives in :mod:`.keyfile`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mcp_gateway.errors import ConfigError, CryptoError

FORMAT_VERSION = 1
KEY_SIZE = 32  # AES-256
NONCE_SIZE = 12  # 96-bit, random per encryption
TAG_SIZE = 16
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

KEYS_VAR = "MCPGW_SECRETS_KEYS"
PASSPHRASE_VAR = "MCPGW_SECRETS_KEY (or SECRETS_KEY)"
PASSPHRASE_MIN_LEN = 32
PASSPHRASE_KEY_ID = "pass"
# Fixed, documented HKDF parameters: changing either changes every derived key.
PASSPHRASE_SALT = b"mcp-gateway/secrets-key/v1"
PASSPHRASE_INFO = b"mcp-gateway aes-256-gcm secrets key"

_SECRET_DOMAIN = b"mcpgw:secret:v1"
_TOKEN_DOMAIN = b"mcpgw:oauth-token:v1"


def _encode_fields(domain: bytes, *fields: str) -> bytes:
    out = bytearray()
    for part in (domain, *(f.encode("utf-8") for f in fields)):
        out += len(part).to_bytes(4, "big")
        out += part
    return bytes(out)


def secret_aad(username: str, server: str, name: str) -> bytes:
    """AAD binding a stored secret to (username, server, secret name)."""
    return _encode_fields(_SECRET_DOMAIN, username, server, name)


def token_aad(username: str, server: str, field: str) -> bytes:
    """AAD binding an OAuth token field (access_token, ...) to (username, server, field)."""
    return _encode_fields(_TOKEN_DOMAIN, username, server, field)


def _validate_key_id(key_id: str, source: str) -> None:
    if not KEY_ID_RE.fullmatch(key_id):
        raise ConfigError(f"{source}: invalid key id (use 1-32 letters, digits, '_' or '-')")


class Keyring:
    """An ordered set of AES-256 keys by id; the first is the primary (used to encrypt).

    Raises :class:`ConfigError` for an empty keyring, a bad or duplicate key id or a key that
    is not exactly 32 bytes. ``repr`` shows key ids only.
    """

    __slots__ = ("_aeads", "_primary")

    def __init__(self, keys: Iterable[tuple[str, bytes]], *, source: str = "keyring") -> None:
        aeads: dict[str, AESGCM] = {}
        primary: str | None = None
        for key_id, key in keys:
            _validate_key_id(key_id, source)
            if key_id in aeads:
                raise ConfigError(f"{source}: key id {key_id!r} appears twice")
            if len(key) != KEY_SIZE:
                raise ConfigError(
                    f"{source}: key {key_id!r} must be exactly {KEY_SIZE} bytes, got {len(key)}"
                )
            aeads[key_id] = AESGCM(key)
            primary = primary or key_id
        if primary is None:
            raise ConfigError(f"{source}: no keys given")
        self._aeads = aeads
        self._primary = primary

    @property
    def primary_id(self) -> str:
        return self._primary

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id, primary first."""
        return tuple(self._aeads)

    def __repr__(self) -> str:
        return f"Keyring(primary={self._primary!r}, key_ids={list(self._aeads)!r})"

    def __reduce__(self) -> str | tuple[object, ...]:  # keys must not leave via pickle
        raise TypeError("Keyring cannot be pickled")

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt under the primary key with a fresh random 96-bit nonce."""
        header = _header(self._primary)
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = self._aeads[self._primary].encrypt(nonce, plaintext, header + aad)
        return header + nonce + sealed

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Decrypt ``blob`` made by :meth:`encrypt` with the same ``aad``.

        Raises :class:`CryptoError` for an unsupported format, an unknown key id, or a failed
        authentication (wrong key, tampered bytes, or a ciphertext moved to another place).
        """
        key_id, body_at = _parse_header(blob)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise CryptoError(
                f"ciphertext is under key id {key_id!r}, which is not in the keyring "
                f"(known: {', '.join(self._aeads)})"
            )
        nonce = blob[body_at : body_at + NONCE_SIZE]
        sealed = blob[body_at + NONCE_SIZE :]
        try:
            return aead.decrypt(nonce, sealed, blob[:body_at] + aad)
        except InvalidTag:
            raise CryptoError(
                f"decryption failed under key id {key_id!r}: wrong key, tampered ciphertext, "
                "or a ciphertext copied from another user, server or name"
            ) from None

    def is_current(self, blob: bytes) -> bool:
        """True if ``blob`` is already under the primary key (rotation skips it)."""
        return key_id_of(blob) == self._primary

    def encrypt_secret(self, username: str, server: str, name: str, value: str) -> bytes:
        return self.encrypt(value.encode("utf-8"), secret_aad(username, server, name))

    def decrypt_secret(self, username: str, server: str, name: str, blob: bytes) -> str:
        return self._decode(self.decrypt(blob, secret_aad(username, server, name)))

    def encrypt_token(self, username: str, server: str, field: str, value: str) -> bytes:
        return self.encrypt(value.encode("utf-8"), token_aad(username, server, field))

    def decrypt_token(self, username: str, server: str, field: str, blob: bytes) -> str:
        return self._decode(self.decrypt(blob, token_aad(username, server, field)))

    @staticmethod
    def _decode(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CryptoError("decrypted value is not UTF-8 text") from None


def _header(key_id: str) -> bytes:
    kid = key_id.encode("ascii")
    return bytes((FORMAT_VERSION, len(kid))) + kid


def _parse_header(blob: bytes) -> tuple[str, int]:
    """Return (key id, offset of the nonce). Raises CryptoError on a malformed header."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < 2:
        raise CryptoError("unsupported ciphertext format: too short")
    if blob[0] != FORMAT_VERSION:
        raise CryptoError(f"unsupported ciphertext format version {blob[0]}")
    kid_len = blob[1]
    body_at = 2 + kid_len
    if len(blob) < body_at + NONCE_SIZE + TAG_SIZE:
        raise CryptoError("unsupported ciphertext format: truncated")
    try:
        key_id = bytes(blob[2:body_at]).decode("ascii")
    except UnicodeDecodeError:
        raise CryptoError("unsupported ciphertext format: bad key id") from None
    if not KEY_ID_RE.fullmatch(key_id):
        raise CryptoError("unsupported ciphertext format: bad key id")
    return key_id, body_at


def key_id_of(blob: bytes) -> str:
    """The key id a ciphertext was made with. Raises CryptoError if the format is unknown."""
    return _parse_header(blob)[0]


# --- key material sources -----------------------------------------------------------------


def parse_key_line(entry: str, *, source: str = KEYS_VAR) -> tuple[str, bytes]:
    """Parse one ``id:base64key`` entry. Errors name ``source`` and never echo the value."""
    key_id, sep, encoded = entry.strip().partition(":")
    if not sep:
        raise ConfigError(f"{source}: each entry must look like id:base64key")
    key_id = key_id.strip()
    _validate_key_id(key_id, source)
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        # urlsafe alphabet is accepted too; anything else is malformed.
        try:
            key = base64.urlsafe_b64decode(_strict_urlsafe(encoded.strip()))
        except (binascii.Error, ValueError):
            raise ConfigError(f"{source}: key {key_id!r} is not valid base64") from None
    if len(key) != KEY_SIZE:
        raise ConfigError(
            f"{source}: key {key_id!r} must decode to exactly {KEY_SIZE} bytes, got {len(key)}"
        )
    return key_id, key


def _strict_urlsafe(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not urlsafe base64")
    return text


def parse_keys(spec: str, *, source: str = KEYS_VAR) -> Keyring:
    """Build a keyring from ``id:base64key,id2:base64key2`` (first is primary)."""
    entries = [e for e in spec.replace("\n", ",").split(",") if e.strip()]
    if not entries:
        raise ConfigError(f"{source}: no keys given")
    return Keyring((parse_key_line(e, source=source) for e in entries), source=source)


def derive_passphrase_key(passphrase: str) -> bytes:
    """HKDF-SHA256 of the passphrase with the fixed salt/info above; deterministic.

    HKDF is not a password hash: the passphrase must itself carry >= 32 characters of entropy
    (a random string), which is why short ones are refused.
    """
    if len(passphrase) < PASSPHRASE_MIN_LEN:
        raise ConfigError(
            f"{PASSPHRASE_VAR} must be at least {PASSPHRASE_MIN_LEN} characters "
            f"(got {len(passphrase)}); use a random string"
        )
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE, salt=PASSPHRASE_SALT, info=PASSPHRASE_INFO
    )
    return hkdf.derive(passphrase.encode("utf-8"))


def keyring_from_passphrase(passphrase: str) -> Keyring:
    """One-key keyring (id ``pass``) derived from mcp-api's ``SECRETS_KEY``."""
    return Keyring([(PASSPHRASE_KEY_ID, derive_passphrase_key(passphrase))], source=PASSPHRASE_VAR)


def generate_key(key_id: str | None = None) -> tuple[str, bytes]:
    """A fresh random 32-byte key with ``key_id`` or a new dated id like ``k20260514a1b2c3``."""
    if key_id is None:
        key_id = "k" + time.strftime("%Y%m%d", time.gmtime()) + secrets.token_hex(3)
    _validate_key_id(key_id, "key id")
    return key_id, secrets.token_bytes(KEY_SIZE)


def format_key_line(key_id: str, key: bytes) -> str:
    """``id:base64key``, the entry format of ``MCPGW_SECRETS_KEYS`` and the key file."""
    return f"{key_id}:{base64.b64encode(key).decode('ascii')}"
