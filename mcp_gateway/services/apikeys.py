"""API keys: create (shown once), list, revoke, authenticate, and the bootstrap admin key.

Authentication records a key's last use (``touch_api_key``) at most once per
:data:`TOUCH_EVERY` seconds per key, from a background task: never a store write on the
request path. The service is an async context manager owning that task; outside it
(one-shot CLI commands) last use is simply not recorded.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets as pysecrets
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mcp_gateway.config import Settings
from mcp_gateway.crypto.apikeys import (
    API_KEY_PREFIX,
    PREFIX_LEN,
    generate_api_key,
    hash_api_key,
    key_prefix,
)
from mcp_gateway.crypto.privatedir import ensure_private_dir
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.records import ApiKeyRecord, Role
from mcp_gateway.errors import (
    ConfigError,
    GatewayError,
    InvalidRequest,
    Unauthenticated,
)
from mcp_gateway.services.background import close_writer
from mcp_gateway.services.principal import Principal
from mcp_gateway.storage.ports import ApiKeyStore

ADMIN_KEY_FILE = "admin-api-key"
ENV_ADMIN_NAME = "MCPGW_ADMIN_API_KEY"
BOOTSTRAP_ADMIN_NAME = "bootstrap-admin"
# Authenticated keys are cached this long; a revoke in this process clears them at once, one
# by another process sharing the store within ~1 s through the change feed (services/follow.py)
# and within this many seconds should its announcement be lost.
CACHE_TTL = 10.0
_CACHE_MAX = 4096
_MAX_NAME = 64
TOUCH_EVERY = 60.0  # seconds between two last-use writes for one key
_TOUCH_QUEUE = 1024

log = logging.getLogger("mcp_gateway.apikeys")


def display_prefix(key: str) -> str:
    """What may be shown or audited of a presented key: the listing prefix of a gateway-format
    key (``mcpgw_AbC123...``, ~36 of its 256 bits); of anything else only its length (it may
    be a password pasted in the wrong place)."""
    if key.startswith(API_KEY_PREFIX) and len(key) > 2 * PREFIX_LEN:
        return key_prefix(key) + "..."
    return f"(not a gateway key, {len(key)} characters)"


def _principal(record: ApiKeyRecord) -> Principal:
    return Principal(key_id=record.id, name=record.name, role=record.role, username=record.username)


class ApiKeyService:
    def __init__(self, store: ApiKeyStore, *, cache_ttl: float = CACHE_TTL) -> None:
        self._store = store
        self._ttl = cache_ttl
        self._cache: dict[str, tuple[Principal, float]] = {}  # key hash -> (principal, expiry)
        self._touched: dict[str, float] = {}  # key id -> monotonic time of the last queued touch
        self._touches: MemoryObjectSendStream[tuple[str, float]] | None = None
        self._tg: TaskGroup | None = None
        self._written = anyio.Event()

    async def __aenter__(self) -> Self:
        send, receive = anyio.create_memory_object_stream[tuple[str, float]](_TOUCH_QUEUE)
        self._written = anyio.Event()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._write_touches, receive)
        self._touches = send
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        send, self._touches = self._touches, None
        tg, self._tg = self._tg, None
        await close_writer(send, tg, self._written, 2.0)  # last-use writes are best effort

    async def _write_touches(self, receive: MemoryObjectReceiveStream[tuple[str, float]]) -> None:
        async with receive:
            async for key_id, when in receive:
                try:
                    await self._store.touch_api_key(key_id, when)
                except GatewayError as exc:  # best effort: the store is down
                    log.info("api key last-use not recorded (%s)", exc.code)
        self._written.set()

    def _touch(self, key_id: str, now: float) -> None:
        send = self._touches
        last = self._touched.get(key_id)
        if send is None or (last is not None and now - last < TOUCH_EVERY):
            return
        if len(self._touched) >= _CACHE_MAX:
            self._touched.clear()
        self._touched[key_id] = now
        try:
            send.send_nowait((key_id, time.time()))
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the store is slow: a later use records it

    async def create(
        self, name: str, role: Role | str, username: str | None = None
    ) -> tuple[ApiKeyRecord, str]:
        """A new key; returns its record and the full key, which is never retrievable again.

        ``user`` keys need a ``username``; admin and service keys must not have one.
        Raises InvalidRequest.
        """
        name = name.strip()
        if not name or len(name) > _MAX_NAME or not name.isprintable():
            raise InvalidRequest(f"key name must be 1-{_MAX_NAME} printable characters")
        try:
            role = Role(role)
        except ValueError:
            raise InvalidRequest("role must be one of: admin, service, user") from None
        if role is Role.USER:
            if username is None:
                raise InvalidRequest("a user key needs the username it is bound to")
            username = validate_username(username)
        elif username is not None:
            raise InvalidRequest(f"a {role.value} key acts for any username: omit username")
        key = generate_api_key()
        record = ApiKeyRecord(
            id=pysecrets.token_hex(8),
            name=name,
            role=role,
            key_hash=hash_api_key(key),
            prefix=key_prefix(key),
            username=username,
            created_at=time.time(),
        )
        await self._store.create_api_key(record)
        return record, key

    async def list(self) -> list[ApiKeyRecord]:
        return await self._store.list_api_keys()

    async def revoke(self, key_id: str) -> bool:
        """Delete a key; it stops working at once in this process. Idempotent: False when no
        such key exists (already revoked)."""
        if not await self._store.delete_api_key(key_id):
            return False
        self.forget(key_id)
        return True

    def forget(self, key_id: str) -> None:
        """Key ``key_id`` changed or was revoked elsewhere (the change feed): its next use is
        looked up in the store again."""
        for key_hash, (principal, _) in list(self._cache.items()):
            if principal.key_id == key_id:
                del self._cache[key_hash]

    def forget_all(self) -> None:
        self._cache.clear()

    async def authenticate(self, key: str) -> Principal:
        """The principal behind a presented key. Raises Unauthenticated (unknown or revoked)."""
        return await self.authenticate_hash(hash_api_key(key))

    async def authenticate_hash(self, key_hash: str) -> Principal:
        """:meth:`authenticate` for a key already hashed (the console session keeps the hash,
        never the key). Raises Unauthenticated (unknown or revoked)."""
        now = time.monotonic()
        hit = self._cache.get(key_hash)
        if hit is not None and hit[1] > now:
            self._touch(hit[0].key_id, now)
            return hit[0]
        record = await self._store.get_api_key_by_hash(key_hash)
        # The store looked the hash up by index; compare again in constant time regardless.
        if record is None or not hmac.compare_digest(record.key_hash, key_hash):
            self._cache.pop(key_hash, None)
            raise Unauthenticated("invalid or revoked API key")
        principal = _principal(record)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key_hash] = (principal, now + self._ttl)
        self._touch(principal.key_id, now)
        return principal

    async def bootstrap(self, settings: Settings) -> str | None:
        """Make sure an admin can log in.

        With ``MCPGW_ADMIN_API_KEY`` set, ensure an admin key with that hash exists (returns
        None; ConfigError if it is shorter than 16 characters). Otherwise, on an empty key
        store, create an admin key, write it to ``<data dir>/admin-api-key`` (mode 0600) and
        return a one-line message carrying it for the operator (printed once). Returns None
        when nothing was created.
        """
        configured = settings.http.admin_api_key
        if configured is not None:
            key = configured.get_secret_value()
            if len(key) < 16:
                raise ConfigError(f"{ENV_ADMIN_NAME} must be at least 16 characters")
            key_hash = hash_api_key(key)
            if await self._store.get_api_key_by_hash(key_hash) is None:
                await self._store.create_api_key(
                    ApiKeyRecord(
                        id="env-admin-" + key_hash[:8],
                        name=ENV_ADMIN_NAME,
                        role=Role.ADMIN,
                        key_hash=key_hash,
                        prefix=key[:4] + "...",
                        created_at=time.time(),
                    )
                )
            return None
        if await self._store.count_api_keys() > 0:
            return None
        record, key = await self.create(BOOTSTRAP_ADMIN_NAME, Role.ADMIN)
        path = settings.store.data_dir / ADMIN_KEY_FILE
        _write_private(path, key + "\n")
        return (
            f"mcp-gateway: created admin API key {record.id} (shown once, also saved to {path}): "
            f"{key}"
        )


def _write_private(path: Path, content: str) -> None:
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
