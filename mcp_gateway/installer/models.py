"""Plain data in and out of the package service (the API maps JSON bodies onto these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_gateway.domain.package_states import ReplicaPackageState
from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.domain.servers import ServerConfig, ServerStatus, TransportType
from mcp_gateway.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class InstallRequest:
    """``POST /packages/install`` in snake_case. ``command`` makes the command custom."""

    name: str
    server_name: str
    runtime: PackageRuntime = PackageRuntime.NODE
    version: str | None = None
    transport_type: TransportType = TransportType.STDIO
    command: str | None = None
    args: tuple[str, ...] = ()
    # Env/header values and index URLs may be credentials: kept out of reprs.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    python_module: str | None = None
    python_args: tuple[str, ...] = ()
    pip_index_url: str | None = field(default=None, repr=False)
    pip_extra_index_url: str | None = field(default=None, repr=False)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    enabled: bool = True
    allow_scripts: bool = False  # admin only (the API checks the role)
    pip_dependencies: tuple[str, ...] = ()  # Python: more requirements in the same install
    fail_on_warning: bool = False  # an installer warning fails this install (not upgrades)
    # More ServerConfig fields for the new server (timeouts, reconnection, secrets, metadata:
    # mcp-api's install body carries them); never command/args/env/url/headers/name.
    server_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstallOutcome:
    package: PackageRecord
    server: ServerConfig
    status: ServerStatus  # connected or disabled (a server that does not start fails the install)
    tools: tuple[Any, ...] = ()  # mcp_types.Tool as listed by the started server
    log: str = ""


@dataclass(frozen=True, slots=True)
class ServerRemoval:
    """What removing a server did: ``package`` is the package behind it (None if there was
    none) and ``package_removed`` says whether that package went too or was kept;
    ``existed`` is False when the server was already gone (deletes are idempotent)."""

    server_name: str
    package: PackageRecord | None = None
    package_removed: bool = False
    existed: bool = True


@dataclass(frozen=True, slots=True)
class UpdateInfo:
    server_name: str
    name: str
    runtime: PackageRuntime
    installed_version: str
    latest_version: str | None
    update_available: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PackageView:
    """A package as shown: its record, whether its server is enabled (False once the server
    was removed with its package kept) and, when asked for, the registry's latest version."""

    record: PackageRecord
    enabled: bool
    update: UpdateInfo | None = None
    # Live replicas whose own install of it differs from the record (installing, failed...).
    replicas: tuple[ReplicaPackageState, ...] = ()


@dataclass(frozen=True, slots=True)
class UpgradeOutcome:
    server_name: str
    name: str
    from_version: str
    to_version: str
    status: str  # upgraded | up_to_date | failed
    error: str | None = None
    log: str = ""
    latest_version: str | None = None  # the registry's latest, when the upgrade asked for it


def update_info(
    record: PackageRecord, latest: str | None, newer: bool, error: str | None = None
) -> UpdateInfo:
    return UpdateInfo(
        record.server_name, record.name, record.runtime, record.version, latest, newer, error
    )


def unchanged(
    record: PackageRecord,
    status: str,
    error: str | None = None,
    log: str = "",
    latest: str | None = None,
) -> UpgradeOutcome:
    """An upgrade that left ``record`` as it was (``up_to_date`` or ``failed``)."""
    return UpgradeOutcome(
        record.server_name, record.name, record.version, record.version, status, error, log, latest
    )


def _str(body: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None or (value == "" and not required):
        if required:
            raise InvalidRequest(
                f"{key} is required", details=[{"field": key, "error": "required"}]
            )
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{key} must be a string", details=[{"field": key, "error": "type"}])
    return value


def _strs(body: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{key} must be a list of strings", details=[{"field": key}])
    return tuple(value)


def _map(body: Mapping[str, Any], key: str) -> dict[str, str]:
    value = body.get(key) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidRequest(f"{key} must be an object of strings", details=[{"field": key}])
    return dict(value)


def install_request_from_body(body: Mapping[str, Any]) -> InstallRequest:
    """Map an mcp-api ``POST /packages/install`` JSON body (camelCase) onto a request.

    Checks only shapes and types (InvalidRequest); the service validates the contents.
    ``allowScripts`` is taken as given: the API must refuse it for non-admin callers.
    """
    runtime = _str(body, "runtime") or PackageRuntime.NODE.value
    transport = _str(body, "transportType") or TransportType.STDIO.value
    try:
        runtime_value, transport_value = PackageRuntime(runtime), TransportType(transport)
    except ValueError:
        raise InvalidRequest(
            "runtime must be node or python; transportType stdio, streamable_http or sse"
        ) from None
    for flag in ("enabled", "allowScripts", "failOnWarning"):
        if flag in body and not isinstance(body[flag], bool):
            raise InvalidRequest(f"{flag} must be a boolean", details=[{"field": flag}])
    return InstallRequest(
        name=_str(body, "name", required=True) or "",
        server_name=_str(body, "serverName", required=True) or "",
        runtime=runtime_value,
        version=_str(body, "version"),
        transport_type=transport_value,
        command=_str(body, "command"),
        args=_strs(body, "args"),
        env=_map(body, "env"),
        python_module=_str(body, "pythonModule"),
        python_args=_strs(body, "pythonArgs"),
        pip_index_url=_str(body, "pipIndexUrl"),
        pip_extra_index_url=_str(body, "pipExtraIndexUrl"),
        url=_str(body, "url"),
        headers=_map(body, "headers"),
        enabled=bool(body.get("enabled", True)),
        allow_scripts=bool(body.get("allowScripts", False)),
        pip_dependencies=_strs(body, "pipDependencies"),
        fail_on_warning=bool(body.get("failOnWarning", False)),
    )
