"""``/packages`` (admin only): install requests in, outcomes out (the records themselves are
in :mod:`.package_records`). Answers carry mcp-api's keys (``{package, server}``, upgrade-all
items with ``success``) and the gateway's own as additional keys.

Successful installs and upgrades answer without the installer's output (it runs to kilobytes);
``?includeLog=true`` adds it as ``log``. Failures always carry it: an ``install_failed`` error
body has ``log`` (the server's stderr tail, then the installer's output), and so does a
``failed`` item of upgrade-all.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from pydantic import Field

from mcp_gateway.api.schemas.common import (
    Ok,
    QueryModel,
    RequestModel,
    ResponseModel,
    ServerName,
)
from mcp_gateway.api.schemas.package_records import PackageOut, UpdateOut, omitted
from mcp_gateway.api.schemas.server_meta import (
    MetadataFields,
    MsHour,
    ReconnectionModel,
    seconds,
)
from mcp_gateway.api.schemas.servers import ServerOut
from mcp_gateway.domain.records import PackageRuntime
from mcp_gateway.domain.servers import (
    ServerMetadata,
    TransportType,
    apply_secret_names,
    declared_secret_names,
)
from mcp_gateway.installer.models import (
    InstallOutcome,
    InstallRequest,
    ServerRemoval,
    UpgradeOutcome,
)
from mcp_gateway.services.servers import ServerView

Text = Annotated[str, Field(max_length=4096)]
# Present only when asked for (or on failure): success answers stay small.
OptionalLog = Annotated[str | None, Field(default=None, exclude_if=lambda v: v is None)]


class InstallBody(MetadataFields):
    """mcp-api's install body: the package, how to run it, and the new server's other fields
    (``startupTimeout``/``callTimeout`` in ms, ``reconnectionOptions``, ``secretNames``, metadata)
    with the same meaning as in ``POST /mcp/servers``."""

    name: Annotated[str, Field(min_length=1, max_length=214)]
    server_name: ServerName
    runtime: PackageRuntime = PackageRuntime.NODE
    version: Annotated[str, Field(max_length=128)] | None = None
    transport_type: TransportType = TransportType.STDIO
    command: Text | None = None
    args: list[Text] = Field(default_factory=list, max_length=256)
    env: dict[str, Text] = Field(default_factory=dict)
    python_module: Annotated[str, Field(max_length=256)] | None = None
    python_args: list[Text] = Field(default_factory=list, max_length=256)
    pip_index_url: Text | None = None
    pip_extra_index_url: Text | None = None
    url: Text | None = None
    headers: dict[str, Text] = Field(default_factory=dict)
    enabled: bool = True
    allow_scripts: bool = False
    pip_dependencies: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list, max_length=32
    )
    fail_on_warning: bool = False
    startup_timeout: MsHour | None = None
    call_timeout: MsHour | None = None
    reconnection_options: ReconnectionModel | None = None

    def to_domain(self) -> InstallRequest:
        data = self.model_dump(by_alias=False, include=_INSTALL_FIELDS)
        data["args"] = tuple(self.args)
        data["python_args"] = tuple(self.python_args)
        data["pip_dependencies"] = tuple(self.pip_dependencies)
        return InstallRequest(**data, server_fields=self.server_fields())

    def server_fields(self) -> dict[str, Any]:
        """The new server's ServerConfig fields beyond how to run it (seconds, as the domain)."""
        out: dict[str, Any] = {}
        if self.startup_timeout is not None:
            out["startup_timeout"] = seconds(self.startup_timeout)
        timeout = self.call_timeout if self.call_timeout is not None else self.startup_timeout
        if timeout is not None:
            out["call_timeout"] = seconds(timeout)
        if self.reconnection_options is not None:
            out["reconnection"] = self.reconnection_options.to_domain()
        names = declared_secret_names(self.secret_names, self.secret_name)
        if names:
            out["secrets"] = apply_secret_names(names)
        metadata = self.metadata_changes(set(self.model_fields_set))
        if metadata:
            out["metadata"] = ServerMetadata(**metadata)
        return out


_INSTALL_FIELDS = {f.name for f in dataclasses.fields(InstallRequest)} - {"server_fields"}


class UpgradeBody(RequestModel):
    """``version``: omitted, null or ``""`` mean the latest (as in mcp-api)."""

    version: Annotated[str, Field(max_length=128)] | None = None


class ListQuery(QueryModel):
    """``?checkUpdates=true`` (``GET /packages``, ``by-id``, ``by-name``): each record gains
    ``latestVersion`` and ``updateAvailable``."""

    check_updates: bool = False


class UpdatesQuery(QueryModel):
    """``name``: a server name, else a package name; empty means every package (mcp-api)."""

    name: Annotated[str, Field(max_length=214)] | None = None


class DeleteQuery(QueryModel):
    purge: bool = False


class LogQuery(QueryModel):
    """``?includeLog=true``: a successful install/upgrade answer carries the installer's log."""

    include_log: bool = False


class ServerDeleteQuery(QueryModel):
    """``?keepPackage=true``: removing a package-backed server keeps its package."""

    keep_package: bool = False


class UpgradeOut(ResponseModel):
    """One upgrade: mcp-api's ``{serverName, success, error?}`` plus the gateway's versions
    and ``status`` (upgraded | up_to_date | failed)."""

    server_name: str
    success: bool
    error: str | None = omitted("why it failed (only on a failure)")
    name: str
    from_version: str
    to_version: str
    status: str
    log: OptionalLog = None

    @classmethod
    def of(cls, u: UpgradeOutcome, *, include_log: bool = False) -> UpgradeOut:
        """The log comes along for a failure, or when asked for."""
        log = u.log if u.log and (include_log or u.status == "failed") else None
        return cls(
            server_name=u.server_name, success=u.status != "failed", error=u.error, name=u.name,
            from_version=u.from_version, to_version=u.to_version, status=u.status, log=log,
        )  # fmt: skip


class InstallResponse(Ok):
    """mcp-api's ``{package, server}`` plus the gateway's ``serverName``, ``status``, ``tools``."""

    package: PackageOut
    server: ServerOut
    server_name: str
    status: str
    tools: list[dict[str, Any]]
    log: OptionalLog = None

    @classmethod
    def of(
        cls, o: InstallOutcome, view: ServerView, *, include_log: bool = False
    ) -> InstallResponse:
        tools = [
            t.model_dump(by_alias=True, mode="json", exclude_none=True)
            if hasattr(t, "model_dump")
            else t
            for t in o.tools
        ]
        return cls(
            package=PackageOut.of(o.package, enabled=o.server.enabled),
            server=ServerOut.of(view, admin=True),
            server_name=o.server.name,
            status=o.status.value, tools=tools,
            log=o.log if include_log else None,
        )  # fmt: skip


class RemovedPackageOut(ResponseModel):
    name: str
    version: str
    runtime: PackageRuntime
    removed: bool  # false: kept (keepPackage), still listed under /packages


class ServerRemovalResponse(Ok):
    """``DELETE /mcp/servers/{name}``: what went, in words (``message``) and in fields
    (``deleted`` is false when the server was already gone: deletes are idempotent)."""

    server_name: str
    deleted: bool = True
    package: RemovedPackageOut | None = None
    message: str

    @classmethod
    def of(cls, r: ServerRemoval) -> ServerRemovalResponse:
        p, name = r.package, r.server_name
        message = f"removed server {name}" if r.existed else f"server {name} did not exist"
        if p is None:
            message += "" if r.existed else " (nothing to do)"
            return cls(server_name=name, deleted=r.existed, message=message)
        if r.existed:
            message += " and its package" if r.package_removed else " but kept its package"
        else:
            message += "; removed its package" if r.package_removed else "; kept its package"
        return cls(
            server_name=name,
            deleted=r.existed,
            package=RemovedPackageOut(
                name=p.name, version=p.version, runtime=p.runtime, removed=r.package_removed
            ),
            message=f"{message} {p.name} {p.version}",
        )


class UninstallResponse(Ok):
    """``DELETE /packages/{serverName}``: idempotent, ``package`` is null and ``deleted`` false
    when there was no package."""

    package: PackageOut | None
    deleted: bool
    message: str


class PackageListResponse(Ok):
    """``GET /packages``; with ``checkUpdates=true`` the records carry ``latestVersion`` and
    ``updateAvailable`` (mcp-api) and ``updates`` lists the same checks (the gateway's)."""

    packages: list[PackageOut]
    updates: list[UpdateOut] | None = None


class PackageResponse(Ok):
    package: PackageOut


class PackageByNameResponse(Ok):
    """``GET /packages/by-name/{name}``: mcp-api's one ``package`` (the first install of the
    name), and every install of it in ``packages``."""

    package: PackageOut
    packages: list[PackageOut]


class UpdatesResponse(Ok):
    updates: list[UpdateOut]


class UpgradeResponse(Ok):
    """The gateway's ``result``, plus mcp-api's ``package`` and ``server`` as they are now
    (``server`` is null for a package whose server was removed with ``keepPackage``)."""

    result: UpgradeOut
    package: PackageOut
    server: ServerOut | None = None


class UpgradeAllResponse(Ok):
    results: list[UpgradeOut]
