"""The small nested settings models, one per concern, and the value formats they accept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote_plus

from pydantic import BaseModel, Field, SecretStr, field_validator

from mcp_gateway.domain.ratelimit import RateLimit, parse_rate

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}


def parse_size(value: Any) -> Any:
    """A byte count in mcp-api's ``PAYLOAD_LIMIT`` format (its ``bytes`` library): a number of
    bytes, or a number with ``b``/``kb``/``mb``/``gb``/``tb``/``pb`` (1024-based, any case),
    e.g. ``6mb`` or ``1.5kb``. Anything else is returned as given for the validator to refuse."""
    if not isinstance(value, str):
        return value
    match = _SIZE.match(value)
    if match is None:
        return value
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


def mcp_api_mongo_url(host: str) -> str:
    """mcp-api's reading of ``MONGO_HOST``: a URL when it holds ``://``, else ``host[:port]``."""
    return host if "://" in host else f"mongodb://{host}"


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body: int = Field(6 * 1024 * 1024, ge=1024)
    body_timeout: float = Field(30.0, gt=0, description="seconds a client has to send a body")
    # Unknown request-body fields: ignored and named in the answer's "warnings" (mcp-api
    # ignores them silently), or, when true, a 400 invalid_request naming the field.
    strict_requests: bool = False
    cors_origins: list[str] = []
    trusted_proxies: list[str] = []
    auth_mode: Literal["apikey", "none"] = "apikey"
    admin_api_key: SecretStr | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    # Names this process in /healthz, log lines, audit records and metrics; unset: see
    # Settings.replica_id.
    replica_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # The web console at /ui (docs/console.md); off: no /ui routes, session cookies ignored.
    console: bool = True
    console_session_idle: float = Field(1800.0, gt=0, description="seconds without a request")
    console_session_max_age: float = Field(43200.0, gt=0, description="seconds after login")

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    @field_validator("max_body", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        return parse_size(v)


class StoreSettings(BaseModel):
    data_dir: Path = Path("data")
    mongodb_uri: SecretStr | None = None
    mongodb_db: str = "mcp_gateway"
    mongo_user: str | None = None
    mongo_pass: SecretStr | None = None
    mongo_host: str | None = None
    mongo_replicaset: str | None = None
    timeout: float = Field(5.0, gt=0, description="seconds before a store call is an outage")

    def resolved_mongodb_uri(self) -> SecretStr | None:
        """``MCPGW_MONGODB_URI``, else one built from mcp-api's ``MONGO_*`` variables.

        As mcp-api: ``MONGO_HOST`` is ``host[:port]`` or a whole URL, ``MONGO_USER`` and
        ``MONGO_PASS`` authenticate against the URL's database, else ``admin`` (the driver's
        default), and ``MONGO_REPLICASET`` names the replica set. Unlike mcp-api there are no
        default credentials (``root``/``example``): no ``MONGO_USER``, no authentication.
        """
        if self.mongodb_uri is not None:
            return self.mongodb_uri
        if not self.mongo_host:
            return None
        scheme, rest = mcp_api_mongo_url(self.mongo_host.strip()).split("://", 1)
        if self.mongo_user and "@" not in rest.split("/", 1)[0]:
            password = self.mongo_pass.get_secret_value() if self.mongo_pass else ""
            rest = f"{quote_plus(self.mongo_user)}:{quote_plus(password)}@{rest}"
        if self.mongo_replicaset:
            if "/" not in rest:
                rest += "/"  # the driver wants a "/" between the hosts and the options
            rest += (
                "&" if "?" in rest else "?"
            ) + f"replicaSet={quote_plus(self.mongo_replicaset)}"
        return SecretStr(f"{scheme}://{rest}")


class SecretsSettings(BaseModel):
    keys: SecretStr | None = None  # "id:base64key,id2:base64key2", first is primary
    passphrase: SecretStr | None = None  # mcp-api's SECRETS_KEY, >= 32 chars, HKDF-derived
    max_per_user: int = Field(200, ge=1, description="secrets one username may hold in all")
    max_bytes: int = Field(64 * 1024, ge=1, description="largest secret value (UTF-8 bytes)")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(value: Any) -> Any:
    """An age such as ``30d``, ``12h``, ``90m``, ``3600s`` or ``2w`` in seconds; a bare number
    is days (``MCPGW_AUDIT_RETENTION_DAYS``' unit). Anything else is returned as given for the
    validator to refuse."""
    if not isinstance(value, str):
        return value
    match = _DURATION.match(value)
    if match is None:
        return value
    return float(match.group(1)) * _SECONDS[(match.group(2) or "d").lower()]


class AuditSettings(BaseModel):
    """Retention of the audit trail, by age and by count; 0 turns a bound off."""

    retention: float = Field(
        90 * 86400.0, ge=0, description="seconds: events older than this are deleted"
    )
    max_events: int = Field(1_000_000, ge=0, description="the newest this many are kept")

    @field_validator("retention", mode="before")
    @classmethod
    def _age(cls, v: Any) -> Any:
        return parse_age(v)


class TelemetrySettings(BaseModel):
    """``/metrics`` access and label bounds; OpenTelemetry traces (``observability.otel``)."""

    metrics_key: SecretStr | None = None  # required as a Bearer token on /metrics when set
    metrics_max_tools: int = Field(100, ge=0, description="tool labels per server")
    otel: Literal["auto", "true", "false"] = "auto"

    @field_validator("otel", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v


def parse_duration(value: Any) -> Any:
    """Like :func:`parse_age`, but a bare number is seconds (``30``, ``30s``, ``2m``, ``7d``)."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
        return float(value)
    return parse_age(value)


class RunsSettings(BaseModel):
    """Runs: tool calls accepted with 202 and executed in the background (services/runs.py)."""

    result_max_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        le=8 * 1024 * 1024,  # a run is one MongoDB document (16 MB at most)
        description="largest result kept (JSON bytes); a larger one ends the run as an error "
        "saying so",
    )
    retention: float = Field(
        7 * 86400.0, gt=0, description="seconds a finished run is kept (accepts 7d, 12h, 30m)"
    )
    max_active: int = Field(
        16, ge=1, description="pending + running runs one API key may have per username"
    )
    replica_timeout: float = Field(
        10.0,
        ge=3,
        description="seconds without a sign of life after which another replica (or this "
        "one's next start) marks its unfinished runs interrupted (accepts 10s, 1m)",
    )

    @field_validator("retention", "replica_timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v)


DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class UpstreamSettings(BaseModel):
    user_session_idle: float = Field(600.0, gt=0)
    busy_wait: float = Field(0.5, ge=0, description="how long a call waits for a free slot")
    max_message_bytes: int = Field(
        DEFAULT_MAX_MESSAGE_BYTES,
        ge=1024,
        description="largest JSON-RPC message accepted from an upstream (stdio line, HTTP body, "
        "SSE event); a larger answer fails its call with 502 upstream_error",
    )
    max_concurrency_per_user: int = Field(
        16,
        ge=1,
        description="calls one user may have in flight on one server unless the server sets "
        "maxConcurrencyPerUser; beyond it 503 upstream_busy, so one user cannot starve others",
    )


class RateLimitSettings(BaseModel):
    """Default token buckets for servers without their own ``rateLimit`` (all off by
    default, as in mcp-api), and how this replica shares them (docs/api.md, "Rate limits").
    Buckets are ``REQUESTS/MILLISECONDS`` text (``domain.ratelimit.parse_rate``)."""

    per_user: str | None = None
    per_key: str | None = None
    total: str | None = None
    replicas: int = Field(1, ge=1, le=1000, description="each replica enforces limit/replicas")
    max_buckets: int = Field(
        20_000, ge=100, description="buckets kept in memory (~400 B + username each)"
    )

    @field_validator("per_user", "per_key", "total")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        parse_rate(v)
        return v

    def defaults(self) -> RateLimit | None:
        """The default limit, or None when no default bucket is set."""
        limit = RateLimit(
            per_user=parse_rate(self.per_user),
            per_key=parse_rate(self.per_key),
            total=parse_rate(self.total),
        )
        return limit if limit.rules() else None


class InstallerSettings(BaseModel):
    packages_dir: Path = Path("packages")
    python_bin: str | None = None
    python_venv_dir: Path | None = None  # default <packages_dir>/python
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    npm_registry: str | None = None
    install_timeout: float = Field(300.0, gt=0)


class OAuthSettings(BaseModel):
    allowed_hosts: list[str] = []
    # Hosts a user's external server may be on although they resolve to private, loopback or
    # link-local addresses, or use plain http (empty: none; admins' platform servers are free).
    external_allowed_hosts: list[str] = []
    public_url: str | None = None
    google_credentials: SecretStr | None = None


class SandboxSettings(BaseModel):
    """How child processes are confined (docs/security.md)."""

    mode: Literal["auto", "required", "off"] = "auto"
    bwrap: str = "/usr/bin/bwrap"
    setpriv: str = "/usr/bin/setpriv"
    # One uid (and gid) per running child, leased from [uid_base, uid_base + uid_count).
    uid_base: int = Field(100_000, ge=1000, le=2**31 - 2**20)
    uid_count: int = Field(1000, ge=1, le=2**20)

    @field_validator("mode", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v


class EndpointSettings(BaseModel):
    """The gateway's own MCP endpoint (``/mcp``, ``/mcp/{server}``; docs/mcp-endpoint.md)."""

    # Browser origins allowed besides the gateway's own (an Origin naming the Host it was sent
    # to); any other Origin is refused with 403.
    allowed_origins: list[str] = []
    # Host headers accepted (``name`` or ``name:*`` for any port). Empty: any host, except on a
    # loopback listener, which accepts only localhost names (DNS rebinding).
    allowed_hosts: list[str] = []
    session_idle: float = Field(1800.0, gt=0, description="seconds before an idle session ends")
    max_sessions: int = Field(10_000, ge=1, description="open legacy sessions in all")
    max_sessions_per_caller: int = Field(
        64, ge=1, description="open legacy sessions per API key, username and endpoint"
    )
    # /mcp offers gateway__search_tools/describe_tool/call_tool instead of a catalogue larger
    # than this (docs/mcp-endpoint.md, "Large catalogues").
    tool_search_threshold: int = Field(64, ge=0, description="tools listed on /mcp at most")
    # Resumable SSE streams of legacy sessions (docs/mcp-endpoint.md, "Resumable streams").
    resume_events: int = Field(
        10_000, ge=0, description="SSE events kept for resumption in all (0: not resumable)"
    )
    resume_bytes: int = Field(
        32 * 1024 * 1024, ge=0, description="bytes of SSE events kept for resumption in all"
    )
    resume_events_per_stream: int = Field(
        256, ge=1, description="SSE events kept for resumption per response or GET stream"
    )
    resume_grace: float = Field(
        30.0,
        ge=0,
        description="seconds a client whose call's stream broke has to resume it before the "
        "call is cancelled (0: cancelled at once)",
    )
    sse_retry_ms: int = Field(
        1000, ge=0, description="the retry field of priming events: ms before a client reconnects"
    )


class ClusterSettings(BaseModel):
    """Several replicas on one store (docs/scaling.md): the change feed every replica follows,
    the install lease, and the drain on SIGTERM."""

    change_feed: Literal["auto", "stream", "poll"] = Field(
        "auto",
        description="auto: a MongoDB change stream where the deployment offers one, else "
        "polling the change log; stream: change streams only (MongoDB replica sets)",
    )
    change_poll_interval: float = Field(
        0.25, gt=0, le=10, description="seconds between two polls of the change log"
    )
    install_lease_ttl: float = Field(
        30.0,
        ge=2,
        description="seconds an install/upgrade lease lasts without renewal (renewed every "
        "third of it): a replica that dies holding it loses it after this long",
    )
    drain_timeout: float = Field(
        30.0,
        ge=0,
        description="seconds in-flight calls get to finish after SIGTERM before they are "
        "cancelled (accepts 30s, 1m)",
    )

    @field_validator("change_feed", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("install_lease_ttl", "drain_timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v)
