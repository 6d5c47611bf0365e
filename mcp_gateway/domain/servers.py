"""Upstream server definitions (mcp-api field names on the wire, snake_case here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from mcp_gateway.domain.ratelimit import RateLimit


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
    QUERY = "query"  # a URL query parameter of a per-user HTTP session (external servers)


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


def declared_secret_names(secret_names: Any, secret_name: Any = None) -> tuple[str, ...]:
    """mcp-api's declaration of a server's secrets: ``secretNames`` when it is a non-empty
    list, else the legacy single ``secretName``, else none (duplicates and blanks dropped)."""
    if isinstance(secret_names, list | tuple) and secret_names:
        return tuple(dict.fromkeys(str(n) for n in secret_names if n))
    return (secret_name,) if isinstance(secret_name, str) and secret_name else ()


def apply_secret_names(
    names: Sequence[str], specs: Sequence[SecretSpec] = (), *, keep_others: bool = True
) -> tuple[SecretSpec, ...]:
    """The one rule mapping mcp-api's ``secretNames`` onto secret specs (the API and the
    importer both use it): only the declared secrets are injected, each as the tool argument of
    its name, and one the user has not set is simply not injected (an optional ``arg`` spec).
    A spec already given for a name keeps its own placement; other specs stay when
    ``keep_others`` (both forms in one body) and are dropped otherwise (``secretNames`` alone
    replaces the declaration). No names and no specs: every secret is injected, as in mcp-api."""
    known = {spec.name for spec in specs}
    wanted = set(names)
    kept = tuple(spec for spec in specs if keep_others or spec.name in wanted)
    added = tuple(SecretSpec(n, required=False) for n in dict.fromkeys(names) if n not in known)
    return kept + added


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
    grow_factor: float = 2.0  # each delay is the previous one times this (mcp-api's name:
    # reconnectionDelayGrowFactor)


OAUTH_AUTH_TYPES = ("oauth", "oauth2")  # mcp-api's mcpAuthType values meaning "OAuth"
# mcp-api's ``source`` of a server a user added (see domain.user_servers).
EXTERNAL_SOURCE = "external"


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


def oauth_from_template(template: Mapping[str, Any] | None) -> OAuthSpec:
    """mcp-api's ``authMode: "oauth2"`` server: its ``oauthTemplate`` (discovered endpoints)
    as an OAuth block; what the template lacks is discovered or registered as usual."""
    tpl = template or {}

    def text(key: str) -> str | None:
        value = tpl.get(key)
        return value if isinstance(value, str) and value else None

    return OAuthSpec(
        issuer=text("authorizationServerIssuer"),
        authorization_endpoint=text("authorizationEndpoint"),
        token_endpoint=text("tokenEndpoint"),
        registration_endpoint=text("registrationEndpoint"),
        resource=text("resourceUri"),
        resource_metadata_url=text("resourceMetadataUrl"),
    )


@dataclass(frozen=True, slots=True)
class SecretField:
    """One secret a user is asked for (mcp-api's ``secretFields`` item; descriptive only)."""

    name: str
    label: str | None = None
    description: str | None = None
    required: bool = False
    input_type: str | None = None


@dataclass(frozen=True, slots=True)
class ServerMetadata:
    """What mcp-api stores about a server besides how to run it: shown to every key, never
    used to connect (except ``auth_mode``/``oauth_template``, see ``ServerConfig``).
    ``created_at``/``updated_at`` are epoch seconds set by ServerService."""

    display_name: str | None = None
    description: str | None = None
    source: str | None = None  # mcp-api: platform | external
    auth_mode: str | None = None  # mcp-api: none | oauth2
    # mcp-api's discovered OAuth endpoints and modes (free-form JSON object; a client may have
    # put a client secret in it: kept out of reprs).
    oauth_template: dict[str, Any] | None = field(default=None, repr=False)
    secret_fields: tuple[SecretField, ...] = field(default=(), repr=False)  # names, not values
    homepage_url: str | None = None
    repository_url: str | None = None
    license_name: str | None = None
    catalog_provider: str | None = None
    catalog_id: str | None = None
    created_by: str | None = None
    created_at: float | None = None
    updated_at: float | None = None


# ServerMetadata fields by their mcp-api (camelCase) names.
METADATA_WIRE_NAMES: dict[str, str] = {
    "displayName": "display_name",
    "description": "description",
    "source": "source",
    "authMode": "auth_mode",
    "oauthTemplate": "oauth_template",
    "secretFields": "secret_fields",
    "homepageUrl": "homepage_url",
    "repositoryUrl": "repository_url",
    "licenseName": "license_name",
    "catalogProvider": "catalog_provider",
    "catalogId": "catalog_id",
    "createdBy": "created_by",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}


def wire_epoch(value: Any) -> float | None:
    """A date as mcp-api documents carry it (datetime, epoch milliseconds or ISO-8601 text)
    as epoch seconds; None when it is none of these."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    if isinstance(value, str) and value:
        try:
            return wire_epoch(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def metadata_from_wire(raw: Mapping[str, Any]) -> ServerMetadata:
    """The metadata of an mcp-api server document (its camelCase keys; what is missing or of
    the wrong type is left unset)."""

    def text(key: str) -> str | None:
        value = raw.get(key)
        return value if isinstance(value, str) and value else None

    fields: list[SecretField] = []
    for item in raw.get("secretFields") or ():
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            fields.append(
                SecretField(
                    name=item["name"],
                    label=text_of(item.get("label")),
                    description=text_of(item.get("description")),
                    required=item.get("required") is True,
                    input_type=text_of(item.get("inputType")),
                )
            )
    template = raw.get("oauthTemplate")
    return ServerMetadata(
        display_name=text("displayName"),
        description=text("description"),
        source=text("source"),
        auth_mode=text("authMode"),
        oauth_template=dict(template) if isinstance(template, Mapping) else None,
        secret_fields=tuple(fields),
        homepage_url=text("homepageUrl"),
        repository_url=text("repositoryUrl"),
        license_name=text("licenseName"),
        catalog_provider=text("catalogProvider"),
        catalog_id=text("catalogId"),
        created_by=text("createdBy"),
        created_at=wire_epoch(raw.get("createdAt")),
        updated_at=wire_epoch(raw.get("updatedAt")),
    )


def text_of(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


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
    metadata: ServerMetadata = field(default_factory=ServerMetadata)
    # Token buckets for calls to this server; None: the gateway's MCPGW_RATE_LIMIT_* defaults.
    rate_limit: RateLimit | None = None

    def __post_init__(self) -> None:
        # mcp-api's ``mcpAuthType: "oauth"`` is the same as an OAuth block with defaults, and
        # its ``authMode: "oauth2"`` one made from the server's ``oauthTemplate``.
        if self.oauth is not None:
            return
        auth_type = str(self.extra.get("mcpAuthType") or self.extra.get("authType") or "")
        if (self.metadata.auth_mode or "").lower() == "oauth2" and self.is_http:
            object.__setattr__(self, "oauth", oauth_from_template(self.metadata.oauth_template))
        elif auth_type.lower() in OAUTH_AUTH_TYPES:
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
    secret as an HTTP header or URL query parameter, an OAuth server (a header, and so a
    credential, is fixed for a session's lifetime) or a user's external server (each session is
    SSRF-guarded and carries its user's own secrets) gets one session per username, so one
    user's credentials never ride on another user's session.
    """
    if (
        server.isolation is Isolation.PER_USER
        or oauth_enabled(server)
        or server.metadata.source == EXTERNAL_SOURCE
        or any(spec.inject_as in (InjectAs.HEADER, InjectAs.QUERY) for spec in server.secrets)
    ):
        return username
    return SHARED_SCOPE
