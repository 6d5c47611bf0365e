"""Plain data in and out of the package service (the API maps JSON bodies onto these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_gateway.domain.records import PackageRecord, Runtime
from mcp_gateway.domain.servers import ServerConfig, ServerStatus, TransportType


@dataclass(frozen=True, slots=True)
class InstallRequest:
    """``POST /packages/install`` in snake_case. ``command`` makes the command custom."""

    name: str
    server_name: str
    runtime: Runtime = Runtime.NODE
    version: str | None = None
    transport_type: TransportType = TransportType.STDIO
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    python_module: str | None = None
    python_args: tuple[str, ...] = ()
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    allow_scripts: bool = False  # admin only (the API checks the role)


@dataclass(frozen=True, slots=True)
class InstallOutcome:
    package: PackageRecord
    server: ServerConfig
    status: ServerStatus  # connected, error (the install is kept) or disabled
    tools: tuple[Any, ...] = ()  # mcp_types.Tool as listed by the started server
    error: str | None = None
    log: str = ""


@dataclass(frozen=True, slots=True)
class UpdateInfo:
    server_name: str
    name: str
    runtime: Runtime
    installed_version: str
    latest_version: str | None
    update_available: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UpgradeOutcome:
    server_name: str
    name: str
    from_version: str
    to_version: str
    status: str  # upgraded | up_to_date | failed
    error: str | None = None
    log: str = ""
