"""``mcp-gateway status``: gateway health plus every server's status, restarts and tools."""

from __future__ import annotations

from typing import Any

import typer

from mcp_gateway.cli.client import DEFAULT_URL, ApiError, gateway, report_api_error
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import print_fields, print_json, print_table


def merge_servers(
    health: dict[str, Any], servers: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """One row per server: health's status/restarts joined with the API's enabled/tool count."""
    by_name: dict[str, dict[str, Any]] = {}
    live = health.get("servers") or {}
    if isinstance(live, dict):
        for name, info in live.items():
            info = info if isinstance(info, dict) else {"status": info}
            by_name[str(name)] = {
                "name": str(name),
                "status": info.get("status"),
                "restarts": info.get("restarts"),
            }
    for server in servers or []:
        name = str(server.get("name"))
        row = by_name.setdefault(name, {"name": name, "status": server.get("status")})
        row.setdefault("restarts", None)
        row["enabled"] = server.get("enabled", True)
        tools = server.get("toolsList", server.get("tools"))
        row["tools"] = len(tools) if isinstance(tools, list) else None
        if row.get("status") is None:
            row["status"] = server.get("status")
    return sorted(by_name.values(), key=lambda r: r["name"])


def overall_status(health: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """``ok`` only when the gateway says so and no server is in ``error``; else ``degraded``
    (or the gateway's own word when it is not ``ok``)."""
    status = str(health.get("status") or "unknown")
    if status == "ok" and any(row.get("status") == "error" for row in rows):
        return "degraded"
    return status


def _summary(summary: Any) -> str:
    """``/healthz``'s server counts (all a caller without a key is told about servers)."""
    if not isinstance(summary, dict):
        return "-"
    return f"{summary.get('servers', '?')} ({summary.get('unhealthy', '?')} unhealthy)"


def _uptime(millis: Any) -> str:
    if not isinstance(millis, int | float):
        return "-"
    s = int(millis) // 1000  # /healthz reports milliseconds, as every API duration
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    return (f"{days}d " if days else "") + f"{hours:02d}:{minutes:02d}:{s:02d}"


def status(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """Show gateway health and a table of servers (status, restarts; tools when a key is set).

    Exit code 0 when the gateway is ok, 1 when it is degraded (store down, or a server in
    ``error``) or the key is refused, 2 when it cannot be reached.
    Example: MCPGW_API_KEY=... mcp-gateway status
    """
    failure: ApiError | None = None
    servers: list[dict[str, Any]] | None = None
    with gateway(url, api_key) as gw:
        health = gw.get("/healthz")
        if api_key:
            try:
                servers = gw.get("/mcp/servers").get("servers", [])
            except ApiError as err:
                failure = err
    rows = merge_servers(health, servers)
    overall = overall_status(health, rows)
    if as_json:
        print_json({"status": overall, "health": health, "servers": rows})
    else:
        store = health.get("store") or {}
        print_fields(
            [
                ("gateway", url),
                ("status", overall),
                ("version", health.get("version")),
                ("uptime", _uptime(health.get("uptime"))),
                ("store", f"{store.get('backend', '?')} ({store.get('status', '?')})"),
                ("replica", health.get("replica")),
                ("servers", _summary(health.get("summary"))),
            ]
        )
        columns = ["SERVER", "STATUS", "RESTARTS"]
        if servers is not None:
            columns += ["ENABLED", "TOOLS"]
        print_table(
            columns,
            (
                [r["name"], r.get("status"), r.get("restarts")]
                + ([r.get("enabled"), r.get("tools")] if servers is not None else [])
                for r in rows
            ),
            title="Servers",
        )
    if failure is not None:
        report_api_error(failure)
        raise typer.Exit(1)
    if overall != "ok":
        raise typer.Exit(1)
