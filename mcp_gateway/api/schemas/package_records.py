"""Package records and update checks as answered: mcp-api's keys first (``{package}`` with
``installPath``, ``installed``, ``mcpServerId``...; update items with ``currentVersion``), then
the gateway's own as additional keys."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field

from mcp_gateway.api.schemas.common import ResponseModel
from mcp_gateway.api.schemas.server_meta import _iso as iso_time
from mcp_gateway.domain.package_states import ReplicaPackageState, ReplicaPackageStatus
from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.installer.models import PackageView, UpdateInfo
from mcp_gateway.installer.plan import (
    EXTRA_ARGS,
    LAST_UPGRADED,
    PIP_DEPENDENCIES,
    PYTHON_ARGS,
)


def omitted(description: str | None = None) -> Any:
    """A key left out of the answer while None (mcp-api leaves out what does not apply:
    ``latestVersion`` unless checkUpdates was asked, ``error`` of a success)."""
    return Field(default=None, exclude_if=lambda v: v is None, description=description)


# mcp-api's latestVersion when the registry could not be asked.
UNKNOWN_VERSION = "unknown"


class ReplicaStateOut(ResponseModel):
    """One replica whose own install of the package differs from the record (the gateway's;
    docs/scaling.md, "Packages")."""

    replica_id: str
    state: ReplicaPackageStatus = Field(description="installing | ready | failed")
    version: str = Field(description="the version this replica serves ('' for none)")
    target_version: str = Field(description="the version it installs or failed to install")
    error: str | None = omitted("why the install failed here")
    updated_at: str | None = Field(description="ISO-8601, UTC: last touched by that replica")

    @classmethod
    def of(cls, s: ReplicaPackageState) -> ReplicaStateOut:
        return cls(
            replica_id=s.replica, state=s.status, version=s.version, target_version=s.target,
            error=s.error, updated_at=iso_time(s.updated_at) if s.updated_at else None,
        )  # fmt: skip


class PackageOut(ResponseModel):
    """A package record: mcp-api's keys first, then the gateway's."""

    # mcp-api's PackageInfo
    name: str
    version: str
    install_path: str = Field(description="absolute path of the current install")
    installed: str | None = Field(description="ISO-8601, UTC: the first install")
    last_upgraded: str | None = Field(description="ISO-8601, UTC: the last upgrade, or null")
    status: str
    runtime: PackageRuntime
    mcp_server_id: str = Field(description="the server's name")
    enabled: bool = Field(description="its server is enabled (false once it was removed)")
    venv_path: str | None = Field(description="Python: the venv (the install directory)")
    python_module: str | None
    python_args: list[str]
    pip_index_url: str | None = Field(description="a credential in it is ***")
    pip_extra_index_url: str | None = Field(description="a credential in it is ***")
    pip_dependencies: list[str]
    latest_version: str | None = omitted(
        f"with checkUpdates=true; {UNKNOWN_VERSION!r} when the registry could not be asked"
    )
    update_available: bool | None = omitted("with checkUpdates=true")
    update_error: str | None = omitted("why latestVersion is unknown")
    # the gateway's
    server_name: str
    requested_version: str | None
    install_dir: str
    command: str | None
    args: list[str]
    env: dict[str, str]
    custom_command: bool
    allow_scripts: bool
    installed_at: float = Field(description="a time: epoch seconds")
    updated_at: float = Field(description="a time: epoch seconds")
    replicas: list[ReplicaStateOut] | None = omitted(
        "the live replicas whose own install differs from this record (installing the "
        "recorded version, failed, or at another version); left out when every one agrees"
    )

    @classmethod
    def of(
        cls,
        r: PackageRecord,
        *,
        enabled: bool,
        update: UpdateInfo | None = None,
        replicas: tuple[ReplicaPackageState, ...] = (),
    ) -> PackageOut:
        extra = r.extra
        legacy = extra.get("mcpApi")  # a record imported from mcp-api: its own fields
        legacy = legacy if isinstance(legacy, dict) else {}
        python = r.runtime is PackageRuntime.PYTHON
        python_args = extra.get(PYTHON_ARGS, legacy.get("pythonArgs"))
        if python_args is None and python and not r.custom_command:
            python_args = extra.get(EXTRA_ARGS)
        last = extra.get(LAST_UPGRADED)
        return cls(
            name=r.name, version=r.version, install_path=r.install_dir,
            installed=iso_time(r.installed_at) if r.installed_at else None,
            last_upgraded=iso_time(float(last)) if isinstance(last, int | float) else None,
            status=r.status, runtime=r.runtime, mcp_server_id=r.server_name, enabled=enabled,
            venv_path=r.install_dir if python and r.install_dir else None,
            python_module=r.python_module,
            python_args=[str(a) for a in python_args or ()],
            pip_index_url=mask_url_credentials(r.pip_index_url),
            pip_extra_index_url=mask_url_credentials(r.pip_extra_index_url),
            pip_dependencies=[str(d) for d in extra.get(PIP_DEPENDENCIES, ())],
            latest_version=(update.latest_version or UNKNOWN_VERSION) if update else None,
            update_available=update.update_available if update else None,
            update_error=update.error if update else None,
            server_name=r.server_name, requested_version=r.requested_version,
            install_dir=r.install_dir, command=r.command, args=list(r.args), env=dict(r.env),
            custom_command=r.custom_command, allow_scripts=r.allow_scripts,
            installed_at=r.installed_at, updated_at=r.updated_at,
            replicas=[ReplicaStateOut.of(s) for s in replicas] or None,
        )  # fmt: skip

    @classmethod
    def of_view(cls, view: PackageView) -> PackageOut:
        return cls.of(view.record, enabled=view.enabled, update=view.update, replicas=view.replicas)


class UpdateOut(ResponseModel):
    """mcp-api's ``{serverName, currentVersion, latestVersion, updateAvailable}`` (with
    ``latestVersion`` ``"unknown"`` when the registry could not be asked, as mcp-api), plus the
    gateway's ``name``, ``runtime``, ``installedVersion`` and ``error``."""

    server_name: str
    current_version: str
    latest_version: str
    update_available: bool
    name: str
    runtime: PackageRuntime
    installed_version: str
    error: str | None = None

    @classmethod
    def of(cls, u: UpdateInfo) -> UpdateOut:
        return cls(
            server_name=u.server_name, current_version=u.installed_version,
            latest_version=u.latest_version or UNKNOWN_VERSION,
            update_available=u.update_available, name=u.name, runtime=u.runtime,
            installed_version=u.installed_version, error=u.error,
        )  # fmt: skip


def mask_url_credentials(url: str | None) -> str | None:
    """``https://user:token@host/simple`` -> ``https://***@host/simple``: an index URL may
    carry a credential, which must not come back in an API response."""
    if not url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
