"""The mcp-api import use case: read its database, write the gateway's store.

Order: servers first (everything else hangs off a server name), then secrets, OAuth tokens,
sessions, packages, per-user installs of external servers; DCR clients are reported, not
carried (the gateway has no port for them yet). Every record is handled on its own: one that
cannot be carried is reported with the reason and the rest goes on.

Idempotent by comparison, not by bookkeeping: a record already in the gateway with the same
content (secrets compared as decrypted plaintext, since each encryption uses a fresh nonce) is
``unchanged``; one with different content is a ``conflict`` and the gateway's is kept, so a
re-run never undoes what an operator changed after the first run. A dry run makes the same
comparisons and writes nothing.

Secret keys: mcp-api injects a secret stored under key ``<server>.<NAME>`` into ``<server>``'s
calls as argument ``NAME`` (other keys are never injected). The gateway keys secrets by
(username, server, name) and injects (username, server)'s secrets as arguments named after
them, so ``<server>.<NAME>`` is stored as (username, ``<server>``, ``NAME``); with dotted server
names the longest server name that prefixes the key wins.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Protocol

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_secret_name, validate_username
from mcp_gateway.domain.records import StoredSecret, UpstreamSession
from mcp_gateway.domain.servers import ServerConfig, session_scope
from mcp_gateway.errors import CryptoError, InvalidRequest
from mcp_gateway.migration import source as src
from mcp_gateway.migration.mapping import map_package, map_server
from mcp_gateway.migration.mcp_api_dcr import import_dcr_clients
from mcp_gateway.migration.mcp_api_format import McpApiEnv, decrypt_mcp_api, mcp_api_key
from mcp_gateway.migration.mcp_api_installs import import_installs
from mcp_gateway.migration.mcp_api_tokens import import_tokens
from mcp_gateway.migration.report import Action, MigrationReport
from mcp_gateway.storage.ports import (
    OAuthTokenStore,
    PackageStore,
    SecretStore,
    ServerStore,
    SessionStore,
    UserInstallStore,
)


class TargetStore(
    ServerStore,
    SecretStore,
    OAuthTokenStore,
    SessionStore,
    PackageStore,
    UserInstallStore,
    Protocol,
):
    """The ports the importer writes through (any gateway store)."""


class McpApiImport:
    def __init__(
        self,
        source: src.McpApiSource,
        env: McpApiEnv,
        target: TargetStore,
        keyring: Keyring,
        *,
        dry_run: bool = False,
    ) -> None:
        self._source = source
        self._env = env
        self._target = target
        self._keyring = keyring
        self._key = mcp_api_key(env.secrets_key)
        self.report = MigrationReport(dry_run=dry_run)
        self._dry = dry_run
        self._servers: dict[str, ServerConfig] = {}  # name -> the gateway's definition after
        self._source_names: set[str] = set()
        self._mapped: dict[str, ServerConfig] = {}  # name -> mcp-api's definition, mapped

    async def run(self) -> MigrationReport:
        """Raises StoreUnavailable if either database cannot be reached; nothing else."""
        if self._env.default_key:
            self.report.warnings.append(
                "SECRETS_KEY is not set in the env file: using mcp-api's default key"
            )
        for config in await self._target.list_servers():
            self._servers[config.name] = config
        await self._import_servers(await self._source.documents(src.SERVERS))
        await self._import_secrets(await self._source.documents(self._env.secrets_collection))
        await import_tokens(
            await self._source.documents(src.OAUTH_TOKENS),
            servers=self._servers,
            target=self._target,
            keyring=self._keyring,
            key=self._key,
            report=self.report,
        )
        await self._import_sessions(await self._source.documents(src.USER_SESSIONS))
        await self._import_packages(await self._source.documents(src.PACKAGES))
        await import_installs(
            await self._source.documents(src.USER_INSTALLS),
            servers=self._servers,
            target=self._target,
            keyring=self._keyring,
            report=self.report,
        )
        await import_dcr_clients(
            await self._source.documents(src.DCR_CLIENTS),
            servers=self._servers,
            target=self._target,
            keyring=self._keyring,
            key=self._key,
            report=self.report,
        )
        return self.report

    async def _import_servers(self, docs: list[dict[str, Any]]) -> None:
        # mcp-api's ``name`` is not unique: the last document (what its name-keyed map ends
        # up holding after loading in _id order) wins.
        last: dict[str, int] = {}
        for index, doc in enumerate(docs):
            if isinstance(doc.get("name"), str):
                self._source_names.add(doc["name"])
                last[doc["name"]] = index
        for index, doc in enumerate(docs):
            name = str(doc.get("name"))
            if last.get(name) != index:
                self.report.add(
                    "server", name, Action.NOT_CARRIED, "duplicate name: a later one is used"
                )
                continue
            try:
                mapped = map_server(doc)
            except InvalidRequest as exc:
                self.report.add("server", name, Action.NOT_CARRIED, exc.message)
                continue
            self._mapped[name] = mapped.config
            existing = self._servers.get(name)
            if existing is None:
                if not self._dry:
                    await self._target.create_server(mapped.config)
                self._servers[name] = mapped.config
                self.report.add("server", name, Action.CREATE)
            elif existing == mapped.config:
                self.report.add("server", name, Action.UNCHANGED)
            else:
                self.report.add(
                    "server", name, Action.CONFLICT, "the gateway has another definition: kept"
                )
            if mapped.session_id is not None:
                session = UpstreamSession(name, "", mapped.session_id, updated_at=time.time())
                await self._put_session(session)

    def _split_key(self, key: str) -> tuple[str, str] | None:
        """``<server>.<NAME>`` -> (server, NAME) for the longest known server name."""
        known = sorted(self._source_names | set(self._servers), key=len, reverse=True)
        for server in known:
            if key.startswith(f"{server}.") and len(key) > len(server) + 1:
                return server, key[len(server) + 1 :]
        return None

    async def _import_secrets(self, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            username, key = doc.get("username"), doc.get("key")
            label = f"{username} {key}"
            if not isinstance(username, str) or not isinstance(key, str):
                self.report.add("secret", label, Action.FAILED, "no username or key")
                continue
            split = self._split_key(key)
            if split is None:
                self.report.add(
                    "secret",
                    label,
                    Action.NOT_CARRIED,
                    "the key is not <server>.<NAME> of a known server: mcp-api never injected it",
                )
                continue
            server, name = split
            if server not in self._servers:
                reason = f"its server {server!r} was not carried"
                self.report.add("secret", label, Action.NOT_CARRIED, reason)
                continue
            try:
                validate_username(username)
                validate_secret_name(name)
            except InvalidRequest as exc:
                self.report.add("secret", label, Action.NOT_CARRIED, exc.message)
                continue
            try:
                value = decrypt_mcp_api(self._key, doc.get("value"))
            except CryptoError as exc:
                self.report.add("secret", label, Action.FAILED, exc.message)
                continue
            await self._put_secret(label, username, server, name, value)

    async def _put_secret(
        self, label: str, username: str, server: str, name: str, value: str
    ) -> None:
        current = {s.name: s for s in await self._target.get_secrets(username, server)}
        if name in current:
            try:
                same = self._keyring.decrypt_secret(
                    username, server, name, current[name].ciphertext
                )
            except CryptoError:
                same = None
            if same == value:
                self.report.add("secret", label, Action.UNCHANGED)
            else:
                reason = "the gateway holds another value for it: kept"
                self.report.add("secret", label, Action.CONFLICT, reason)
            return
        if not self._dry:
            blob = self._keyring.encrypt_secret(username, server, name, value)
            await self._target.put_secret(StoredSecret(username, server, name, blob, time.time()))
        reason = f"injected into {server!r} as {name!r}"
        self.report.add("secret", label, Action.CREATE, reason)

    async def _import_sessions(self, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            server, username, sid = doc.get("serverName"), doc.get("username"), doc.get("sessionId")
            label = f"{username} {server}"
            if not isinstance(sid, str) or not sid:
                continue  # mcp-api clears sessionId to "" or null: nothing to carry
            config = self._servers.get(str(server))
            if config is None or not isinstance(username, str):
                reason = f"its server {server!r} was not carried"
                self.report.add("session", label, Action.NOT_CARRIED, reason)
                continue
            if session_scope(config, username) != username:
                self.report.add(
                    "session",
                    label,
                    Action.NOT_CARRIED,
                    "the gateway shares one session of this server among users; the next "
                    "call starts a new one",
                )
                continue
            await self._put_session(UpstreamSession(config.name, username, sid, None, time.time()))

    async def _put_session(self, session: UpstreamSession) -> None:
        label = f"{session.scope or '(shared)'} {session.server}"
        existing = await self._target.get_session(session.server, session.scope)
        if existing is None:
            if not self._dry:
                await self._target.put_session(session)
            self.report.add("session", label, Action.CREATE)
        elif existing.session_id == session.session_id:
            self.report.add("session", label, Action.UNCHANGED)
        else:
            reason = "the gateway has a newer session id: kept"
            self.report.add("session", label, Action.CONFLICT, reason)

    async def _import_packages(self, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            label = str(doc.get("mcpServerId") or doc.get("name"))
            try:
                record = map_package(doc)
            except InvalidRequest as exc:
                self.report.add("package", label, Action.NOT_CARRIED, exc.message)
                continue
            server = self._mapped.get(record.server_name)
            if server is not None:
                # What "the install produced": the re-install then re-derives the server's
                # command from the new directory instead of keeping mcp-api's path.
                record = replace(record, command=server.command, args=server.args)
            existing = await self._target.get_package(record.server_name)
            if existing is None:
                if not self._dry:
                    await self._target.put_package(record)
                reason = "re-installed into the gateway's packages directory at its next start"
                self.report.add("package", label, Action.CREATE, reason)
            elif (existing.name, existing.runtime) == (record.name, record.runtime):
                self.report.add("package", label, Action.UNCHANGED)
            else:
                reason = "the gateway has another package for this server: kept"
                self.report.add("package", label, Action.CONFLICT, reason)
