"""Calls to the authorization server: token endpoint (refresh, code exchange) and RFC 7591
dynamic client registration.

Requests go through the guarded client and never follow redirects (a token endpoint that
redirects is misconfigured or hostile). Errors name the endpoint's host and the RFC 6749 error
code, never a token, a client secret or the AS's free-text ``error_description``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2

from mcp_gateway.errors import (
    GrantRevoked,
    TokenEndpointError,
    UpstreamUnavailable,
)
from mcp_gateway.services.oauth.bounded import fetch
from mcp_gateway.services.oauth.ssrf import SsrfGuard

_ERROR_CODE_RE = re.compile(r"^[a-z_]{1,64}$")


@dataclass(frozen=True, slots=True)
class ClientAuth:
    """How the gateway authenticates to the token endpoint. ``repr`` hides the secret."""

    client_id: str | None
    client_secret: str | None = None
    method: str = "none"  # none | client_secret_post | client_secret_basic

    def __repr__(self) -> str:
        return f"ClientAuth({self.client_id!r}, method={self.method!r})"

    def apply(self, form: dict[str, str], headers: dict[str, str]) -> None:
        if self.method == "client_secret_basic" and self.client_id and self.client_secret:
            # RFC 6749 2.3.1: both parts form-urlencoded before base64.
            raw = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode("ascii")
            return
        if self.client_id:
            form["client_id"] = self.client_id
        if self.method == "client_secret_post" and self.client_secret:
            form["client_secret"] = self.client_secret


async def _post(
    client: httpx2.AsyncClient,
    guard: SsrfGuard,
    url: str,
    *,
    form: dict[str, str] | None = None,
    json_body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    what: str,
) -> dict[str, Any]:
    target = guard.check_url(url)
    where = f"OAuth {what} at host {target.host!r}"
    try:
        response = await fetch(
            client,
            "POST",
            target,
            what=where,
            fail=TokenEndpointError,
            data=form,
            json=json_body,
            headers={"Accept": "application/json", **(headers or {})},
        )
    except httpx2.HTTPError as exc:
        raise UpstreamUnavailable(f"{where} is unreachable ({type(exc).__name__})") from exc
    body: Any = None
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if 200 <= response.status_code < 300 and isinstance(body, dict):
        return body
    code = body.get("error") if isinstance(body, dict) else None
    code = code if isinstance(code, str) and _ERROR_CODE_RE.fullmatch(code) else None
    message = f"{where} answered HTTP {response.status_code}"
    if code:
        message += f" ({code})"
    if code == "invalid_grant":
        raise GrantRevoked(message, code)
    raise TokenEndpointError(message, code)


def _token_body(body: dict[str, Any], endpoint_host: str) -> dict[str, Any]:
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise TokenEndpointError(f"OAuth token endpoint at {endpoint_host!r} sent no access_token")
    return body


async def refresh_grant(
    client: httpx2.AsyncClient,
    guard: SsrfGuard,
    token_endpoint: str,
    refresh_token: str,
    auth: ClientAuth,
    *,
    resource: str | None = None,
) -> dict[str, Any]:
    """RFC 6749 section 6 with the RFC 8707 ``resource``. Raises GrantRevoked on invalid_grant."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await _token_request(client, guard, token_endpoint, form, auth, resource)


async def code_grant(
    client: httpx2.AsyncClient,
    guard: SsrfGuard,
    token_endpoint: str,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    auth: ClientAuth,
    resource: str | None = None,
) -> dict[str, Any]:
    """Authorization-code exchange with PKCE (RFC 7636) and RFC 8707 ``resource``."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    return await _token_request(client, guard, token_endpoint, form, auth, resource)


async def _token_request(
    client: httpx2.AsyncClient,
    guard: SsrfGuard,
    token_endpoint: str,
    form: dict[str, str],
    auth: ClientAuth,
    resource: str | None,
) -> dict[str, Any]:
    """POST a grant to the token endpoint with client authentication and RFC 8707 resource."""
    if resource:
        form["resource"] = resource
    headers: dict[str, str] = {}
    auth.apply(form, headers)
    body = await _post(
        client, guard, token_endpoint, form=form, headers=headers, what="token endpoint"
    )
    return _token_body(body, guard.check_url(token_endpoint).host)


@dataclass(frozen=True, slots=True)
class Registration:
    """An RFC 7591 registration: the client, and when its secret expires (epoch seconds;
    None: never, the AS's ``client_secret_expires_at`` 0 or absent)."""

    client: ClientAuth
    secret_expires_at: float | None = None


async def register_client(
    client: httpx2.AsyncClient,
    guard: SsrfGuard,
    registration_endpoint: str,
    *,
    redirect_uri: str,
    scopes: tuple[str, ...] = (),
    client_name: str = "mcp-gateway",
    auth_method: str = "client_secret_basic",
) -> ClientAuth:
    """RFC 7591 dynamic registration of a client for the authorization-code flow."""
    registration = await register(
        client,
        guard,
        registration_endpoint,
        redirect_uri=redirect_uri,
        scopes=scopes,
        client_name=client_name,
        auth_method=auth_method,
    )
    return registration.client


async def register(
    client: httpx2.AsyncClient,
    guard: SsrfGuard,
    registration_endpoint: str,
    *,
    redirect_uri: str,
    scopes: tuple[str, ...] = (),
    client_name: str = "mcp-gateway",
    auth_method: str = "client_secret_basic",
) -> Registration:
    """:func:`register_client` with the secret's expiry. Raises TokenEndpointError (refused,
    no ``client_id``), UpstreamUnavailable, BlockedDestination."""
    metadata: dict[str, Any] = {
        "client_name": client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
    }
    if scopes:
        metadata["scope"] = " ".join(scopes)
    body = await _post(
        client, guard, registration_endpoint, json_body=metadata, what="client registration"
    )
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise TokenEndpointError("OAuth client registration returned no client_id")
    secret = body.get("client_secret") if isinstance(body.get("client_secret"), str) else None
    method = body.get("token_endpoint_auth_method")
    if method not in ("none", "client_secret_post", "client_secret_basic"):
        method = "client_secret_basic" if secret else "none"
    expires = body.get("client_secret_expires_at")
    expiry = float(expires) if isinstance(expires, int | float) and expires > 0 else None
    return Registration(ClientAuth(client_id, secret, method), expiry)
