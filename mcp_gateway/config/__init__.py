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
from pathlib import Path
from typing import Any, ClassVar

from dotenv import dotenv_values
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from mcp_gateway.config.env_vars import ENV_VARS, EnvVar
from mcp_gateway.config.sections import (
    DEFAULT_MAX_MESSAGE_BYTES,
    AuditSettings,
    ClusterSettings,
    EndpointSettings,
    HttpSettings,
    InstallerSettings,
    OAuthSettings,
    RateLimitSettings,
    RunsSettings,
    SandboxSettings,
    SecretsSettings,
    StoreSettings,
    TelemetrySettings,
    UpstreamSettings,
    mcp_api_mongo_url,
    parse_age,
    parse_size,
)
from mcp_gateway.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ENV_VARS",
    "AuditSettings",
    "ClusterSettings",
    "EndpointSettings",
    "EnvVar",
    "HttpSettings",
    "InstallerSettings",
    "OAuthSettings",
    "RateLimitSettings",
    "RunsSettings",
    "SandboxSettings",
    "SecretsSettings",
    "Settings",
    "StoreSettings",
    "TelemetrySettings",
    "UpstreamSettings",
    "load_settings",
    "mcp_api_mongo_url",
    "parse_age",
    "parse_size",
]


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
    rate_limit: RateLimitSettings = RateLimitSettings()
    endpoint: EndpointSettings = EndpointSettings()
    cluster: ClusterSettings = ClusterSettings()

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
        if self.cluster.change_feed == "stream" and not self.uses_mongodb:
            raise ConfigError(
                "MCPGW_CHANGE_FEED=stream needs MongoDB (the SQLite store is polled: use auto)"
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
