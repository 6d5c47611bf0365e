"""Plaintext token sets in memory and their encrypted, stored form.

Secret fields (access/refresh tokens, client secret, PKCE verifier) are encrypted one by one
with AAD bound to (username, server, field); everything else goes in the record's non-secret
``meta``: token type, scopes, client id, client auth method, redirect URI, resource, and the
authorization server's metadata (so a refresh after a restart needs no discovery).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.records import StoredOAuthTokens
from mcp_gateway.services.oauth.discovery import AuthServerMetadata

SECRET_FIELDS = ("access_token", "refresh_token", "client_secret", "code_verifier")
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
# Refresh this many seconds before expiry, or a tenth of the token's lifetime when the gateway
# knows it and that is less: a 3-second token is then used for 2.7 s, not refreshed on every use.
REFRESH_MARGIN = 60.0
MARGIN_FRACTION = 0.1

STATE_VALID = "valid"
STATE_REAUTH = "reauth_required"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Decrypted tokens of one (server, username). ``repr`` never shows a secret."""

    server: str
    username: str
    access_token: str
    refresh_token: str | None = None
    client_secret: str | None = None
    code_verifier: str | None = None
    token_type: str = "Bearer"
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    client_id: str | None = None
    auth_method: str = "none"
    redirect_uri: str | None = None
    resource: str | None = None
    auth_server: AuthServerMetadata | None = None
    state: str = STATE_VALID
    updated_at: float = 0.0
    # Seconds the AS granted (``expires_in``) when the gateway itself obtained the token (code
    # exchange, refresh). None for tokens a client handed in: their age is unknown.
    lifetime: float | None = None
    extra_meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"TokenSet({self.server!r}, {self.username!r}, state={self.state!r}, "
            f"expires_at={self.expires_at!r})"
        )

    def refresh_margin(self) -> float:
        """Seconds before expiry at which the token is refreshed proactively."""
        if self.lifetime is None:
            return REFRESH_MARGIN
        return min(REFRESH_MARGIN, self.lifetime * MARGIN_FRACTION)

    def needs_refresh(self, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False  # unknown expiry: use it until the upstream answers 401
        now = now if now is not None else time.time()
        return now >= self.expires_at - self.refresh_margin()

    def is_expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (
            (now if now is not None else time.time()) >= self.expires_at
        )

    def header(self) -> dict[str, str]:
        # RFC 6750: the scheme is "Bearer" whatever case the AS used for token_type.
        kind = "Bearer" if self.token_type.lower() == "bearer" else self.token_type
        return {"Authorization": f"{kind} {self.access_token}"}

    def with_response(self, body: dict[str, Any], now: float | None = None) -> TokenSet:
        """A copy updated from a token-endpoint response (RFC 6749 section 5.1).

        A response without ``refresh_token`` keeps the old one (the AS did not rotate it).
        """
        now = now if now is not None else time.time()
        expires_in = _positive_number(body.get("expires_in"))
        scope = body.get("scope")
        rotated = body.get("refresh_token")
        return replace(
            self,
            access_token=str(body["access_token"]),
            refresh_token=str(rotated) if rotated else self.refresh_token,
            token_type=str(body.get("token_type") or "Bearer"),
            expires_at=now + expires_in if expires_in is not None else None,
            lifetime=expires_in,
            scopes=tuple(scope.split()) if isinstance(scope, str) else self.scopes,
            state=STATE_VALID,
            updated_at=now,
        )


def handed_expiry(expires_in: float | None, expires_at: float | None, now: float) -> float | None:
    """When tokens a client hands in expire (``expires_in`` wins over ``expires_at``). Their
    lifetime stays unknown (the token's age is), so the first use within 60 s of expiry
    refreshes once; from then on the AS's ``expires_in`` sets the margin."""
    if expires_in:
        return now + expires_in
    return expires_at or None


def _positive_number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def seal(tokens: TokenSet, keyring: Keyring) -> StoredOAuthTokens:
    """Encrypt the secret fields; everything else becomes ``meta``."""
    fields: dict[str, bytes] = {}
    for name in SECRET_FIELDS:
        value = getattr(tokens, name)
        if value:
            fields[name] = keyring.encrypt_token(tokens.username, tokens.server, name, value)
    meta: dict[str, Any] = {
        **tokens.extra_meta,
        "token_type": tokens.token_type,
        "scopes": list(tokens.scopes),
        "client_id": tokens.client_id,
        "auth_method": tokens.auth_method,
        "redirect_uri": tokens.redirect_uri,
        "resource": tokens.resource,
        "token_endpoint": tokens.auth_server.token_endpoint if tokens.auth_server else None,
        "auth_server": tokens.auth_server.to_meta() if tokens.auth_server else None,
        "lifetime": tokens.lifetime,
    }
    return StoredOAuthTokens(
        server=tokens.server,
        username=tokens.username,
        fields=fields,
        expires_at=tokens.expires_at,
        meta=meta,
        state=tokens.state,
        updated_at=tokens.updated_at or time.time(),
    )


def unseal(record: StoredOAuthTokens, keyring: Keyring) -> TokenSet:
    """Decrypt a stored record. Raises CryptoError if a field was moved or tampered with."""
    values = {
        name: keyring.decrypt_token(record.username, record.server, name, blob)
        for name, blob in record.fields.items()
        if name in SECRET_FIELDS
    }
    meta = dict(record.meta)
    auth_server = AuthServerMetadata.from_meta(meta.pop("auth_server", None))
    known = ("token_type", "scopes", "client_id", "auth_method", "redirect_uri", "resource")
    lifetime = meta.pop("lifetime", None)
    return TokenSet(
        server=record.server,
        username=record.username,
        access_token=values.get("access_token", ""),
        refresh_token=values.get("refresh_token"),
        client_secret=values.get("client_secret"),
        code_verifier=values.get("code_verifier"),
        token_type=meta.get("token_type") or "Bearer",
        expires_at=record.expires_at,
        scopes=tuple(meta.get("scopes") or ()),
        client_id=meta.get("client_id"),
        auth_method=meta.get("auth_method") or "none",
        redirect_uri=meta.get("redirect_uri"),
        resource=meta.get("resource"),
        auth_server=auth_server,
        state=record.state,
        updated_at=record.updated_at,
        lifetime=float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else None,
        extra_meta={k: v for k, v in meta.items() if k not in (*known, "token_endpoint")},
    )
