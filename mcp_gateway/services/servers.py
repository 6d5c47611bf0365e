"""Server definitions: CRUD on the store, kept in step with the live upstream pool.

:class:`ServerService` is the only writer of server definitions (the API, the CLI and the package
service all go through it, so validation always runs) and the owner of the current definition of
each server: every change reaches the pool through ``apply``/``remove`` here, and a tool call
runs whatever the pool holds for that name (a call that read the definition before an update
or a delete neither brings the old one back nor restarts the server). The rules a definition
and a partial update must follow live in :mod:`mcp_gateway.services.server_rules`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from mcp_types import Tool

from mcp_gateway.domain.names import (
    DEFAULT_USERNAME,
    validate_new_server_name,
    validate_server_name,
)
from mcp_gateway.domain.servers import ServerConfig, ServerStatus
from mcp_gateway.errors import (
    GatewayError,
    ServerAlreadyExists,
    ServerDisabled,
    ServerNotFound,
)
from mcp_gateway.services.server_rules import (
    COMMAND_FIELDS,
    apply_changes,
    check_command,
    updatable_changes,
    validate_server,
)
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import (
    OAuthTokenStore,
    SecretStore,
    ServerStore,
    SessionStore,
    UserInstallStore,
)
from mcp_gateway.upstream.state import ServerState

log = logging.getLogger("mcp_gateway.servers")

# Definitions changed by another process sharing the store arrive through the change feed
# (services/follow.py, ~1 s); this re-read on the call path is the backstop should one be lost.
CONFIG_TTL = 5.0
# A start check reports at most this much of the server's stderr.
STDERR_LINES = 40
STDERR_LINE_CHARS = 500
# How long a failed start check waits for the child's stderr to be read.
STDERR_GRACE = 2.0


#: ``(running, stored)`` -> whether this replica must keep running ``running`` for now: the
#: stored definition points at a package install not on this replica's disk yet (another
#: replica's upgrade; services/package_replicas.py installs it, then calls ``refresh``).
HoldCheck = Callable[[ServerConfig, ServerConfig], Awaitable[bool]]


class ServersStore(
    ServerStore, SecretStore, OAuthTokenStore, SessionStore, UserInstallStore, Protocol
):
    pass


@dataclass(frozen=True, slots=True)
class ServerView:
    """A definition with its live pool state (logs and last error masked by the pool: each
    session masks every secret it was given, for as long as it lives)."""

    config: ServerConfig
    state: ServerState


@dataclass(frozen=True, slots=True)
class ServerUsage:
    """What deleting a server would remove besides its definition (stored data only; live
    connections are not counted)."""

    config: ServerConfig
    secret_users: int  # distinct usernames with at least one secret for it
    token_users: int  # usernames with an OAuth token set for it
    session_users: int  # usernames with a stored per-user upstream session
    stored_sessions: int  # every stored session, the shared one included
    installed_users: int = 0  # per-user installs (external servers)


@dataclass(frozen=True, slots=True)
class StartCheck:
    """What starting a server showed: its tools, or why it did not start (``error`` and the
    last lines of its stderr, secret values masked)."""

    status: ServerStatus
    tools: tuple[Tool, ...] = ()
    error: str | None = None
    stderr: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status is ServerStatus.ERROR


class ServerService:
    """Every write goes to the store first, then to the pool (``apply`` restarts a server only
    when its connection settings changed). Definitions are also kept in memory for the tool-call
    hot path (:meth:`config`)."""

    def __init__(
        self,
        store: ServersStore,
        pool: UpstreamPort,
        *,
        cache_ttl: float = CONFIG_TTL,
    ) -> None:
        self._store = store
        self._pool = pool
        self._ttl = cache_ttl
        self._configs: dict[str, tuple[ServerConfig, float]] = {}  # name -> (config, expiry)
        self._serials: dict[str, anyio.Lock] = {}
        self.hold: HoldCheck | None = None  # set by the package service

    def _remember(self, server: ServerConfig) -> None:
        self._configs[server.name] = (server, time.monotonic() + self._ttl)

    async def load_all(self) -> None:
        """Hand every stored definition to the pool (which starts them in the background)."""
        for server in await self._store.list_servers():
            await self._apply(server)

    async def config(self, name: str) -> ServerConfig:
        """The current definition of ``name`` (the tool-call hot path): from memory, kept
        current by every write made through this service and re-read from the store after
        ``cache_ttl`` seconds in case another process changed it. An unchanged re-read keeps
        the object the pool already runs; a changed one is applied to the pool here, once,
        handing calls over as :meth:`refresh` does, and one deleted elsewhere is stopped.
        Raises ServerNotFound."""
        hit = self._configs.get(name)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        server = await self._store.get_server(validate_server_name(name))
        if server is None:
            if self._configs.pop(name, None) is not None:
                await self._pool.remove(name)
            raise ServerNotFound(name)
        if hit is not None and (hit[0] == server or await self._held(hit[0], server)):
            self._remember(hit[0])
            return hit[0]
        # Changed by another process before our feed told us: switched to as the feed does
        # (read again in order with this process's writes; the old sessions finish the calls
        # in flight on them).
        await self._switch(name)
        current = self.running(name)
        if current is None:
            raise ServerNotFound(name)  # deleted meanwhile
        return current

    def running(self, name: str) -> ServerConfig | None:
        """The definition of ``name`` this process last applied to its pool (what it runs,
        whether or not its cache entry expired), or None."""
        hit = self._configs.get(name)
        return hit[0] if hit is not None else None

    async def refresh(self, name: str) -> bool:
        """Another replica changed ``name`` (the change feed, services/follow.py): read it from
        the store and start, restart or stop it here. Unchanged, or held (see ``hold``):
        nothing happens. True if something was applied."""
        return await self._switch(name)

    async def _switch(self, name: str) -> bool:
        async with self._serial(name):  # a read older than our own write never wins
            server = await self._store.get_server(name)
            hit = self._configs.get(name)
            if server is None:
                if hit is not None:
                    await self._forget(name)
                return hit is not None
            if hit is not None and (hit[0] == server or await self._held(hit[0], server)):
                self._remember(hit[0])
                return False
            # Calls in flight on the old sessions finish there; new calls wait for the new.
            await self._apply(server, hand_over=hit is not None)
            return True

    async def _held(self, running: ServerConfig, stored: ServerConfig) -> bool:
        return self.hold is not None and await self.hold(running, stored)

    async def resync(self) -> None:
        """Changes may have been missed: bring every definition in line with the store."""
        stored = {server.name for server in await self._store.list_servers()}
        for name in sorted(stored | set(self._configs)):
            await self.refresh(name)

    def _serial(self, name: str) -> anyio.Lock:
        """Orders this process's write-then-apply of ``name`` with a feed's read-then-apply."""
        return self._serials.setdefault(name, anyio.Lock())

    async def find(self, name: str) -> ServerConfig | None:
        """The stored definition of ``name`` (not cached), or None."""
        return await self._store.get_server(validate_server_name(name))

    async def _apply(
        self, server: ServerConfig, *, hand_over: bool = False, restart: bool = False
    ) -> None:
        """Start/restart/stop ``server`` in the pool (its definition is already stored)."""
        self._remember(server)
        await self._pool.apply(server, hand_over=hand_over, restart=restart)

    async def _forget(self, name: str) -> None:
        self._configs.pop(name, None)
        await self._pool.remove(name)

    # -- start checks ---------------------------------------------------------------------

    async def check_start(self, server: ServerConfig, *, within: float) -> StartCheck:
        """List the tools of ``server`` (an applied definition) within ``within`` seconds, as
        the default user; on failure report why, with the tail of its stderr."""
        if not server.enabled:
            return StartCheck(ServerStatus.DISABLED)
        try:
            with anyio.fail_after(within):
                tools = await self._pool.list_tools(server, username=DEFAULT_USERNAME)
        except (GatewayError, TimeoutError, OSError) as exc:
            error = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                error = f"server {server.name!r} listed no tools within {within:g}s"
            stderr = await self._stderr_tail(server)
            return StartCheck(ServerStatus.ERROR, error=error, stderr=stderr)
        return StartCheck(ServerStatus.CONNECTED, tuple(tools))

    async def trial(self, server: ServerConfig, *, within: float) -> StartCheck:
        """Start ``server`` under a temporary name (nothing stored), check it, stop it."""
        temp_name = f"{server.name[:48]}-trial-{os.urandom(3).hex()}"
        temp = dataclasses.replace(server, name=temp_name)
        await self._pool.apply(temp)
        try:
            check = await self.check_start(temp, within=within)
            error = check.error.replace(temp_name, server.name) if check.error else None
            return dataclasses.replace(check, error=error)
        finally:
            with anyio.CancelScope(shield=True):
                await self._pool.remove(temp_name)

    async def _stderr_tail(self, server: ServerConfig) -> tuple[str, ...]:
        """The last stderr lines of a shared server, already masked by its session (which knows
        every value it was given); waits briefly for the reader of a child that just died
        (per-user servers keep no shared log)."""
        lines: tuple[str, ...] = ()
        with anyio.move_on_after(STDERR_GRACE):
            while True:
                try:
                    lines = self._pool.status(server.name).logs
                except ServerNotFound:
                    break
                if lines:
                    break
                await anyio.sleep(0.05)
        return tuple(line[:STDERR_LINE_CHARS] for line in lines[-STDERR_LINES:])

    def _view(self, server: ServerConfig, states: Mapping[str, ServerState]) -> ServerView:
        state = states.get(server.name)
        if state is None:
            status = ServerStatus.DISCONNECTED if server.enabled else ServerStatus.DISABLED
            state = ServerState(status=status)
        return ServerView(server, state)

    async def list(self) -> list[ServerView]:
        states = self._pool.statuses()
        return [self._view(s, states) for s in await self._store.list_servers()]

    async def get(self, name: str) -> ServerView:
        server = await self._store.get_server(validate_server_name(name))
        if server is None:
            raise ServerNotFound(name)
        return self._view(server, self._pool.statuses())

    async def create(self, server: ServerConfig) -> ServerView:
        """Store and start a new server. Raises InvalidRequest (a rule, or a command that
        cannot be found), ServerAlreadyExists."""
        validate_server(server)
        validate_new_server_name(server.name)
        if await self._store.get_server(server.name) is not None:
            raise ServerAlreadyExists(server.name)
        check_command(server)
        now = time.time()
        meta = server.metadata
        server = dataclasses.replace(
            server,
            metadata=dataclasses.replace(
                meta, created_at=meta.created_at or now, updated_at=meta.updated_at or now
            ),
        )
        async with self._serial(server.name):
            await self._store.create_server(server)
            await self._apply(server)
        return self._view(server, self._pool.statuses())

    async def update(self, name: str, changes: Mapping[str, Any]) -> ServerView:
        """Apply a partial update (snake_case field -> value; ``metadata`` may be a mapping
        of the ServerMetadata fields to change; ``secret_names`` declares mcp-api's injected
        secrets). Raises InvalidRequest, ServerNotFound."""
        changes = updatable_changes(name, changes)
        current = await self._store.get_server(validate_server_name(name))
        if current is None:
            raise ServerNotFound(name)
        server = apply_changes(current, changes)
        if server != current:
            server = await self._write(current, server)
        else:
            await self._apply(current)  # unchanged: still restarts a server whose restarts gave up
        return self._view(server, self._pool.statuses())

    async def replace(self, server: ServerConfig) -> ServerConfig:
        """Store ``server`` over the existing definition of that name (validation runs) and
        apply it. Returns the definition as it was. Raises InvalidRequest, ServerNotFound."""
        current = await self._store.get_server(validate_server_name(server.name))
        if current is None:
            raise ServerNotFound(server.name)
        validate_server(server)
        if server != current:
            await self._write(current, server)
        return current

    async def _write(self, current: ServerConfig, server: ServerConfig) -> ServerConfig:
        """Store a changed definition and apply it. ``createdAt`` is kept; ``updatedAt`` becomes
        now, unless the caller brings its own (a rollback restoring an earlier definition
        restores its time too)."""
        if any(getattr(current, f) != getattr(server, f) for f in COMMAND_FIELDS):
            check_command(server)
        updated = server.metadata.updated_at
        meta = dataclasses.replace(
            server.metadata,
            created_at=current.metadata.created_at or server.metadata.created_at,
            updated_at=time.time() if updated == current.metadata.updated_at else updated,
        )
        server = dataclasses.replace(server, metadata=meta)
        async with self._serial(server.name):
            await self._store.update_server(server)
            await self._apply(server)
        return server

    async def set_enabled(self, name: str, enabled: bool) -> ServerView:
        return await self.update(name, {"enabled": enabled})

    async def restart(self, name: str) -> ServerView:
        """Stop every session of ``name`` (calls on them fail; calls arriving meanwhile wait
        for the new ones) and start it afresh, also after its restart policy gave up. Raises
        ServerNotFound, ServerDisabled."""
        async with self._serial(validate_server_name(name)):  # after our writes in progress
            config = await self.find(name)
            if config is None:
                raise ServerNotFound(name)
            if not config.enabled:
                raise ServerDisabled(config.name)
            await self._apply(config, restart=True)
        return await self.get(config.name)

    async def usage(self, name: str) -> ServerUsage:
        """What :meth:`delete` would remove for ``name``. Raises ServerNotFound."""
        config = await self.find(name)
        if config is None:
            raise ServerNotFound(name)
        scopes = await self._store.list_session_scopes(name)
        return ServerUsage(
            config,
            secret_users=await self._store.count_server_secret_users(name),
            token_users=await self._store.count_server_token_users(name),
            session_users=sum(1 for scope in scopes if scope),
            stored_sessions=len(scopes),
            installed_users=len(await self._store.list_server_installs(name)),
        )

    async def delete(self, name: str, *, keep_secrets: bool = False) -> None:
        """Stop the server and remove its definition, persisted sessions, every user's install
        and (unless ``keep_secrets``) every user's secrets and OAuth tokens. Raises
        ServerNotFound."""
        if await self._store.get_server(validate_server_name(name)) is None:
            raise ServerNotFound(name)
        async with self._serial(name):
            await self._forget(name)
            secrets = tokens = 0
            if not keep_secrets:
                secrets = await self._store.delete_server_secrets(name)
                tokens = await self._store.delete_server_tokens(name)
            await self._store.delete_server_sessions(name)
            await self._store.delete_server_installs(name)  # every user's, with their grants
            # The definition goes last: an interrupted delete can simply be retried.
            await self._store.delete_server(name)
        log.info("deleted server %s (%d secrets, %d token sets)", name, secrets, tokens)
