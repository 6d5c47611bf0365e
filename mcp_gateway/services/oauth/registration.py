"""The OAuth client the gateway uses at an external server's authorization server.

:meth:`ClientRegistry.resolve_client` answers for each registration mode:

- ``manual``: the client id (and secret) the user gave for their install.
- ``dcr``: RFC 7591 dynamic registration, ONE client per (issuer, gateway origin, redirect
  URI) shared by every server and user behind that issuer (mcp-api's ``mcpDcrClients`` key).
  It is stored in the store's OAuth token records under a reserved owner (see
  :func:`registration_owner`; a server name cannot contain ``/``), so the client secret is
  encrypted like any token field (AAD bound to that owner), key rotation rewraps it, and both
  stores hold it with no schema change. Registering is single-flight across tasks and replicas:
  the store lease ``oauth-dcr:<digest>`` elects one registrant; the others poll for its record.
  A client whose secret expired (``client_secret_expires_at``) is registered again.
- ``cimd``: OAuth Client ID Metadata Documents. The client id is the URL of the document the
  gateway serves itself, ``<MCPGW_PUBLIC_URL>/oauth/client-metadata.json``
  (:func:`client_metadata_document`); the AS fetches it. No secret, nothing stored.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.dcr_clients import KIND, OWNER_PREFIX, origin_of, registration_owner
from mcp_gateway.errors import InvalidRequest, UpstreamBusy
from mcp_gateway.services.oauth.discovery import AuthServerMetadata
from mcp_gateway.services.oauth.grants import ClientAuth, register
from mcp_gateway.services.oauth.ssrf import GuardedClientFactory
from mcp_gateway.services.oauth.tokens import TokenSet, seal, unseal
from mcp_gateway.storage.ports import OAuthTokenStore

log = logging.getLogger("mcp_gateway.oauth")

CLIENT_METADATA_PATH = "/oauth/client-metadata.json"
CALLBACK_PATH = "/oauth/callback"
CLIENT_NAME = "mcp-gateway"
LEASE_TTL = 30.0  # seconds: longer than one registration request (its deadline is 20 s)
WAIT_FOR_PEER = 30.0  # how long a replica waits for another's registration (mcp-api: 30 s)
_POLL = 0.05


@dataclass(frozen=True, slots=True)
class ResolvedClient:
    """The client for one login. ``repr`` and :meth:`to_wire` never show the secret."""

    registration_mode: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    auth_method: str = "none"

    @property
    def auth(self) -> ClientAuth:
        return ClientAuth(self.client_id, self.client_secret, self.auth_method)

    def to_wire(self) -> dict[str, Any]:
        """mcp-api's ``client`` object without ``clientSecret`` (mcp-api returned it in
        plaintext); ``hasClientSecret`` says whether one exists."""
        return {
            "registrationMode": self.registration_mode,
            "clientId": self.client_id,
            "tokenEndpointAuthMethod": self.auth_method,
            "hasClientSecret": bool(self.client_secret),
        }


def client_metadata_url(public_url: str) -> str:
    return public_url.rstrip("/") + CLIENT_METADATA_PATH


def client_metadata_document(public_url: str, client_name: str = CLIENT_NAME) -> dict[str, Any]:
    """The gateway's OAuth Client ID Metadata Document: a public client (PKCE, no secret)
    whose only redirect URI is the gateway's callback."""
    base = public_url.rstrip("/")
    return {
        "client_id": client_metadata_url(base),
        "client_name": client_name,
        "client_uri": base,
        "redirect_uris": [base + CALLBACK_PATH],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }


def dcr_auth_method(supported: Sequence[str]) -> str:
    """mcp-api's preference: none, then client_secret_post, then client_secret_basic (what an
    AS that lists nothing supports, RFC 8414's default)."""
    offered = tuple(supported) or ("client_secret_basic",)
    return next(
        (m for m in ("none", "client_secret_post", "client_secret_basic") if m in offered),
        "client_secret_basic",
    )


def manual_auth_method(supported: Sequence[str], has_secret: bool) -> str:
    """mcp-api's rule (``client_secret_post`` with a secret, else ``none``), except that an AS
    listing ``client_secret_basic`` but not ``_post`` gets basic."""
    if not has_secret:
        return "none"
    if supported and "client_secret_post" not in supported and "client_secret_basic" in supported:
        return "client_secret_basic"
    return "client_secret_post"


class ClientRegistry:
    """Resolves the OAuth client for a login at an external server's AS."""

    def __init__(
        self,
        store: OAuthTokenStore,
        keyring: Keyring,
        http: GuardedClientFactory,
        public_url: str | None,
        *,
        lease_ttl: float = LEASE_TTL,
        wait_for_peer: float = WAIT_FOR_PEER,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._http = http
        self._public_url = public_url
        self._lease_ttl = lease_ttl
        self._wait = wait_for_peer
        self._locks: dict[str, anyio.Lock] = {}
        self.registrations = 0  # registration requests this instance sent (tests, metrics)

    async def resolve_client(
        self,
        mode: str,
        metadata: AuthServerMetadata,
        redirect_uri: str,
        *,
        manual: ClientAuth | None = None,
        client_name: str = CLIENT_NAME,
        public_origin: str | None = None,
    ) -> ResolvedClient:
        """The client for ``mode`` (``manual``, ``dcr`` or ``cimd``) at ``metadata``'s AS.

        ``manual`` is the user's own client (manual mode only); ``public_origin`` the
        gateway's origin in the DCR key (default: ``redirect_uri``'s).

        Raises InvalidRequest (unknown mode, no manual client id, no registration endpoint,
        no public URL for CIMD), UpstreamBusy (another replica's registration takes too long),
        TokenEndpointError / UpstreamUnavailable / BlockedDestination (the registration).
        """
        if mode == "manual":
            if manual is None or not manual.client_id:
                raise InvalidRequest(
                    "manual OAuth registration: no client id is configured for this install"
                )
            method = manual_auth_method(metadata.auth_methods_supported, bool(manual.client_secret))
            return ResolvedClient("manual", manual.client_id, manual.client_secret or None, method)
        if mode == "cimd":
            if not self._public_url:
                raise InvalidRequest(
                    "client id metadata documents need MCPGW_PUBLIC_URL (the document's URL is "
                    "the client id)"
                )
            return ResolvedClient("cimd", client_metadata_url(self._public_url), None, "none")
        if mode == "dcr":
            return await self._dcr(metadata, redirect_uri, public_origin, client_name)
        raise InvalidRequest("registrationMode must be one of cimd, dcr, manual")

    async def _dcr(
        self,
        meta: AuthServerMetadata,
        redirect_uri: str,
        public_origin: str | None,
        client_name: str,
    ) -> ResolvedClient:
        if not meta.registration_endpoint:
            raise InvalidRequest(
                "dynamic client registration: the authorization server has no registration endpoint"
            )
        issuer = meta.issuer or origin_of(meta.token_endpoint)
        owner = registration_owner(issuer, public_origin or origin_of(redirect_uri), redirect_uri)
        found = await self._load(owner, meta)
        if found is not None:
            return found
        async with self._locks.setdefault(owner, anyio.Lock()):
            lease = "oauth-dcr:" + owner.removeprefix(OWNER_PREFIX)
            deadline = time.monotonic() + self._wait
            while True:
                found = await self._load(owner, meta)
                if found is not None:
                    return found
                holder = secrets.token_hex(16)
                if await self._store.acquire_lease(lease, holder, self._lease_ttl):
                    try:
                        found = await self._load(
                            owner, meta
                        )  # the previous holder may have finished
                        if found is not None:
                            return found
                        return await self._register(owner, issuer, meta, redirect_uri, client_name)
                    finally:
                        await self._store.release_lease(lease, holder)
                if time.monotonic() >= deadline:
                    raise UpstreamBusy(
                        "OAuth client registration is held by another gateway process",
                        retry_after=2,
                    )
                await anyio.sleep(_POLL)

    async def forget(self, tokens: TokenSet) -> bool:
        """Drop the shared registration that obtained ``tokens`` after the AS refused it as
        ``invalid_client`` (it expired or was deleted there), so the next login registers again.
        Keyed like :meth:`_dcr` by the tokens' issuer and redirect URI; a newer registration
        (another client id) is kept. True when one was dropped."""
        meta, redirect_uri = tokens.auth_server, tokens.redirect_uri
        if meta is None or not redirect_uri or not tokens.client_id:
            return False
        issuer = meta.issuer or origin_of(meta.token_endpoint)
        owner = registration_owner(issuer, origin_of(redirect_uri), redirect_uri)
        record = await self._store.get_tokens(owner, "")
        if record is None or record.meta.get("client_id") != tokens.client_id:
            return False
        dropped = await self._store.delete_tokens(owner, "")
        if dropped:
            log.warning("OAuth client at issuer %s was refused (invalid_client): dropped", issuer)
        return dropped

    async def _load(self, owner: str, meta: AuthServerMetadata) -> ResolvedClient | None:
        """The shared client of ``owner``, if one is registered and still valid. Raises
        InvalidRequest when it was registered with other token or registration endpoints than
        ``meta``'s: the key is only (issuer, origin, redirect URI), and a template naming a
        real issuer with endpoints of its own must never receive that client's secret."""
        record = await self._store.get_tokens(owner, "")
        if record is None or record.meta.get("kind") != KIND:
            return None
        bound = (record.meta.get("token_endpoint"), record.meta.get("registration_endpoint"))
        if bound != (meta.token_endpoint, meta.registration_endpoint):
            raise InvalidRequest(
                f"the shared OAuth client of issuer {record.meta.get('issuer')!r} was registered "
                "with other token and registration endpoints than this server's oauthTemplate "
                "names: the template's endpoints must be that issuer's"
            )
        stored = unseal(record, self._keyring)
        if not stored.client_id or (stored.expires_at is not None and stored.is_expired()):
            return None  # the AS let the secret expire: register again
        return ResolvedClient("dcr", stored.client_id, stored.client_secret, stored.auth_method)

    async def _register(
        self,
        owner: str,
        issuer: str,
        meta: AuthServerMetadata,
        redirect_uri: str,
        client_name: str,
    ) -> ResolvedClient:
        assert meta.registration_endpoint is not None
        async with self._http() as client:
            self.registrations += 1
            done = await register(
                client,
                self._http.guard,
                meta.registration_endpoint,
                redirect_uri=redirect_uri,
                client_name=client_name,
                auth_method=dcr_auth_method(meta.auth_methods_supported),
            )
        record = TokenSet(
            server=owner,
            username="",
            access_token="",
            client_secret=done.client.client_secret,
            expires_at=done.secret_expires_at,
            client_id=done.client.client_id,
            auth_method=done.client.method,
            redirect_uri=redirect_uri,
            updated_at=time.time(),
            auth_server=meta,  # its token endpoint is bound to the record (see _load)
            extra_meta={
                "kind": KIND,
                "issuer": issuer,
                "registration_endpoint": meta.registration_endpoint,
            },
        )
        await self._store.put_tokens(seal(record, self._keyring))
        log.info("OAuth client registered at issuer %s (shared by its servers)", issuer)
        assert done.client.client_id is not None
        return ResolvedClient("dcr", done.client.client_id, done.client.client_secret,
                              done.client.method)  # fmt: skip
