"""Key rotation: rewrap every stored ciphertext under the keyring's primary key.

Safe to interrupt and re-run: ciphertexts already under the primary are skipped, each rewrap is
a compare-and-swap on the exact old ciphertext (a concurrent write wins and is re-read), and
plaintext is only ever held in memory between a decrypt and the matching encrypt. A ciphertext
that cannot be decrypted is reported by name and left untouched; the rest still rotate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from mcp_gateway.crypto.keyring import Keyring, secret_aad, token_aad
from mcp_gateway.domain.records import StoredOAuthTokens, StoredSecret
from mcp_gateway.domain.user_servers import CLIENT_SECRET_FIELD
from mcp_gateway.errors import CryptoError
from mcp_gateway.storage.ports import OAuthTokenStore, SecretStore, UserInstallStore

log = logging.getLogger(__name__)

# How often one item is re-read after losing a compare-and-swap to a concurrent writer.
_CAS_ATTEMPTS = 3


class RotationStore(SecretStore, OAuthTokenStore, UserInstallStore, Protocol):
    """The ports rotation needs; any full Store satisfies it."""


@dataclass
class RotationReport:
    """Counts are per ciphertext: one secret value, or one encrypted OAuth token field."""

    primary_key_id: str
    rewrapped: int = 0
    already_current: int = 0
    failed: list[str] = field(default_factory=list)  # "secret alice/github/TOKEN: reason"

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"primary key {self.primary_key_id}: {self.rewrapped} rewrapped, "
            f"{self.already_current} already current, {len(self.failed)} failed"
        )


def _rewrap(keyring: Keyring, blob: bytes, aad: bytes) -> bytes:
    return keyring.encrypt(keyring.decrypt(blob, aad), aad)


async def rotate_keys(store: RotationStore, keyring: Keyring) -> RotationReport:
    """Rewrap every secret and OAuth token field not under ``keyring.primary_id``.

    Store outages (:class:`~mcp_gateway.errors.StoreUnavailable`) propagate: the run stops and
    can simply be repeated. Decryption failures are collected in ``report.failed``.
    """
    report = RotationReport(primary_key_id=keyring.primary_id)

    # Collect first, write after: never write through a backend while its cursor is open.
    pending_secrets: list[StoredSecret] = []
    async for secret in store.iter_all_secrets():
        label = f"secret {secret.username}/{secret.server}/{secret.name}"
        try:
            if keyring.is_current(secret.ciphertext):
                report.already_current += 1
            else:
                pending_secrets.append(secret)
        except CryptoError as exc:
            report.failed.append(f"{label}: {exc.message}")
    for secret in pending_secrets:
        await _rotate_secret(store, keyring, secret, report)

    pending_tokens: list[StoredOAuthTokens] = []
    async for tokens in store.iter_all_tokens():
        pending_tokens.append(tokens)
    for tokens in pending_tokens:
        await _rotate_tokens(store, keyring, tokens, report)

    for install in await store.list_installs_with_client_secret():
        await _rotate_install(store, keyring, install.server, install.username, report)

    log.info("key rotation done: %s", report.summary())
    for line in report.failed:
        log.warning("key rotation failed for %s", line)
    return report


async def _rotate_secret(
    store: RotationStore, keyring: Keyring, secret: StoredSecret, report: RotationReport
) -> None:
    label = f"secret {secret.username}/{secret.server}/{secret.name}"
    aad = secret_aad(secret.username, secret.server, secret.name)
    current: StoredSecret | None = secret
    for _ in range(_CAS_ATTEMPTS):
        assert current is not None
        try:
            if keyring.is_current(current.ciphertext):
                report.already_current += 1
                return
            new = _rewrap(keyring, current.ciphertext, aad)
        except CryptoError as exc:
            report.failed.append(f"{label}: {exc.message}")
            return
        if await store.replace_secret_ciphertext(
            secret.username, secret.server, secret.name, current.ciphertext, new
        ):
            report.rewrapped += 1
            return
        # Lost to a concurrent write or delete: look again.
        current = next(
            (
                s
                for s in await store.get_secrets(secret.username, secret.server)
                if s.name == secret.name
            ),
            None,
        )
        if current is None:
            return  # deleted meanwhile: nothing left to rotate
    report.failed.append(f"{label}: changed concurrently {_CAS_ATTEMPTS} times; re-run")


async def _rotate_tokens(
    store: RotationStore, keyring: Keyring, tokens: StoredOAuthTokens, report: RotationReport
) -> None:
    label = f"oauth token {tokens.username}/{tokens.server}"
    current: StoredOAuthTokens | None = tokens
    for _ in range(_CAS_ATTEMPTS):
        assert current is not None
        new_fields = dict(current.fields)
        changed = 0
        failed: list[str] = []
        still_current = 0
        for name, blob in current.fields.items():
            aad = token_aad(current.username, current.server, name)
            try:
                if keyring.is_current(blob):
                    still_current += 1
                    continue
                new_fields[name] = _rewrap(keyring, blob, aad)
                changed += 1
            except CryptoError as exc:
                failed.append(f"{label}/{name}: {exc.message}")
        if changed == 0 or await store.replace_token_fields(
            current.server, current.username, current.fields, new_fields
        ):
            report.already_current += still_current
            report.rewrapped += changed
            report.failed.extend(failed)
            return
        current = await store.get_tokens(tokens.server, tokens.username)
        if current is None:
            return
    report.failed.append(f"{label}: changed concurrently {_CAS_ATTEMPTS} times; re-run")


async def _rotate_install(
    store: RotationStore, keyring: Keyring, server: str, username: str, report: RotationReport
) -> None:
    """An install's OAuth client secret (token AAD, field ``install_client_secret``)."""
    label = f"install client secret {username}/{server}"
    aad = token_aad(username, server, CLIENT_SECRET_FIELD)
    for _ in range(_CAS_ATTEMPTS):
        install = await store.get_install(server, username)
        if install is None or install.client_secret is None:
            return
        blob = install.client_secret
        try:
            if keyring.is_current(blob):
                report.already_current += 1
                return
            new = _rewrap(keyring, blob, aad)
        except CryptoError as exc:
            report.failed.append(f"{label}: {exc.message}")
            return
        if await store.replace_install_client_secret(server, username, blob, new):
            report.rewrapped += 1
            return
    report.failed.append(f"{label}: changed concurrently {_CAS_ATTEMPTS} times; re-run")
