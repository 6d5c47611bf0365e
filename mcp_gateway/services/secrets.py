"""Users' secrets: set, delete, list names (never values), and build a call's injection."""

from __future__ import annotations

import time
from typing import Protocol

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_secret_name, validate_server_name, validate_username
from mcp_gateway.domain.records import StoredSecret
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import InvalidRequest, SecretNotFound, ServerNotFound
from mcp_gateway.services.injection import EMPTY_INJECTION, Injection, build_injection
from mcp_gateway.services.redaction import Redactor
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import SecretStore, ServerStore

MAX_SECRET_BYTES = 64 * 1024


class SecretsStore(SecretStore, ServerStore, Protocol):
    pass


class SecretService:
    """Every method is scoped to one (username, server); callers resolve the username first
    (see :meth:`~mcp_gateway.services.principal.Principal.acting_username`)."""

    def __init__(
        self,
        store: SecretsStore,
        keyring: Keyring,
        pool: UpstreamPort,
        *,
        redactor: Redactor | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._pool = pool
        self.redactor = redactor or Redactor()

    async def _require_server(self, server: str) -> ServerConfig:
        config = await self._store.get_server(validate_server_name(server))
        if config is None:
            raise ServerNotFound(server)
        return config

    async def set(self, username: str, server: str, name: str, value: str) -> None:
        """Encrypt and store (replacing) a secret. Raises InvalidRequest, ServerNotFound."""
        validate_username(username)
        validate_secret_name(name)
        if not value:
            raise InvalidRequest("secretValue must not be empty")
        if len(value.encode("utf-8")) > MAX_SECRET_BYTES:
            raise InvalidRequest(f"secretValue is longer than {MAX_SECRET_BYTES} bytes")
        await self._require_server(server)
        blob = self._keyring.encrypt_secret(username, server, name, value)
        await self._store.put_secret(StoredSecret(username, server, name, blob, time.time()))
        # Per-user sessions were started with the old value (env/header): start afresh.
        await self._pool.invalidate_user(server, username)

    async def delete(self, username: str, server: str, name: str) -> None:
        """Raises SecretNotFound (also for another user's secret: never a hint it exists)."""
        validate_username(username)
        validate_secret_name(name)
        await self._require_server(server)
        if not await self._store.delete_secret(username, server, name):
            raise SecretNotFound(server, name)
        await self._pool.invalidate_user(server, username)

    async def names(self, username: str, server: str) -> list[str]:
        """Sorted secret names of ``username`` for ``server``. Raises ServerNotFound."""
        validate_username(username)
        await self._require_server(server)
        return await self._store.list_secret_names(username, server)

    async def injection(self, server: ServerConfig, username: str) -> Injection:
        """Decrypt this user's secrets for ``server`` (one store query) and place them.

        Raises MissingSecret, CryptoError, StoreUnavailable.
        """
        stored = await self._store.get_secrets(username, server.name)
        if not stored and not server.secrets:
            return EMPTY_INJECTION
        decrypt = self._keyring.decrypt_secret
        plain = {s.name: decrypt(username, server.name, s.name, s.ciphertext) for s in stored}
        injection = build_injection(server, plain)
        if injection.values:
            self.redactor.remember(server.name, injection.values)
        return injection
