"""``/packages`` (admin only): thin routes over the installer's PackageService."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_gateway.api.auth import runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_body, read_query
from mcp_gateway.api.routes.install_stream import install_events, wants_events
from mcp_gateway.api.schemas.package_records import PackageOut, UpdateOut
from mcp_gateway.api.schemas.packages import (
    DeleteQuery,
    InstallBody,
    InstallResponse,
    ListQuery,
    LogQuery,
    PackageByNameResponse,
    PackageListResponse,
    PackageResponse,
    UninstallResponse,
    UpdatesQuery,
    UpdatesResponse,
    UpgradeAllResponse,
    UpgradeBody,
    UpgradeOut,
    UpgradeResponse,
)
from mcp_gateway.api.schemas.servers import ServerOut, ServerResponse
from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.errors import ServerNotFound
from mcp_gateway.installer.models import update_info
from mcp_gateway.process.output import LineCallback


def _json(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"))


async def install(request: Request) -> Response:
    body = await read_body(request, InstallBody)
    query = read_query(request, LogQuery)
    runtime = runtime_of(request)
    spec = body.to_domain()

    async def run(on_line: LineCallback | None) -> InstallResponse:
        outcome = await runtime.packages.install(spec, on_line=on_line)
        view = await runtime.servers.get(outcome.server.name)
        return InstallResponse.of(outcome, view, include_log=query.include_log)

    if wants_events(request):  # the installer's output as it comes (the console)
        return install_events(request, run)
    return _json(await run(None))


async def list_packages(request: Request) -> JSONResponse:
    query = read_query(request, ListQuery)
    packages = runtime_of(request).packages
    views = await packages.views(await packages.list_packages(), check_updates=query.check_updates)
    updates = None
    if query.check_updates:
        updates = [UpdateOut.of(v.update) for v in views if v.update is not None]
    return _json(
        PackageListResponse(packages=[PackageOut.of_view(v) for v in views], updates=updates)
    )


async def by_name(request: Request) -> JSONResponse:
    query = read_query(request, ListQuery)
    packages = runtime_of(request).packages
    records = await packages.by_name(request.path_params["name"])
    views = [PackageOut.of_view(v) for v in await packages.views(
        records, check_updates=query.check_updates
    )]  # fmt: skip
    return _json(PackageByNameResponse(package=views[0], packages=views))


async def by_id(request: Request) -> JSONResponse:
    name = validate_server_name(request.path_params["serverName"])
    query = read_query(request, ListQuery)
    packages = runtime_of(request).packages
    (view,) = await packages.views([await packages.get(name)], check_updates=query.check_updates)
    return _json(PackageResponse(package=PackageOut.of_view(view)))


async def updates(request: Request) -> JSONResponse:
    query = read_query(request, UpdatesQuery)
    infos = await runtime_of(request).packages.updates(query.name or None)
    return _json(UpdatesResponse(updates=[UpdateOut.of(u) for u in infos]))


async def upgrade(request: Request) -> JSONResponse:
    name = validate_server_name(request.path_params["serverName"])
    raw = await request.body()
    body = await read_body(request, UpgradeBody) if raw.strip() else UpgradeBody()
    version = body.version or None  # "" is the latest too
    query = read_query(request, LogQuery)
    runtime = runtime_of(request)
    outcome = await runtime.packages.upgrade(name, version)
    record = await runtime.packages.get(name)
    try:
        view = await runtime.servers.get(name)
    except ServerNotFound:  # removed with keepPackage: the package stays, without a server
        server, enabled = None, False
    else:
        server, enabled = ServerOut.of(view, admin=True), view.config.enabled
    result = UpgradeOut.of(outcome, include_log=query.include_log)
    # upgraded to (or already at) the latest it looked up: mcp-api's latestVersion/updateAvailable
    latest = outcome.latest_version
    update = update_info(record, latest, False) if latest and outcome.status != "failed" else None
    package = PackageOut.of(record, enabled=enabled, update=update)
    return _json(UpgradeResponse(result=result, package=package, server=server))


async def upgrade_all(request: Request) -> JSONResponse:
    query = read_query(request, LogQuery)
    outcomes = await runtime_of(request).packages.upgrade_all()
    results = [UpgradeOut.of(o, include_log=query.include_log) for o in outcomes]
    return _json(UpgradeAllResponse(results=results))


async def uninstall(request: Request) -> JSONResponse:
    name = validate_server_name(request.path_params["serverName"])
    query = read_query(request, DeleteQuery)
    record = await runtime_of(request).packages.uninstall(name, purge=query.purge)
    if record is None:
        message = f"no package for server {name} (nothing to do)"
        return _json(UninstallResponse(package=None, deleted=False, message=message))
    message = f"uninstalled {record.name} {record.version} (server {name})"
    package = PackageOut.of(record, enabled=False)  # as it was; its server is gone now
    return _json(UninstallResponse(package=package, deleted=True, message=message))


async def enable(request: Request) -> JSONResponse:
    name = validate_server_name(request.path_params["serverName"])
    view = await runtime_of(request).packages.set_enabled(name, True)
    return _json(ServerResponse(server=ServerOut.of(view, admin=True)))


async def disable(request: Request) -> JSONResponse:
    name = validate_server_name(request.path_params["serverName"])
    view = await runtime_of(request).packages.set_enabled(name, False)
    return _json(ServerResponse(server=ServerOut.of(view, admin=True)))


_E = (401, 403)
ENDPOINTS = [
    Endpoint("POST", "/packages/install", install,
             "Install, register and start a package (502 install_failed, with the server's "
             "stderr, when it does not list its tools; nothing is kept). With Accept: "
             "text/event-stream: the installer's output as `line` events, then one `result` "
             "or `error` event", "packages",
             body=InstallBody, query=LogQuery, response=InstallResponse, auth="admin",
             errors=(400, *_E, 409, 413, 502)),
    Endpoint("GET", "/packages", list_packages, "Installed packages", "packages",
             query=ListQuery, response=PackageListResponse, auth="admin", errors=_E),
    Endpoint("GET", "/packages/updates", updates,
             "Latest registry versions vs installed (name: a server name, or a package name; "
             "an unknown name gives no updates)", "packages", query=UpdatesQuery,
             response=UpdatesResponse, auth="admin", errors=_E),
    Endpoint("GET", "/packages/by-name/{name:path}", by_name,
             "The (first) install of a package name, and every install of it", "packages",
             query=ListQuery, response=PackageByNameResponse, auth="admin", errors=(*_E, 404)),
    Endpoint("GET", "/packages/by-id/{serverName}", by_id, "The package behind a server",
             "packages", query=ListQuery, response=PackageResponse, auth="admin",
             errors=(400, *_E, 404)),
    Endpoint("PUT", "/packages/upgrade-all", upgrade_all, "Upgrade every outdated package",
             "packages", query=LogQuery, response=UpgradeAllResponse, auth="admin", errors=_E),
    Endpoint("PUT", "/packages/{serverName}/upgrade", upgrade,
             "Upgrade (or pin) one package atomically", "packages", body=UpgradeBody,
             query=LogQuery, response=UpgradeResponse, auth="admin",
             errors=(400, *_E, 404, 409, 502)),
    Endpoint("PUT", "/packages/{serverName}/enable", enable,
             "Enable and start the package's server (as PUT /mcp/servers/{name}/enable)",
             "packages", response=ServerResponse, auth="admin", errors=(400, *_E, 404)),
    Endpoint("PUT", "/packages/{serverName}/disable", disable,
             "Stop and disable the package's server (as PUT /mcp/servers/{name}/disable)",
             "packages", response=ServerResponse, auth="admin", errors=(400, *_E, 404)),
    Endpoint("DELETE", "/packages/{serverName}", uninstall,
             "Uninstall (purge=true also deletes every user's secrets); idempotent: 200 with "
             "deleted=false when there is no package", "packages",
             query=DeleteQuery, response=UninstallResponse, auth="admin",
             errors=(400, *_E, 409)),
]  # fmt: skip
