"""OAuth discovery for a user's external MCP server (``POST /mcp/external/discover``).

What mcp-api does, with its faults fixed (reference: mcp-api-user-servers.md):

1. The URL asked: http(s), no credentials; query and fragment dropped; refused by the SSRF
   guard (:mod:`.ssrf`) like every later fetch, on every connection and every redirect hop.
2. RFC 9728: an unauthenticated probe; a 401's ``WWW-Authenticate`` gives ``resource_metadata``
   and ``scope``. Candidates: the challenge URL, ``/.well-known/oauth-protected-resource<path>``,
   then the root form. The first JSON document with ``authorization_servers`` whose ``resource``
   covers the URL asked wins (mcp-api never checked ``resource``; a mismatch is refused, 400
   ``discovery_failed`` reason ``resource_mismatch``). A refused or failing candidate is skipped.
3. RFC 8414 / OIDC metadata for each issuer (at most :data:`MAX_AUTH_SERVERS`), in the SDK's
   well-known order. A document whose ``issuer`` is not the issuer asked is refused (mix-up
   defence, reason ``issuer_mismatch``); one without PKCE ``S256`` too (``pkce_s256_unsupported``).
   Its endpoints must pass the guard's syntax check (https unless an allowed host). An issuer
   that fails is skipped, not fatal (mcp-api aborted the whole run on one blocked issuer).
4. Or an issuer override (https, no credentials, query or fragment, not an endpoint URL): no
   protected-resource metadata; the resource is the URL asked.
5. Recommended registration mode: ``cimd`` if any server supports client id metadata documents,
   else ``dcr`` if any has a registration endpoint, else ``manual``.

The whole run has a budget of :data:`DISCOVERY_BUDGET` seconds; each fetch is bounded in size
and time (:mod:`.bounded`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    extract_field_from_www_auth,
    issuers_match,
)
from mcp.shared.auth_utils import check_resource_allowed

from mcp_gateway.errors import (
    BlockedDestination,
    DiscoveryFailed,
    ExternalDiscoveryFailed,
    InvalidRequest,
    IssuerMismatch,
    PkceUnsupported,
    ResourceMismatch,
)
from mcp_gateway.services.oauth.bounded import Fetched
from mcp_gateway.services.oauth.discovery import canonical_resource, get_json, redirect_target
from mcp_gateway.services.oauth.ssrf import MAX_REDIRECTS, GuardedClientFactory, SsrfGuard
from mcp_gateway.services.oauth.tokens import AUTH_METHODS

DISCOVERY_BUDGET = 20.0  # seconds for the whole run (mcp-api's budget)
PROBE_TIMEOUT = 5.0  # seconds for the unauthenticated probe's status line and headers
MAX_AUTH_SERVERS = 4  # issuers tried from one protected-resource document
_ENDPOINT_TAILS = ("/authorize", "/token", "/register")


@dataclass(frozen=True, slots=True)
class DiscoveredAuthServer:
    """One usable authorization server (all non-secret, from its metadata)."""

    issuer: str
    metadata_url: str
    authorization_endpoint: str
    token_endpoint: str
    code_challenge_methods: tuple[str, ...]
    scopes_supported: tuple[str, ...] | None = None
    cimd_supported: bool | None = None
    registration_endpoint: str | None = None
    auth_methods: tuple[str, ...] = ("client_secret_basic",)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "issuer": self.issuer,
            "authorizationServerMetadataUrl": self.metadata_url,
            "authorizationEndpoint": self.authorization_endpoint,
            "tokenEndpoint": self.token_endpoint,
            "codeChallengeMethodsSupported": list(self.code_challenge_methods),
            "tokenEndpointAuthMethodsSupported": list(self.auth_methods),
        }
        if self.scopes_supported is not None:
            out["scopesSupported"] = list(self.scopes_supported)
        if self.cimd_supported is not None:
            out["clientIdMetadataDocumentSupported"] = self.cimd_supported
        if self.registration_endpoint:
            out["registrationEndpoint"] = self.registration_endpoint
        return out


@dataclass(frozen=True, slots=True)
class ExternalDiscovery:
    server_url: str
    resource_uri: str
    discovery_source: str  # prm | issuer_override
    authorization_servers: tuple[DiscoveredAuthServer, ...]
    resource_metadata_url: str | None = None
    challenged_scopes: tuple[str, ...] | None = None

    @property
    def recommended_mode(self) -> str:
        if any(s.cimd_supported for s in self.authorization_servers):
            return "cimd"
        if any(s.registration_endpoint for s in self.authorization_servers):
            return "dcr"
        return "manual"

    def template(self, registration_mode: str | None = None, issuer: int = 0) -> dict[str, Any]:
        """mcp-api's ``oauthTemplate`` for the ``issuer``-th authorization server (what a
        client posts back with the server's definition; checked by
        :func:`~mcp_gateway.domain.oauth_template.parse_oauth_template`)."""
        server = self.authorization_servers[issuer]
        out: dict[str, Any] = {
            "authorizationServerIssuer": server.issuer,
            "authorizationServerMetadataUrl": server.metadata_url,
            "resourceUri": self.resource_uri,
            "authorizationEndpoint": server.authorization_endpoint,
            "tokenEndpoint": server.token_endpoint,
            "codeChallengeMethodsSupported": list(server.code_challenge_methods),
            "pkceRequired": True,
            "discoveryMode": "auto",
            "discoverySource": self.discovery_source,
            "registrationMode": registration_mode or self.recommended_mode,
            "tokenEndpointAuthMethodsSupported": list(server.auth_methods),
        }
        optional = {
            "resourceMetadataUrl": self.resource_metadata_url,
            "scopesSupported": server.scopes_supported,
            "challengedScopes": self.challenged_scopes,
            "clientIdMetadataDocumentSupported": server.cimd_supported,
            "registrationEndpoint": server.registration_endpoint,
        }
        out.update({k: list(v) if isinstance(v, tuple) else v for k, v in optional.items()
                    if v is not None})  # fmt: skip
        return out

    def to_wire(self) -> dict[str, Any]:
        """mcp-api's answer keys (``success`` added by the route)."""
        out: dict[str, Any] = {
            "serverUrl": self.server_url,
            "resourceUri": self.resource_uri,
            "discoverySource": self.discovery_source,
            "authorizationServers": [s.to_wire() for s in self.authorization_servers],
            "recommendedRegistrationMode": self.recommended_mode,
        }
        if self.resource_metadata_url:
            out["resourceMetadataUrl"] = self.resource_metadata_url
        if self.challenged_scopes is not None:
            out["challengedScopes"] = list(self.challenged_scopes)
        return out


@dataclass
class _Run:
    """What one discovery tried, and the first refusal of each kind (for the final error)."""

    attempted: list[str] = field(default_factory=list)
    failures: list[ExternalDiscoveryFailed] = field(default_factory=list)

    def fail(self, error: type[ExternalDiscoveryFailed], message: str) -> None:
        self.failures.append(error(message))

    def error(self, message: str) -> ExternalDiscoveryFailed:
        """The most specific refusal seen (PKCE, then issuer, then resource), else generic."""
        for kind in (PkceUnsupported, IssuerMismatch, ResourceMismatch):
            found = next((f for f in self.failures if type(f) is kind), None)
            if found is not None:
                return kind(found.message, self.attempted)
        cause = self.failures[-1].message if self.failures else None
        return ExternalDiscoveryFailed(message, self.attempted, cause)


def server_url_of(url: str, guard: SsrfGuard) -> str:
    """The URL to discover from: checked, without credentials, query or fragment.

    Raises InvalidRequest (not an absolute http(s) URL, embedded credentials) and
    BlockedDestination (plain http to a host that is not allowed).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # parsing raises for a malformed port
    except ValueError:
        raise InvalidRequest("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise InvalidRequest("url must be an absolute http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("url must not embed credentials (user:password@)")
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    guard.check_url(clean)
    return canonical_resource(clean) or clean


def _override_issuer(value: str, guard: SsrfGuard) -> str:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        raise InvalidRequest("authorizationServerIssuerOverride is not a valid URL") from None
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise InvalidRequest(
            "authorizationServerIssuerOverride must not carry credentials, a query or a fragment"
        )
    path = parts.path.rstrip("/")
    if "/.well-known/" in f"{path}/" or path.endswith(_ENDPOINT_TAILS):
        raise InvalidRequest(
            "authorizationServerIssuerOverride must be the issuer identifier, not a metadata "
            "or endpoint URL"
        )
    if parts.scheme != "https" and not guard.is_allowed_host(parts.hostname or ""):
        raise InvalidRequest("authorizationServerIssuerOverride must be an https URL")
    guard.check_url(value.strip())
    return value.strip()


async def discover_external(
    http: GuardedClientFactory,
    url: str,
    issuer_override: str | None = None,
    *,
    budget: float = DISCOVERY_BUDGET,
) -> ExternalDiscovery:
    """Discover how users sign in to the MCP server at ``url`` (see the module doc).

    Raises InvalidRequest / BlockedDestination (the URL asked is malformed or refused),
    ExternalDiscoveryFailed and its subclasses (nothing usable; ``attemptedUrls`` lists what
    was tried).
    """
    guard = http.guard
    server_url = server_url_of(url, guard)
    override = _override_issuer(issuer_override, guard) if issuer_override else None
    run = _Run()
    try:
        with anyio.fail_after(budget):
            async with http() as client:
                if override is not None:
                    found = await _auth_servers(client, guard, [override], run)
                    return ExternalDiscovery(server_url, server_url, "issuer_override", found)
                return await _from_resource(client, guard, server_url, run)
    except TimeoutError:
        raise ExternalDiscoveryFailed(
            f"OAuth discovery did not finish within {budget:g} s", run.attempted, "timeout"
        ) from None


async def _from_resource(
    client: httpx2.AsyncClient, guard: SsrfGuard, server_url: str, run: _Run
) -> ExternalDiscovery:
    challenge_url, scope = await _probe(client, guard, server_url)
    for candidate in build_protected_resource_metadata_discovery_urls(challenge_url, server_url):
        run.attempted.append(candidate)
        try:
            prm = await get_json(client, guard, candidate)
        except (DiscoveryFailed, BlockedDestination) as exc:
            run.fail(ExternalDiscoveryFailed, exc.message)
            continue
        issuers = prm.get("authorization_servers") if prm else None
        if prm is None or not isinstance(issuers, list) or not issuers:
            continue
        resource = prm.get("resource")
        resource = resource if isinstance(resource, str) and resource else server_url
        if not check_resource_allowed(server_url, resource):
            run.fail(
                ResourceMismatch,
                "the protected resource metadata names another resource than the URL asked",
            )
            continue
        names = [i for i in issuers if isinstance(i, str)][:MAX_AUTH_SERVERS]
        found = await _auth_servers(client, guard, names, run)
        scopes = tuple(scope.split()) if scope else None
        return ExternalDiscovery(server_url, resource, "prm", found, candidate, scopes)
    raise run.error("no usable OAuth protected resource metadata found for this URL")


async def _probe(
    client: httpx2.AsyncClient, guard: SsrfGuard, server_url: str
) -> tuple[str | None, str | None]:
    """GET the server without credentials; from a 401: (resource_metadata, scope). Only the
    status line and headers are read (an open server may answer with an endless SSE stream).
    Unreachable: (None, None), and the well-known URLs are tried anyway."""
    target = guard.check_url(server_url)
    headers = {"Accept": "application/json, text/event-stream"}
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            with anyio.fail_after(PROBE_TIMEOUT):
                async with client.stream("GET", target, headers=headers) as response:
                    status, head = response.status_code, response.headers
        except (httpx2.HTTPError, TimeoutError):
            return None, None
        if status in (301, 302, 303, 307, 308):
            try:
                where = "the MCP server"
                target = guard.check_url(redirect_target(target, Fetched(status, head, b""), where))
            except DiscoveryFailed:
                return None, None
            continue
        if status != 401:
            return None, None
        challenge = httpx2.Response(status, headers=head)
        return (
            extract_field_from_www_auth(challenge, "resource_metadata"),
            extract_field_from_www_auth(challenge, "scope"),
        )
    return None, None


async def _auth_servers(
    client: httpx2.AsyncClient, guard: SsrfGuard, issuers: list[str], run: _Run
) -> tuple[DiscoveredAuthServer, ...]:
    found: list[DiscoveredAuthServer] = []
    for issuer in issuers:
        server = await _auth_server(client, guard, issuer, run)
        if server is not None:
            found.append(server)
    if not found:
        raise run.error("no usable OAuth authorization server metadata found")
    return tuple(found)


async def _auth_server(
    client: httpx2.AsyncClient, guard: SsrfGuard, issuer: str, run: _Run
) -> DiscoveredAuthServer | None:
    try:
        guard.check_url(issuer)
    except BlockedDestination as exc:
        run.fail(ExternalDiscoveryFailed, exc.message)
        return None
    for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, issuer):
        run.attempted.append(url)
        try:
            meta = await get_json(client, guard, url)
        except (DiscoveryFailed, BlockedDestination) as exc:
            run.fail(ExternalDiscoveryFailed, exc.message)
            continue
        if meta is None:
            continue
        named = meta.get("issuer")
        if not isinstance(named, str) or not issuers_match(named, issuer):
            run.fail(IssuerMismatch, "authorization server metadata names another issuer")
            continue
        try:
            return _usable(issuer, url, meta, guard)
        except ExternalDiscoveryFailed as exc:
            run.failures.append(exc)
        except BlockedDestination as exc:
            run.fail(ExternalDiscoveryFailed, exc.message)
    return None


def _strings(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(v for v in value if isinstance(v, str))


def _usable(issuer: str, url: str, meta: dict[str, Any], guard: SsrfGuard) -> DiscoveredAuthServer:
    authorize, token = meta.get("authorization_endpoint"), meta.get("token_endpoint")
    if not isinstance(authorize, str) or not isinstance(token, str):
        raise ExternalDiscoveryFailed(
            "authorization server metadata lacks authorization_endpoint or token_endpoint"
        )
    methods = _strings(meta.get("code_challenge_methods_supported")) or ()
    if "S256" not in methods:
        raise PkceUnsupported("the authorization server does not support PKCE S256")
    guard.check_url(authorize)
    guard.check_url(token)
    registration = meta.get("registration_endpoint")
    registration = registration if isinstance(registration, str) and registration else None
    if registration is not None:
        guard.check_url(registration)
    auth_methods = tuple(m for m in _strings(meta.get("token_endpoint_auth_methods_supported"))
                         or ("client_secret_basic",) if m in AUTH_METHODS)  # fmt: skip
    cimd = meta.get("client_id_metadata_document_supported")
    return DiscoveredAuthServer(
        issuer=issuer,
        metadata_url=url,
        authorization_endpoint=authorize,
        token_endpoint=token,
        code_challenge_methods=methods,
        scopes_supported=_strings(meta.get("scopes_supported")),
        cimd_supported=cimd if isinstance(cimd, bool) else None,
        registration_endpoint=registration,
        auth_methods=auth_methods,
    )
