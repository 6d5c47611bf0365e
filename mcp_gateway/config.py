"""Settings: one pydantic-settings object made of small nested models.

Environment names are flat (``MCPGW_PORT``, not ``MCPGW_HTTP__PORT``) and mcp-api's names are
accepted as aliases; :data:`ENV_VARS` is the one table that maps them onto the nested fields.
``example.env`` documents every name in that table (a test keeps the two in step).
:func:`load_settings` reads ``.env`` in the working directory first, as mcp-api does (its users
``cp example.env .env``); the process environment wins over it. mcp-api's own semantics of its
variables (``MONGO_HOST`` as host or URL, ``PAYLOAD_LIMIT`` as "6mb") are decided here, once,
for the gateway and for the migration importer alike.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote_plus

from dotenv import dotenv_values
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from mcp_gateway.errors import ConfigError


@dataclass(frozen=True)
class EnvVar:
    names: tuple[str, ...]  # first is ours, the rest are mcp-api aliases
    path: tuple[str, str]  # (section, field)
    is_list: bool = False


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar(("MCPGW_HOST",), ("http", "host")),
    EnvVar(("MCPGW_PORT", "PORT"), ("http", "port")),
    EnvVar(("MCPGW_MAX_BODY", "PAYLOAD_LIMIT"), ("http", "max_body")),
    EnvVar(("MCPGW_BODY_TIMEOUT",), ("http", "body_timeout")),
    EnvVar(("MCPGW_STRICT_REQUESTS",), ("http", "strict_requests")),
    EnvVar(("MCPGW_CORS_ORIGINS",), ("http", "cors_origins"), is_list=True),
    EnvVar(("MCPGW_TRUSTED_PROXIES",), ("http", "trusted_proxies"), is_list=True),
    EnvVar(("MCPGW_AUTH_MODE",), ("http", "auth_mode")),
    EnvVar(("MCPGW_ADMIN_API_KEY",), ("http", "admin_api_key")),
    EnvVar(("MCPGW_LOG_LEVEL",), ("http", "log_level")),
    EnvVar(("MCPGW_LOG_FORMAT",), ("http", "log_format")),
    EnvVar(("MCPGW_REPLICA_ID",), ("http", "replica_id")),
    EnvVar(("MCPGW_DATA_DIR",), ("store", "data_dir")),
    EnvVar(("MCPGW_MONGODB_URI",), ("store", "mongodb_uri")),
    EnvVar(("MCPGW_MONGODB_DB", "MONGO_DBNAME"), ("store", "mongodb_db")),
    EnvVar(("MONGO_USER",), ("store", "mongo_user")),
    EnvVar(("MONGO_PASS",), ("store", "mongo_pass")),
    EnvVar(("MONGO_HOST",), ("store", "mongo_host")),
    EnvVar(("MONGO_REPLICASET",), ("store", "mongo_replicaset")),
    EnvVar(("MCPGW_STORE_TIMEOUT",), ("store", "timeout")),
    EnvVar(("MCPGW_SECRETS_KEYS",), ("secrets", "keys")),
    EnvVar(("MCPGW_SECRETS_KEY", "SECRETS_KEY"), ("secrets", "passphrase")),
    EnvVar(("MCPGW_MAX_SECRETS_PER_USER",), ("secrets", "max_per_user")),
    EnvVar(("MCPGW_MAX_SECRET_BYTES",), ("secrets", "max_bytes")),
    # The older name (a number of days) is an alias: a bare number is days there and here.
    EnvVar(("MCPGW_AUDIT_RETENTION", "MCPGW_AUDIT_RETENTION_DAYS"), ("audit", "retention")),
    EnvVar(("MCPGW_AUDIT_MAX_EVENTS",), ("audit", "max_events")),
    EnvVar(("MCPGW_RUN_RESULT_MAX_BYTES",), ("runs", "result_max_bytes")),
    EnvVar(("MCPGW_RUN_RETENTION",), ("runs", "retention")),
    EnvVar(("MCPGW_RUN_MAX_ACTIVE",), ("runs", "max_active")),
    EnvVar(("MCPGW_RUN_REPLICA_TIMEOUT",), ("runs", "replica_timeout")),
    EnvVar(("MCPGW_USER_SESSION_IDLE",), ("upstream", "user_session_idle")),
    EnvVar(("MCPGW_BUSY_WAIT",), ("upstream", "busy_wait")),
    EnvVar(("MCPGW_MAX_MESSAGE_BYTES",), ("upstream", "max_message_bytes")),
    EnvVar(("MCPGW_MAX_CONCURRENCY_PER_USER",), ("upstream", "max_concurrency_per_user")),
    EnvVar(("MCPGW_PACKAGES_DIR",), ("installer", "packages_dir")),
    EnvVar(("MCPGW_PYTHON_BIN", "PYTHON_BIN"), ("installer", "python_bin")),
    EnvVar(("MCPGW_PYTHON_VENV_DIR", "PYTHON_VENV_DIR"), ("installer", "python_venv_dir")),
    EnvVar(("MCPGW_PIP_INDEX_URL", "PIP_INDEX_URL"), ("installer", "pip_index_url")),
    EnvVar(
        ("MCPGW_PIP_EXTRA_INDEX_URL", "PIP_EXTRA_INDEX_URL"), ("installer", "pip_extra_index_url")
    ),
    EnvVar(("MCPGW_NPM_REGISTRY",), ("installer", "npm_registry")),
    EnvVar(("MCPGW_INSTALL_TIMEOUT",), ("installer", "install_timeout")),
    EnvVar(("MCPGW_OAUTH_ALLOWED_HOSTS",), ("oauth", "allowed_hosts"), is_list=True),
    EnvVar(("MCPGW_PUBLIC_URL",), ("oauth", "public_url")),
    EnvVar(("GOOGLE_OAUTH_CREDENTIALS",), ("oauth", "google_credentials")),
    EnvVar(("MCPGW_SANDBOX",), ("sandbox", "mode")),
    EnvVar(("MCPGW_SANDBOX_BWRAP",), ("sandbox", "bwrap")),
    EnvVar(("MCPGW_SANDBOX_UID_BASE",), ("sandbox", "uid_base")),
    EnvVar(("MCPGW_SANDBOX_UID_COUNT",), ("sandbox", "uid_count")),
    EnvVar(("MCPGW_METRICS_KEY",), ("telemetry", "metrics_key")),
    EnvVar(("MCPGW_METRICS_MAX_TOOLS",), ("telemetry", "metrics_max_tools")),
    EnvVar(("MCPGW_OTEL",), ("telemetry", "otel")),
)


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


class _FlatEnvSource(PydanticBaseSettingsSource):
    """Reads the flat names in :data:`ENV_VARS` into the nested sections."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ does the whole job

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for var in ENV_VARS:
            for name in var.names:
                raw = self._environ.get(name)
                if raw is None or raw == "":
                    continue
                value: Any = raw
                if var.is_list:
                    value = [item.strip() for item in raw.split(",") if item.strip()]
                out.setdefault(var.path[0], {})[var.path[1]] = value
                break
        return out


class Settings(BaseSettings):
    """Everything configurable. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(extra="ignore")
    # Set by load_settings on a throwaway subclass so tests can pass their own environment.
    source_environ: ClassVar[Mapping[str, str] | None] = None

    http: HttpSettings = HttpSettings()
    store: StoreSettings = StoreSettings()
    secrets: SecretsSettings = SecretsSettings()
    upstream: UpstreamSettings = UpstreamSettings()
    installer: InstallerSettings = InstallerSettings()
    oauth: OAuthSettings = OAuthSettings()
    audit: AuditSettings = AuditSettings()
    runs: RunsSettings = RunsSettings()
    sandbox: SandboxSettings = SandboxSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = getattr(settings_cls, "source_environ", None)
        if environ is None:
            environ = os.environ
        return (init_settings, _FlatEnvSource(settings_cls, environ))

    def check_startup(self) -> None:
        """Cross-section rules checked before serving. Raises ConfigError."""
        if self.http.auth_mode == "none" and not _is_loopback(self.http.host):
            raise ConfigError(
                "MCPGW_AUTH_MODE=none is only allowed on a loopback listener "
                f"(MCPGW_HOST is {self.http.host!r})"
            )

    @property
    def replica_id(self) -> str:
        """This process's replica id: ``MCPGW_REPLICA_ID``, else ``<hostname>-<6 hex>`` drawn
        once per process (a restart is a new replica: its audit records and metrics are told
        apart from the previous run's). The one place every reader takes it from."""
        return self.http.replica_id or _process_replica_id()

    @property
    def uses_mongodb(self) -> bool:
        return self.store.resolved_mongodb_uri() is not None

    @property
    def venv_root(self) -> Path:
        return self.installer.python_venv_dir or self.installer.packages_dir / "python"


@functools.cache
def _process_replica_id() -> str:
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:48] or "gateway"
    return f"{host}-{secrets.token_hex(3)}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _env_name_for(loc: tuple[int | str, ...], env: Mapping[str, str]) -> str:
    """The variable that set the field at ``loc``: the name actually used (ours or the alias)."""
    path = tuple(str(p) for p in loc[:2])
    for var in ENV_VARS:
        if var.path == path:
            return next((name for name in var.names if env.get(name)), var.names[0])
    return ".".join(str(p) for p in loc)


DOTENV = Path(".env")


def read_dotenv(path: Path = DOTENV) -> dict[str, str]:
    """The variables of a ``.env`` file (``NAME=value`` lines, python-dotenv's syntax, which
    covers the ``dotenv`` package mcp-api uses); empty when there is no file."""
    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from ``environ`` plus keyword overrides.

    Without ``environ``: the process environment over ``.env`` in the working directory (a
    variable set in both comes from the environment). Raises :class:`ConfigError` with one line
    naming the first bad variable; the value itself is never echoed (it may be a key or a
    password).
    """
    env = {**read_dotenv(), **os.environ} if environ is None else dict(environ)
    source_cls = type("_BoundSettings", (Settings,), {"source_environ": env})
    try:
        settings: Settings = source_cls(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = _env_name_for(err["loc"], env)
        raise ConfigError(f"invalid setting {name}: {err['msg']}") from None
    return settings
