"""``/mcp/servers``: definitions in (mcp-api's fields plus ours), live views out.

Durations are milliseconds both ways (see :mod:`.server_meta`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from mcp_gateway.api.schemas.common import (
    Ok,
    RequestModel,
    ResponseModel,
    ServerName,
    Username,
)
from mcp_gateway.api.schemas.ratelimit import RateLimitModel, rate_limit_out
from mcp_gateway.api.schemas.server_meta import (
    METADATA_FIELDS,
    MetadataFields,
    MsHour,
    ReconnectionModel,
    metadata_out,
    millis,
    reconnection_out,
    seconds,
)
from mcp_gateway.domain.exposure import mask_args, mask_url
from mcp_gateway.domain.redaction import MASK
from mcp_gateway.domain.servers import (
    OAUTH_AUTH_TYPES,
    InjectAs,
    Isolation,
    OAuthSpec,
    SecretSpec,
    ServerConfig,
    ServerMetadata,
    ServerStatus,
    TransportType,
    apply_secret_names,
    declared_secret_names,
)
from mcp_gateway.services.servers import ServerView

DEFAULT_CALL_TIMEOUT_MS = 60_000
ShortText = Annotated[str, Field(max_length=4096)]


class SecretSpecModel(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    inject_as: InjectAs = Field(InjectAs.ARG, alias="as")
    target: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    template: Annotated[str, Field(max_length=1024)] | None = None
    required: bool = True

    def to_domain(self) -> SecretSpec:
        return SecretSpec(self.name, self.inject_as, self.target, self.template, self.required)


HttpUrl = Annotated[str, Field(max_length=2048, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://")]
OAuthText = Annotated[str, Field(min_length=1, max_length=512)]


class OAuthModel(RequestModel):
    """The ``oauth`` block: how users sign in to this HTTP server (all optional)."""

    enabled: bool = True
    client_id: OAuthText | None = None
    client_secret: Annotated[SecretStr, Field(min_length=1, max_length=16384)] | None = None
    scopes: list[Annotated[str, Field(max_length=256)]] | ShortText | None = None
    authorization_endpoint: HttpUrl | None = None
    token_endpoint: HttpUrl | None = None
    registration_endpoint: HttpUrl | None = None
    issuer: Annotated[str, Field(max_length=2048)] | None = None
    resource: Annotated[str, Field(max_length=2048)] | None = None
    resource_metadata_url: HttpUrl | None = None
    token_endpoint_auth_method: (
        Literal["none", "client_secret_post", "client_secret_basic"] | None
    ) = None

    def to_domain(self) -> OAuthSpec:
        scopes = self.scopes.split() if isinstance(self.scopes, str) else (self.scopes or [])
        secret = self.client_secret.get_secret_value() if self.client_secret else None
        return OAuthSpec(
            enabled=self.enabled,
            client_id=self.client_id,
            client_secret=secret,
            scopes=tuple(scopes),
            authorization_endpoint=self.authorization_endpoint,
            token_endpoint=self.token_endpoint,
            registration_endpoint=self.registration_endpoint,
            issuer=self.issuer,
            resource=self.resource,
            resource_metadata_url=self.resource_metadata_url,
            auth_method=self.token_endpoint_auth_method,
        )


class OAuthOut(ResponseModel):
    """A server's ``oauth`` block as shown: ``clientSecret`` is ``***`` for non-admin keys."""

    enabled: bool
    client_id: str | None
    client_secret: str | None
    scopes: list[str]
    authorization_endpoint: str | None
    token_endpoint: str | None
    registration_endpoint: str | None
    issuer: str | None
    resource: str | None
    resource_metadata_url: str | None
    token_endpoint_auth_method: str | None

    @classmethod
    def of(cls, spec: OAuthSpec | None, *, admin: bool) -> OAuthOut | None:
        if spec is None:
            return None
        return cls(
            enabled=spec.enabled,
            client_id=spec.client_id,
            client_secret=spec.client_secret if admin or not spec.client_secret else MASK,
            scopes=list(spec.scopes),
            authorization_endpoint=spec.authorization_endpoint,
            token_endpoint=spec.token_endpoint,
            registration_endpoint=spec.registration_endpoint,
            issuer=spec.issuer,
            resource=spec.resource,
            resource_metadata_url=spec.resource_metadata_url,
            token_endpoint_auth_method=spec.auth_method,
        )


class _ServerFields(MetadataFields):
    transport_type: TransportType = TransportType.STDIO
    command: ShortText | None = None
    args: list[ShortText] = Field(default_factory=list, max_length=256)
    env: dict[str, ShortText] = Field(default_factory=dict)
    cwd: ShortText | None = None
    url: ShortText | None = None
    headers: dict[str, ShortText] = Field(default_factory=dict)
    reconnection_options: ReconnectionModel = Field(default_factory=ReconnectionModel)
    enabled: bool = True
    startup_timeout: MsHour = 30_000
    # Omitted on create: startupTimeout when that is given (mcp-api's startupTimeout is also
    # its per-call timeout), else 60000.
    call_timeout: MsHour | None = None
    max_concurrency: Annotated[int, Field(ge=1, le=4096)] = 32
    max_concurrency_per_user: Annotated[int, Field(ge=1, le=4096)] | None = None
    isolation: Isolation = Isolation.SHARED
    max_instances: Annotated[int, Field(ge=1, le=10000)] = 50
    secrets: list[SecretSpecModel] = Field(default_factory=list, max_length=64)
    # mcp-api's switch: "oauth" means an oauth block with defaults (when none is given).
    mcp_auth_type: Annotated[str, Field(max_length=32)] | None = None
    # Omitted in a PUT: kept. To turn OAuth off send {"enabled": false}.
    oauth: OAuthModel | None = None
    # Omitted in a PUT: kept; null: back to the gateway's defaults.
    rate_limit: RateLimitModel | None = None


_NOT_CONFIG = {*METADATA_FIELDS, "secret_names", "secret_name", "username"}


def _domain_fields(model: _ServerFields, fields: set[str]) -> dict[str, Any]:
    """snake_case ServerConfig keyword arguments for the given model fields (metadata as a
    dict of the ServerMetadata fields given, ``secret_names`` as declared names)."""
    out: dict[str, Any] = {}
    fields &= set(type(model).model_fields)  # never the unknown (extra) ones
    for name in fields - _NOT_CONFIG:
        value = getattr(model, name)
        if name == "reconnection_options":
            out["reconnection"] = value.to_domain()
        elif name == "secrets":
            out["secrets"] = tuple(spec.to_domain() for spec in value)
        elif name == "args":
            out["args"] = tuple(value)
        elif name == "startup_timeout":
            out[name] = seconds(value)
        elif name == "call_timeout":
            out[name] = seconds(value if value is not None else DEFAULT_CALL_TIMEOUT_MS)
        elif name == "mcp_auth_type":
            out["extra"] = {"mcpAuthType": value} if value is not None else {}
            if "oauth" not in fields and str(value or "").lower() not in OAUTH_AUTH_TYPES:
                out["oauth"] = None  # switching mcp-api's auth type away from OAuth
        elif name in ("oauth", "rate_limit"):
            out[name] = value.to_domain() if value is not None else None
        else:
            out[name] = value
    if (
        "auth_mode" in fields
        and model.auth_mode != "oauth2"
        and not fields & {"oauth", "mcp_auth_type"}
    ):
        out["oauth"] = None  # switching mcp-api's authMode away from oauth2
    metadata = model.metadata_changes(fields)
    if metadata:
        out["metadata"] = metadata
    if fields & {"secret_names", "secret_name"}:
        out["secret_names"] = declared_secret_names(model.secret_names, model.secret_name)
    return out


class ServerCreateRequest(_ServerFields):
    name: ServerName
    # mcp-api's creator of an external server (``source: external``); ignored otherwise.
    username: Username | None = None

    @property
    def server_name(self) -> str:
        """The server this request is about (an error body names it as ``serverName``)."""
        return self.name

    def to_domain(self) -> ServerConfig:
        fields = _domain_fields(self, set(type(self).model_fields))
        if self.call_timeout is None and "startup_timeout" in self.model_fields_set:
            fields["call_timeout"] = fields["startup_timeout"]
        fields["metadata"] = ServerMetadata(**fields["metadata"])
        names = fields.pop("secret_names")
        fields["secrets"] = apply_secret_names(names, fields["secrets"])
        return ServerConfig(**fields)


class ServerUpdateRequest(_ServerFields):
    """Partial: only the fields present in the body change (``metadata`` and ``secret_names``
    are merged into the current definition by ServerService). ``name`` may be sent (a client
    sending back the object it read) but not changed: ServerService refuses another name."""

    name: ServerName | None = None

    def changes(self) -> dict[str, Any]:
        return _domain_fields(self, set(self.model_fields_set))


class ServerOut(ResponseModel):
    name: str
    transport_type: TransportType
    command: str | None
    args: list[str] = Field(description="non-admin keys see flags only, other values ***")
    env: dict[str, str] = Field(description="values shown to admin keys only")
    cwd: str | None
    url: str | None = Field(description="non-admin keys see userinfo and query values ***")
    headers: dict[str, str] = Field(description="values shown to admin keys only")
    reconnection_options: dict[str, Any] = Field(description="delays in milliseconds")
    enabled: bool
    startup_timeout: int | float = Field(description="milliseconds")
    call_timeout: int | float = Field(description="milliseconds")
    max_concurrency: int
    max_concurrency_per_user: int | None
    isolation: Isolation
    max_instances: int
    secrets: list[dict[str, Any]]
    secret_names: list[str] = Field(description="mcp-api: the secrets injected (spec names)")
    mcp_auth_type: str | None = None
    oauth: OAuthOut | None = None
    rate_limit: dict[str, Any] | None = Field(
        None, description="token buckets (perUser, perKey, total); null: the gateway's defaults"
    )
    status: str = Field(
        description="mcp-api's values: connected | connecting | disconnected | error (a disabled "
        "server is disconnected with enabled false)"
    )
    tools_list: list[dict[str, Any]]
    logs: list[str] = Field(description="the server's stderr (masked); admin keys only")
    restarts: int
    pid: int | None
    uptime: int | float | None = Field(description="milliseconds the connection has been up")
    last_error: str | None = Field(
        description="admin keys: the failure with upstream detail (masked); other keys: the "
        "gateway's own classification (e.g. 'upstream connection closed'), never upstream text"
    )
    errors: list[str] = Field(description="mcp-api compatibility: [lastError] or []")
    next_restart_at: float | None = Field(description="a time: epoch seconds (not a duration)")
    instances: int
    display_name: str | None = None
    description: str | None = None
    source: str | None = None
    auth_mode: str | None = None
    oauth_template: dict[str, Any] | None = Field(
        None, description="credential-like keys are *** for non-admin keys"
    )
    secret_fields: list[dict[str, Any]] = Field(default_factory=list)
    homepage_url: str | None = None
    repository_url: str | None = None
    license_name: str | None = None
    catalog_provider: str | None = None
    catalog_id: str | None = None
    created_by: str | None = None
    created_at: str | None = Field(None, description="ISO-8601, UTC")
    updated_at: str | None = Field(None, description="ISO-8601, UTC")

    @classmethod
    def of(cls, view: ServerView, *, admin: bool) -> ServerOut:
        """The view an API key may see: a shared server's output (logs, stderr-derived errors)
        can carry other users' data, and its definition can carry credentials, so non-admin
        keys get neither."""
        c, s = view.config, view.state
        last_error = s.last_error if admin else s.error_kind
        return cls(
            name=c.name,
            transport_type=c.transport_type,
            command=c.command,
            args=list(c.args) if admin else mask_args(c.args),
            env=dict(c.env) if admin else dict.fromkeys(c.env, MASK),
            cwd=c.cwd,
            url=c.url if admin or c.url is None else mask_url(c.url),
            headers=dict(c.headers) if admin else dict.fromkeys(c.headers, MASK),
            reconnection_options=reconnection_out(c.reconnection),
            enabled=c.enabled,
            startup_timeout=millis(c.startup_timeout),
            call_timeout=millis(c.call_timeout),
            max_concurrency=c.max_concurrency,
            max_concurrency_per_user=c.max_concurrency_per_user,
            isolation=c.isolation,
            max_instances=c.max_instances,
            secrets=[
                {
                    "name": spec.name,
                    "as": spec.inject_as.value,
                    "target": spec.target,
                    "template": spec.template,
                    "required": spec.required,
                }
                for spec in c.secrets
            ],
            secret_names=[spec.name for spec in c.secrets],
            mcp_auth_type=c.extra.get("mcpAuthType"),
            oauth=OAuthOut.of(c.oauth, admin=admin),
            rate_limit=rate_limit_out(c.rate_limit),
            status=wire_status(s.status),
            tools_list=[
                t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in s.tools or ()
            ],
            logs=list(s.logs) if admin else [],
            restarts=s.restarts,
            pid=s.pid,
            uptime=millis(s.uptime) if s.uptime is not None else None,
            last_error=last_error,
            errors=[last_error] if last_error else [],
            next_restart_at=s.next_restart_at,
            instances=s.instances,
            **metadata_out(c.metadata, admin=admin),
        )


def wire_status(status: ServerStatus) -> str:
    """mcp-api's status vocabulary: ``disabled`` is not one of its values (``enabled`` says it)."""
    return ServerStatus.DISCONNECTED.value if status is ServerStatus.DISABLED else status.value


class ServerResponse(Ok):
    server: ServerOut


class ServerListResponse(Ok):
    servers: list[ServerOut]
