"""Users' secrets: set, delete, list names (never values), and build a call's injection."""

from __future__ import annotations

import time
from typing import Protocol

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_secret_name, validate_server_name, validate_username
from mcp_gateway.domain.records import StoredSecret
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import InvalidRequest, PayloadTooLarge, ServerNotFound
from mcp_gateway.services.injection import (
    EMPTY_INJECTION,
    Injection,
    build_injection,
    injected_name,
)
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import SecretStore, ServerStore

MAX_SECRET_BYTES = 64 * 1024  # MCPGW_MAX_SECRET_BYTES' default
MAX_SECRETS_PER_USER = 200  # MCPGW_MAX_SECRETS_PER_USER's default


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
        max_per_user: int = MAX_SECRETS_PER_USER,
        max_bytes: int = MAX_SECRET_BYTES,
    ) -> None:
        self._store = store
        self._max_per_user = max_per_user
        self._max_bytes = max_bytes
        self._keyring = keyring
        self._pool = pool

    async def _require_server(self, server: str) -> ServerConfig:
        config = await self._store.get_server(validate_server_name(server))
        if config is None:
            raise ServerNotFound(server)
        return config

    async def owner(self, server: str, name: str) -> str:
        """The server a secret named ``name`` belongs to when set with ``serverName`` ``server``.

        mcp-api ignores ``serverName``: its key ``<other>.<NAME>`` reaches server ``<other>``
        only. So a prefix naming another registered server (the longest one that matches) wins,
        and the secret is stored there, where mcp-api would have injected it; else ``server``.
        """
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            candidate = ".".join(parts[:cut])
            if candidate == server:
                return server
            try:
                found = await self._store.get_server(validate_server_name(candidate))
            except InvalidRequest:
                continue
            if found is not None:
                return found.name
        return server

    async def set(self, username: str, server: str, name: str, value: str) -> None:
        """Encrypt and store (replacing) a secret.

        Raises InvalidRequest (also when a new secret would exceed the per-user count),
        PayloadTooLarge (a value over the size limit), ServerNotFound. Nothing is written then.
        Concurrent sets of new names by one user may overshoot the count by a few.
        """
        username = validate_username(username)
        validate_secret_name(injected_name(server, name))  # mcp-api's <server>.<NAME> too
        if not value:
            raise InvalidRequest("secretValue must not be empty")
        if len(value.encode("utf-8")) > self._max_bytes:
            raise PayloadTooLarge(f"secretValue is larger than {self._max_bytes} bytes")
        await self._require_server(server)
        if name not in await self._store.list_secret_names(username, server):
            if await self._store.count_user_secrets(username) >= self._max_per_user:
                raise InvalidRequest(
                    f"username {username!r} already has {self._max_per_user} secrets, the "
                    "most allowed: delete one first"
                )
        blob = self._keyring.encrypt_secret(username, server, name, value)
        await self._store.put_secret(StoredSecret(username, server, name, blob, time.time()))
        # Per-user sessions were started with the old value (env/header): start afresh.
        await self._pool.invalidate_user(server, username)

    async def delete(self, username: str, server: str, name: str) -> bool:
        """Delete a secret; idempotent: False when it was already gone (or never there, also
        for another user's secret: never a hint it exists). Raises ServerNotFound."""
        username = validate_username(username)
        validate_secret_name(injected_name(server, name))  # mcp-api's <server>.<NAME> too
        await self._require_server(server)
        if not await self._store.delete_secret(username, server, name):
            return False
        await self._pool.invalidate_user(server, username)
        return True

    async def names(self, username: str, server: str) -> list[str]:
        """Sorted secret names of ``username`` for ``server``. Raises ServerNotFound."""
        username = validate_username(username)
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
        stored = sorted(stored, key=lambda s: s.updated_at)  # oldest first: the last set wins
        plain = {s.name: decrypt(username, server.name, s.name, s.ciphertext) for s in stored}
        return build_injection(server, plain)
