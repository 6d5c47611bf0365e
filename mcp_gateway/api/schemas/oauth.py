"""OAuth bodies and queries: mcp-api's ``POST /mcp/servers/{name}/oauth`` body, login queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from mcp_gateway.api.schemas.common import (
    Ok,
    QueryModel,
    RequestModel,
    ServerName,
    Username,
)
from mcp_gateway.api.schemas.servers import ServerOut
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.services.oauth import TokenInput

Secret = Annotated[SecretStr, Field(min_length=1, max_length=16384)]
AuthMethod = Literal["none", "client_secret_post", "client_secret_basic"]


class OAuthTokensRequest(RequestModel):
    """Tokens obtained elsewhere (e.g. by the platform) for one username: mcp-api's body.

    ``accessToken``, ``clientId`` and ``redirectUri`` are required on a server without a
    gateway ``oauth`` block (checked by the service, which knows the server); ``username``
    for service and admin keys (a user key acts for its own). ``expiresIn`` is in seconds
    (OAuth's and mcp-api's unit here); ``expiresAt`` is an epoch in milliseconds or an ISO
    8601 time. ``tokenEndpoint`` says where to refresh when the server's authorization
    server cannot be discovered.
    """

    username: Username | None = None
    token_type: Annotated[str, Field(min_length=1, max_length=64)] = "Bearer"
    access_token: Secret
    refresh_token: Secret | None = None
    expires_in: Annotated[float, Field(gt=0, le=10 * 365 * 86400)] | None = None
    scopes: list[Annotated[str, Field(max_length=256)]] | str | None = None
    client_id: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    client_secret: Secret | None = None
    redirect_uri: Annotated[str, Field(max_length=2048)] | None = None
    code_verifier: Secret | None = None
    token_endpoint_auth_method: AuthMethod | None = None
    expires_at: Annotated[float, Field(gt=0)] | datetime | None = None
    scope: Annotated[str, Field(max_length=4096)] | None = None
    token_endpoint: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    registration_mode: Literal["manual", "dcr", "cimd"] | None = None  # mcp-api's; unused

    def to_input(self) -> TokenInput:
        def reveal(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        scopes = self.scopes.split() if isinstance(self.scopes, str) else (self.scopes or [])
        if not scopes and self.scope:
            scopes = self.scope.split()
        expires_at = self.expires_at
        if isinstance(expires_at, datetime):
            if expires_at.tzinfo is None:
                raise InvalidRequest("expiresAt needs a time zone (e.g. 2026-12-06T18:00:00Z)")
            at: float | None = expires_at.timestamp()
        else:
            at = expires_at / 1000 if expires_at is not None else None  # ms, like mcp-api
        return TokenInput(
            access_token=self.access_token.get_secret_value(),
            token_type=self.token_type,
            refresh_token=reveal(self.refresh_token),
            expires_in=self.expires_in,
            scopes=tuple(scopes),
            client_id=self.client_id,
            client_secret=reveal(self.client_secret),
            redirect_uri=self.redirect_uri,
            code_verifier=reveal(self.code_verifier),
            auth_method=self.token_endpoint_auth_method,
            expires_at=at,
            token_endpoint=self.token_endpoint,
        )


class OAuthTokensResponse(Ok):
    """mcp-api's ``{success, server}``; ``server.authState`` is the user's state after it."""

    server: dict[str, Any]
    username: str

    @classmethod
    def of(cls, server: ServerOut, username: str, auth_state: str) -> OAuthTokensResponse:
        view = server.model_dump(mode="json", by_alias=True)
        return cls(server={**view, "authState": auth_state}, username=username)


class AuthorizeQuery(QueryModel):
    username: Username | None = None


class StartQuery(QueryModel):
    ticket: Annotated[str, Field(min_length=1, max_length=4096)]


class CallbackQuery(QueryModel):
    code: Annotated[str, Field(max_length=4096)] | None = None
    state: Annotated[str, Field(max_length=8192)] | None = None
    error: Annotated[str, Field(max_length=256)] | None = None


class GoogleLoginQuery(QueryModel):
    """mcp-api's ``?user_id=``; ``server`` picks the Google server when there are several;
    ``ticket`` is the signed part of a link from ``POST /auth/google/login-link``."""

    user_id: Username | None = Field(default=None, alias="user_id")
    server: ServerName | None = None
    ticket: Annotated[str, Field(min_length=1, max_length=4096)] | None = None


class GoogleLinkRequest(RequestModel):
    """Who the link is for (a user key: itself only) and, when several servers use
    ``OAUTH2_GOOGLE``, which one. ``userId`` is accepted as mcp-api's ``user_id`` spelling."""

    username: Username | None = None
    user_id: Username | None = None
    server: ServerName | None = None


class GoogleLinkResponse(Ok):
    url: str = Field(description="open it in the user's browser; it links that user only")
    username: str
    server: str
    expires_at: datetime = Field(description="after this the link no longer works")


class OAuthStatusResponse(Ok):
    """A username's connection to an upstream's OAuth: ``connected`` (usable tokens),
    ``reauth_required`` (the refresh token was refused) or ``not_connected`` (no tokens)."""

    server_name: str
    username: str
    auth_state: Literal["connected", "reauth_required", "not_connected"]
