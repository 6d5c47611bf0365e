"""Single-flight token refresh per (server, username), across tasks and across processes.

Within a process an ``anyio.Lock`` per key queues the callers; across processes (replicas, or
a CLI next to the server) a store lease ``oauth-refresh:<server>:<username>`` elects one
refresher. Whoever wins the lease re-reads the tokens first: another process may have refreshed
while we waited, in which case the new token is used and the refresh token is not spent twice
(an AS that rotates refresh tokens would treat a second use as token theft and revoke them all).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import anyio

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import (
    GatewayError,
    GrantRevoked,
    ReauthRequired,
    TokenEndpointError,
    UpstreamBusy,
)
from mcp_gateway.services.oauth.discovery import AuthServerMetadata
from mcp_gateway.services.oauth.grants import ClientAuth, refresh_grant
from mcp_gateway.services.oauth.ssrf import GuardedClientFactory
from mcp_gateway.services.oauth.tokens import STATE_REAUTH, TokenSet, seal, unseal
from mcp_gateway.storage.ports import OAuthTokenStore

log = logging.getLogger("mcp_gateway.oauth")

LEASE_TTL = 30.0  # > token request timeout + discovery; a crashed holder blocks this long
WAIT_FOR_PEER = 20.0  # how long a loser waits for the winner's new token
_POLL = 0.05

ResolveAuthServer = Callable[[ServerConfig, TokenSet], Awaitable[AuthServerMetadata]]
# Told about tokens whose client the AS no longer knows (``invalid_client``); True when that
# client was a shared registration it forgot, so the next login registers a new one.
ClientRejected = Callable[[TokenSet], Awaitable[bool]]


def _reauth(server: str, why: str) -> ReauthRequired:
    return ReauthRequired(f"OAuth login for server {server!r} is no longer valid ({why})")


class TokenRefresher:
    """Loads tokens and returns a usable set, refreshing at most once per expiry anywhere."""

    def __init__(
        self,
        store: OAuthTokenStore,
        keyring: Keyring,
        http: GuardedClientFactory,
        resolve_auth_server: ResolveAuthServer,
        *,
        lease_ttl: float = LEASE_TTL,
        wait_for_peer: float = WAIT_FOR_PEER,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._http = http
        self._resolve = resolve_auth_server
        self._lease_ttl = lease_ttl
        self._wait = wait_for_peer
        self._locks: dict[tuple[str, str], anyio.Lock] = {}
        self.refreshes = 0  # token requests this instance sent (tests)
        self.observers: list[Callable[[str, bool], None]] = []  # (server, succeeded): metrics
        self.client_rejected: ClientRejected | None = None

    async def load(self, server: str, username: str) -> TokenSet | None:
        record = await self._store.get_tokens(server, username)
        return unseal(record, self._keyring) if record is not None else None

    @staticmethod
    def _usable(tokens: TokenSet, rejected: str | None) -> bool:
        if rejected is not None and tokens.access_token == rejected:
            return False
        return not tokens.needs_refresh()

    def _checked(self, server: str, tokens: TokenSet | None) -> TokenSet:
        if tokens is None:
            raise _reauth(server, "no tokens stored")
        if tokens.state == STATE_REAUTH:
            raise _reauth(server, "the refresh token was revoked or expired")
        return tokens

    async def fresh(
        self, server: ServerConfig, username: str, *, rejected: str | None = None
    ) -> TokenSet:
        """A token set whose access token is not about to expire (and is not ``rejected``).

        Raises ReauthRequired (no tokens, grant revoked), UpstreamUnavailable/UpstreamError
        (AS unreachable or refusing), UpstreamBusy (a peer holds the lease too long),
        BlockedDestination, CryptoError, StoreUnavailable.
        """
        tokens = self._checked(server.name, await self.load(server.name, username))
        if self._usable(tokens, rejected):
            return tokens
        key = (server.name, username)
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            return await self._fresh_locked(server, username, rejected)

    async def _fresh_locked(
        self, server: ServerConfig, username: str, rejected: str | None
    ) -> TokenSet:
        lease = f"oauth-refresh:{server.name}:{username}"
        deadline = time.monotonic() + self._wait
        while True:
            tokens = self._checked(server.name, await self.load(server.name, username))
            if self._usable(tokens, rejected):
                return tokens  # refreshed by another task or process meanwhile
            holder = secrets.token_hex(16)
            if await self._store.acquire_lease(lease, holder, self._lease_ttl):
                try:
                    # Re-read after winning: the previous holder may have just finished.
                    tokens = self._checked(server.name, await self.load(server.name, username))
                    if self._usable(tokens, rejected):
                        return tokens
                    return await self._refresh(server, tokens, rejected)
                finally:
                    await self._store.release_lease(lease, holder)
            if time.monotonic() >= deadline:
                if rejected is None and not tokens.is_expired():
                    return tokens  # still valid for a little while: do not fail the call
                raise UpstreamBusy(
                    f"OAuth refresh for server {server.name!r} is held by another process",
                    retry_after=2,
                )
            await anyio.sleep(_POLL)

    async def _refresh(
        self, server: ServerConfig, tokens: TokenSet, rejected: str | None
    ) -> TokenSet:
        if not tokens.refresh_token:
            await self._mark_reauth(tokens)
            raise _reauth(server.name, "the access token expired and there is no refresh token")
        auth_server = tokens.auth_server or await self._resolve(server, tokens)
        client_auth = ClientAuth(tokens.client_id, tokens.client_secret, tokens.auth_method)
        try:
            async with self._http() as client:
                self.refreshes += 1
                body = await refresh_grant(
                    client,
                    self._http.guard,
                    auth_server.token_endpoint,
                    tokens.refresh_token,
                    client_auth,
                    resource=tokens.resource or auth_server.resource,
                )
        except GrantRevoked:
            self._observe(server.name, ok=False)
            await self._mark_reauth(tokens)
            raise _reauth(
                server.name, "the authorization server refused the refresh token"
            ) from None
        except GatewayError as exc:
            self._observe(server.name, ok=False)
            if await self._forgotten_client(exc, tokens):
                await self._mark_reauth(tokens)
                raise _reauth(
                    server.name, "the authorization server no longer knows the gateway's client"
                ) from None
            if rejected is None and not tokens.is_expired():
                # Early refresh failed but the token still works: use it, retry next call.
                log.warning("OAuth refresh for %s failed early: %s", server.name, exc.code)
                return tokens
            raise
        self._observe(server.name, ok=True)
        fresh = tokens.with_response(body)
        if fresh.auth_server is None:
            fresh = replace(fresh, auth_server=auth_server)
        await self._store.put_tokens(seal(fresh, self._keyring))
        log.info("OAuth tokens refreshed for server %s", server.name)
        return fresh

    async def _forgotten_client(self, exc: GatewayError, tokens: TokenSet) -> bool:
        """An ``invalid_client`` refusal of a dynamically registered client the registry
        dropped: a new login (and registration) is the only way on."""
        if not isinstance(exc, TokenEndpointError) or exc.error_code != "invalid_client":
            return False
        return self.client_rejected is not None and await self.client_rejected(tokens)

    def _observe(self, server: str, *, ok: bool) -> None:
        for observe in self.observers:
            observe(server, ok)

    async def _mark_reauth(self, tokens: TokenSet) -> None:
        record = await self._store.get_tokens(tokens.server, tokens.username)
        if record is None:
            return
        await self._store.put_tokens(replace(record, state=STATE_REAUTH, updated_at=time.time()))
