"""Authorization-server discovery: RFC 9728 protected-resource metadata, then RFC 8414.

Every fetch goes through the guarded client (:mod:`.ssrf`); redirects are followed by hand, at
most :data:`~.ssrf.MAX_REDIRECTS`, GET only, each hop re-checked (the network backend checks the
address of every connection, :meth:`SsrfGuard.check_url` the scheme of every hop).

Configuration on the server definition (its typed ``oauth`` field,
:class:`~mcp_gateway.domain.servers.OAuthSpec`) overrides discovery: a ``token_endpoint`` there
means the endpoints are taken as given; ``resource_metadata_url`` and ``resource`` steer it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

import httpx2
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
)

from mcp_gateway.domain.servers import OAuthSpec, ServerConfig
from mcp_gateway.errors import DiscoveryFailed
from mcp_gateway.services.oauth.bounded import Fetched, fetch
from mcp_gateway.services.oauth.ssrf import MAX_REDIRECTS, SsrfGuard

_REDIRECTS = (301, 302, 303, 307, 308)
# A DNS name or an IP literal; httpx2 percent-encodes what it cannot parse (``[bad``).
_HOST = re.compile(r"[A-Za-z0-9._:-]+")


@dataclass(frozen=True, slots=True)
class AuthServerMetadata:
    """What the gateway needs to know about one authorization server (all non-secret)."""

    token_endpoint: str
    authorization_endpoint: str | None = None
    registration_endpoint: str | None = None
    issuer: str | None = None
    resource: str | None = None
    scopes_supported: tuple[str, ...] = ()
    auth_methods_supported: tuple[str, ...] = ()
    code_challenge_methods: tuple[str, ...] = ()

    def to_meta(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> AuthServerMetadata | None:
        if not meta or not isinstance(meta.get("token_endpoint"), str):
            return None
        return cls(
            token_endpoint=meta["token_endpoint"],
            authorization_endpoint=meta.get("authorization_endpoint"),
            registration_endpoint=meta.get("registration_endpoint"),
            issuer=meta.get("issuer"),
            resource=meta.get("resource"),
            scopes_supported=tuple(meta.get("scopes_supported") or ()),
            auth_methods_supported=tuple(meta.get("auth_methods_supported") or ()),
            code_challenge_methods=tuple(meta.get("code_challenge_methods") or ()),
        )


_NO_OAUTH = OAuthSpec(enabled=False)


def oauth_spec(server: ServerConfig) -> OAuthSpec:
    """The server's OAuth settings (a disabled, empty spec when it has none)."""
    return server.oauth if server.oauth is not None else _NO_OAUTH


def configured_metadata(server: ServerConfig) -> AuthServerMetadata | None:
    """The authorization server as configured on the definition, or None to discover it."""
    spec = oauth_spec(server)
    if not spec.token_endpoint:
        return None
    return AuthServerMetadata(
        token_endpoint=spec.token_endpoint,
        authorization_endpoint=spec.authorization_endpoint,
        registration_endpoint=spec.registration_endpoint,
        issuer=spec.issuer,
        resource=spec.resource or canonical_resource(server.url),
    )


def canonical_resource(url: str | None) -> str | None:
    """RFC 8707 resource indicator for an MCP server URL: no fragment, lower-case host."""
    if not url:
        return None
    parsed = httpx2.URL(url)
    return str(parsed.copy_with(fragment=None, host=parsed.host.lower()))


async def get_json(client: httpx2.AsyncClient, guard: SsrfGuard, url: str) -> dict[str, Any] | None:
    """GET a JSON object (at most MAX_RESPONSE_BYTES, see :mod:`.bounded`), following at most
    MAX_REDIRECTS redirects by hand.

    Returns None for a 4xx answer (the caller tries the next well-known URL). Raises
    BlockedDestination for a refused hop, DiscoveryFailed for other failures (unreachable, too
    large, too slow, a redirect without a usable Location).
    """
    target = guard.check_url(url)
    for _hop in range(MAX_REDIRECTS + 1):
        where = f"OAuth metadata at host {target.host!r}"
        try:
            response = await fetch(
                client,
                "GET",
                target,
                what=where,
                fail=DiscoveryFailed,
                headers={"Accept": "application/json"},
            )
        except httpx2.HTTPError as exc:
            raise DiscoveryFailed(f"{where} is unreachable ({type(exc).__name__})") from exc
        if response.status_code in _REDIRECTS:
            target = guard.check_url(redirect_target(target, response, where))
            continue
        if 400 <= response.status_code < 500:
            return None
        if response.status_code != 200:
            raise DiscoveryFailed(f"{where} answered HTTP {response.status_code}")
        try:
            body = json.loads(response.content)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None
    raise DiscoveryFailed(f"too many redirects fetching OAuth metadata from {target.host!r}")


def redirect_target(current: httpx2.URL, response: Fetched, where: str) -> httpx2.URL:
    """The absolute URL a 3xx points to. Raises DiscoveryFailed naming what is wrong with it
    (never echoing it: the value comes from a server we do not trust)."""
    location = response.headers.get("location", "").strip()
    status = response.status_code
    if not location:
        raise DiscoveryFailed(f"{where} answered HTTP {status} without a Location header")
    try:
        target = current.join(location)
        valid_host = _HOST.fullmatch(target.host) is not None
        port = target.port  # parsing the port raises for a malformed one
    except (httpx2.InvalidURL, ValueError, TypeError):
        valid_host, port = False, None
    if not valid_host or (port is not None and not 0 < port < 65536):
        raise DiscoveryFailed(
            f"{where} answered HTTP {status} with a malformed Location header (not a valid URL)"
        )
    return target


async def discover(
    client: httpx2.AsyncClient,
    guard: SsrfGuard,
    server_url: str,
    resource_metadata_url: str | None = None,
) -> AuthServerMetadata:
    """Find the authorization server of the MCP server at ``server_url``.

    Raises DiscoveryFailed when neither protected-resource nor AS metadata is usable,
    BlockedDestination when a URL on the way is refused by the SSRF guard.
    """
    auth_server: str | None = None
    resource = canonical_resource(server_url)
    for url in build_protected_resource_metadata_discovery_urls(resource_metadata_url, server_url):
        prm = await get_json(client, guard, url)
        servers = prm.get("authorization_servers") if prm else None
        if prm and isinstance(servers, list) and servers and isinstance(servers[0], str):
            auth_server = servers[0]
            if isinstance(prm.get("resource"), str):
                resource = prm["resource"]
            break
    for url in build_oauth_authorization_server_metadata_discovery_urls(auth_server, server_url):
        meta = await get_json(client, guard, url)
        if meta and isinstance(meta.get("token_endpoint"), str):
            guard.check_url(meta["token_endpoint"])
            return AuthServerMetadata(
                token_endpoint=meta["token_endpoint"],
                authorization_endpoint=meta.get("authorization_endpoint"),
                registration_endpoint=meta.get("registration_endpoint"),
                issuer=meta.get("issuer"),
                resource=resource,
                scopes_supported=tuple(meta.get("scopes_supported") or ()),
                auth_methods_supported=tuple(
                    meta.get("token_endpoint_auth_methods_supported") or ()
                ),
                code_challenge_methods=tuple(meta.get("code_challenge_methods_supported") or ()),
            )
    raise DiscoveryFailed("no OAuth authorization-server metadata found for this server")
