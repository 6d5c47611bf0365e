"""Upstream server definitions (mcp-api field names on the wire, snake_case here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TransportType(StrEnum):
    STDIO = "stdio"
    STREAMABLE_HTTP = "streamable_http"
    SSE = "sse"


class Isolation(StrEnum):
    SHARED = "shared"
    PER_USER = "per_user"


class InjectAs(StrEnum):
    ARG = "arg"
    ENV = "env"
    HEADER = "header"


class ServerStatus(StrEnum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"
    ERROR = "error"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """How one secret reaches the upstream.

    ``target`` is the argument, env var or header name (defaults to ``name``); ``template`` is
    a format with ``{value}`` (e.g. ``"Bearer {value}"``); ``required`` makes a missing secret
    a 400 ``missing_secret`` instead of silently omitting it.
    """

    name: str
    inject_as: InjectAs = InjectAs.ARG
    target: str | None = None
    template: str | None = None
    required: bool = True

    @property
    def destination(self) -> str:
        return self.target or self.name

    def render(self, value: str) -> str:
        return self.template.replace("{value}", value) if self.template else value


DEFAULT_MAX_RETRIES = 5


@dataclass(frozen=True, slots=True)
class ReconnectionOptions:
    """mcp-api's reconnection options; we use them as the restart backoff bounds
    (:mod:`mcp_gateway.domain.restart` is the policy)."""

    enabled: bool = True
    # Restarts after consecutive failures before giving up (status ``error``); None: forever.
    max_retries: int | None = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 30.0
    healthy_reset: float = 60.0


OAUTH_AUTH_TYPES = ("oauth", "oauth2")  # mcp-api's mcpAuthType values meaning "OAuth"


@dataclass(frozen=True, slots=True)
class OAuthSpec:
    """How the users of an HTTP server sign in to it with OAuth.

    Every field is optional: what is not configured is discovered (RFC 9728 / RFC 8414) or
    registered (RFC 7591). ``token_endpoint`` set means "do not discover": it is used with
    the other endpoints given here. ``client_secret`` (a confidential client's secret) is a
    credential: kept out of reprs and logs, shown to admin keys only.
    """

    enabled: bool = True
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    registration_endpoint: str | None = None
    issuer: str | None = None
    resource: str | None = None  # RFC 8707 resource indicator (default: the server URL)
    resource_metadata_url: str | None = None  # RFC 9728 document, when not at the well-known
    auth_method: str | None = None  # none | client_secret_post | client_secret_basic

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> OAuthSpec:
        """From the camelCase block that older definitions kept in ``extra["oauth"]``
        (unknown keys are ignored, ``scopes`` may be a space-separated string)."""
        scopes = raw.get("scopes") or ()
        if isinstance(scopes, str):
            scopes = scopes.split()

        def text(key: str) -> str | None:
            value = raw.get(key)
            return value if isinstance(value, str) and value else None

        return cls(
            enabled=raw.get("enabled", True) is not False,
            client_id=text("clientId"),
            client_secret=text("clientSecret"),
            scopes=tuple(str(s) for s in scopes),
            authorization_endpoint=text("authorizationEndpoint"),
            token_endpoint=text("tokenEndpoint"),
            registration_endpoint=text("registrationEndpoint"),
            issuer=text("issuer"),
            resource=text("resource"),
            resource_metadata_url=text("resourceMetadataUrl"),
            auth_method=text("tokenEndpointAuthMethod"),
        )


@dataclass(frozen=True, slots=True)
class ServerConfig:
    name: str
    transport_type: TransportType = TransportType.STDIO
    command: str | None = None
    args: tuple[str, ...] = ()
    # Values may be credentials (API keys, Authorization headers): kept out of reprs.
    env: dict[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    reconnection: ReconnectionOptions = field(default_factory=ReconnectionOptions)
    enabled: bool = True
    startup_timeout: float = 30.0
    call_timeout: float = 60.0
    max_concurrency: int = 32
    # Calls one user may have in flight on this server (also the limit of each per-user
    # instance); None: the gateway's MCPGW_MAX_CONCURRENCY_PER_USER.
    max_concurrency_per_user: int | None = None
    isolation: Isolation = Isolation.SHARED
    max_instances: int = 50
    secrets: tuple[SecretSpec, ...] = ()
    # OAuth sign-in of each user to the upstream (HTTP servers only); None: no OAuth.
    oauth: OAuthSpec | None = None
    # Free-form extras kept for mcp-api compatibility (e.g. its "mcpAuthType"); never secret.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # mcp-api's ``mcpAuthType: "oauth"`` is the same as an OAuth block with defaults.
        auth_type = str(self.extra.get("mcpAuthType") or self.extra.get("authType") or "")
        if self.oauth is None and auth_type.lower() in OAUTH_AUTH_TYPES:
            object.__setattr__(self, "oauth", OAuthSpec())

    @property
    def is_http(self) -> bool:
        return self.transport_type in (TransportType.STREAMABLE_HTTP, TransportType.SSE)

    def connection_key(self) -> tuple[Any, ...]:
        """What, when changed, requires restarting the upstream session."""
        return (
            self.transport_type,
            self.command,
            self.args,
            tuple(sorted(self.env.items())),
            self.cwd,
            self.url,
            tuple(sorted(self.headers.items())),
            self.isolation,
            self.secrets,
            self.oauth,
        )


SHARED_SCOPE = ""


def oauth_enabled(server: ServerConfig) -> bool:
    """True for an HTTP server whose users sign in to the upstream with OAuth."""
    return server.is_http and server.oauth is not None and server.oauth.enabled


def session_scope(server: ServerConfig, username: str) -> str:
    """The pool key under ``server`` for a call by ``username``.

    Shared servers have one session (scope ``""``). A per-user server, one that injects a
    secret as an HTTP header, or an OAuth server (a header, and so a credential, is fixed for a
    session's lifetime) gets one session per username, so one user's credentials never ride on
    another user's session.
    """
    if (
        server.isolation is Isolation.PER_USER
        or oauth_enabled(server)
        or any(spec.inject_as is InjectAs.HEADER for spec in server.secrets)
    ):
        return username
    return SHARED_SCOPE
