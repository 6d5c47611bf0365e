"""``mcp-gateway servers``: register, change, inspect and remove upstream MCP servers."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer

from mcp_gateway.cli.client import (
    DEFAULT_URL,
    GatewayClient,
    fail_usage,
    gateway,
)
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import (
    print_fields,
    print_json,
    print_table,
    say,
    write_text,
)
from mcp_gateway.cli.parsing import parse_json_object, parse_str_map
from mcp_gateway.cli.servers_import import import_servers

servers_app = typer.Typer(help="Manage upstream MCP servers.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Server name.", show_default=False)]
CommandOpt = Annotated[
    str | None, typer.Option("--command", "-c", help="Executable of a stdio server.")
]
ArgsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Arguments of the stdio command (put them after --).", show_default=False),
]
ServerUrlOpt = Annotated[
    str | None, typer.Option("--server-url", help="URL of a Streamable HTTP or SSE server.")
]
TransportOpt = Annotated[
    str | None,
    typer.Option(
        "--transport", help="stdio, streamable_http or sse (default: from --command/--server-url)."
    ),
]
EnvOpt = Annotated[
    list[str] | None,
    typer.Option("--env", "-e", help="K=V environment variable (repeatable). Not for secrets."),
]
HeaderOpt = Annotated[
    list[str] | None,
    typer.Option("--header", "-H", help="K=V HTTP header (repeatable). Not for secrets."),
]
CwdOpt = Annotated[str | None, typer.Option("--cwd", help="Working directory of a stdio server.")]
ExtraOpt = Annotated[
    str | None,
    typer.Option(
        "--extra",
        help="More server fields as a JSON object (durations in milliseconds), e.g. "
        '\'{"isolation": "per_user", "callTimeout": 120000}\' or '
        '\'{"rateLimit": {"perUser": {"requests": 60, "perMs": 60000}}}\'.',
    ),
]


def server_path(name: str) -> str:
    return f"/mcp/servers/{quote(name, safe='')}"


def _target(server: dict[str, Any]) -> str:
    if server.get("url"):
        return str(server["url"])
    parts = [str(server.get("command") or "")] + [str(a) for a in server.get("args") or []]
    return " ".join(p for p in parts if p)


def _tool_count(server: dict[str, Any]) -> int | None:
    tools = server.get("toolsList", server.get("tools"))
    return len(tools) if isinstance(tools, list) else None


def _build_body(
    *,
    command: str | None,
    args: list[str] | None,
    server_url: str | None,
    transport: str | None,
    env: list[str] | None,
    headers: list[str] | None,
    cwd: str | None,
    extra: str | None,
) -> dict[str, Any]:
    if command and server_url:
        raise fail_usage("give either --command or --server-url, not both")
    body: dict[str, Any] = parse_json_object(extra, "--extra") if extra else {}
    if command is not None:
        body["command"] = command
        body.setdefault("transportType", "stdio")
    if server_url is not None:
        body["url"] = server_url
        body.setdefault("transportType", "streamable_http")
    if transport is not None:
        body["transportType"] = transport
    if args:
        body["args"] = list(args)
    if env:
        body["env"] = parse_str_map(env, "--env")
    if headers:
        body["headers"] = parse_str_map(headers, "--header")
    if cwd is not None:
        body["cwd"] = cwd
    return body


def _show_server(server: dict[str, Any]) -> None:
    hidden = {"toolsList", "tools", "logs", "errors"}
    fields = [(k, v) for k, v in server.items() if k not in hidden]
    tools = server.get("toolsList", server.get("tools"))
    if isinstance(tools, list):
        names = ", ".join(str(t.get("name", "?")) for t in tools if isinstance(t, dict))
        fields.append(("tools", names))
    print_fields(fields)


@servers_app.command("list")
def list_servers(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """List registered servers with transport, status and tool count.

    Example: mcp-gateway servers list --json | jq '.[].name'
    """
    with gateway(url, api_key) as gw:
        servers = gw.get("/mcp/servers").get("servers", [])
    if as_json:
        print_json(servers)
        return
    print_table(
        ["NAME", "TRANSPORT", "TARGET", "ENABLED", "STATUS", "TOOLS"],
        (
            (
                s.get("name"),
                s.get("transportType", "stdio"),
                _target(s),
                s.get("enabled", True),
                s.get("status"),
                _tool_count(s),
            )
            for s in servers
        ),
        title="Servers",
    )


@servers_app.command("show")
def show(
    name: NameArg,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show one server's definition, status and tools.

    Example: mcp-gateway servers show github
    """
    with gateway(url, api_key) as gw:
        server = gw.get(server_path(name)).get("server", {})
    if as_json:
        print_json(server)
    else:
        _show_server(server)


def _print_result(body: dict[str, Any], as_json: bool, message: str) -> None:
    if as_json:
        print_json(body.get("server", {}))
    else:
        say(message)


@servers_app.command("add")
def add(
    name: NameArg,
    args: ArgsArg = None,
    command: CommandOpt = None,
    server_url: ServerUrlOpt = None,
    transport: TransportOpt = None,
    env: EnvOpt = None,
    header: HeaderOpt = None,
    cwd: CwdOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Register it disabled.")] = False,
    extra: ExtraOpt = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Register a server (stdio with --command, or remote with --server-url).

    Example: mcp-gateway servers add fs -c npx -- -y @modelcontextprotocol/server-filesystem /srv
    Example: mcp-gateway servers add docs --server-url https://mcp.example.com/mcp
    Put API keys in secrets (mcp-gateway secrets set), not in --env or --header.
    """
    with gateway(url, api_key) as gw:
        body = _build_body(
            command=command,
            args=args,
            server_url=server_url,
            transport=transport,
            env=env,
            headers=header,
            cwd=cwd,
            extra=extra,
        )
        if "command" not in body and "url" not in body:
            raise fail_usage("give --command (stdio) or --server-url (remote)")
        body["name"] = name
        if disabled:
            body["enabled"] = False
        result = gw.post("/mcp/servers", body)
    _print_result(result, as_json, f"added server {name}")


@servers_app.command("update")
def update(
    name: NameArg,
    args: ArgsArg = None,
    command: CommandOpt = None,
    server_url: ServerUrlOpt = None,
    transport: TransportOpt = None,
    env: EnvOpt = None,
    header: HeaderOpt = None,
    cwd: CwdOpt = None,
    extra: ExtraOpt = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Change a server: only the fields given are sent; the gateway restarts it if needed.

    Arguments after -- replace the command's arguments; --env/--header replace the whole map.
    Example: mcp-gateway servers update fs -- -y @modelcontextprotocol/server-filesystem /data
    """
    with gateway(url, api_key) as gw:
        body = _build_body(
            command=command,
            args=args,
            server_url=server_url,
            transport=transport,
            env=env,
            headers=header,
            cwd=cwd,
            extra=extra,
        )
        if not body:
            raise fail_usage("nothing to update: give at least one option or arguments after --")
        result = gw.put(server_path(name), body)
    _print_result(result, as_json, f"updated server {name}")


@servers_app.command("remove")
def remove(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    keep_package: Annotated[
        bool,
        typer.Option("--keep-package", help="Keep the package an installed server came from."),
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Stop and delete a server, with every user's secrets for it and, for a server installed
    with 'packages install', its package (unless --keep-package).

    Example: mcp-gateway servers remove fs --yes
    """
    if not yes:
        also = "" if keep_package else " (and its package, if it was installed as one)"
        typer.confirm(f"Remove server {name!r} and all its users' secrets{also}?", abort=True)
    with gateway(url, api_key) as gw:
        result = gw.delete(server_path(name), keepPackage="true" if keep_package else None)
    if as_json:
        print_json({k: v for k, v in result.items() if k != "success"})
    else:
        say(str(result.get("message") or f"removed server {name}"))


@servers_app.command("enable")
def enable(
    name: NameArg,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Enable a disabled server and start it.

    Example: mcp-gateway servers enable fs
    """
    with gateway(url, api_key) as gw:
        result = gw.put(f"{server_path(name)}/enable")
    _print_result(result, as_json, f"enabled server {name}")


@servers_app.command("disable")
def disable(
    name: NameArg,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Stop a server and refuse calls to it, keeping its definition and secrets.

    Example: mcp-gateway servers disable fs
    """
    with gateway(url, api_key) as gw:
        result = gw.put(f"{server_path(name)}/disable")
    _print_result(result, as_json, f"disabled server {name}")


def _fetch_logs(gw: GatewayClient, name: str) -> list[str]:
    server = gw.get(server_path(name)).get("server", {})
    lines = server.get("logs") or []
    if server.get("lastError") and server["lastError"] not in lines:
        lines = [*lines, f"last error: {server['lastError']}"]
    return [str(line) for line in lines]


@servers_app.command("logs")
def logs(
    name: NameArg,
    tail: Annotated[int, typer.Option("--tail", "-n", help="Show the last N lines.")] = 100,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show the recent stderr/log lines the gateway kept for a server.

    Example: mcp-gateway servers logs fs --tail 20
    """
    with gateway(url, api_key) as gw:
        lines = _fetch_logs(gw, name)
    lines = lines[-tail:] if tail > 0 else lines
    if as_json:
        print_json(lines)
        return
    for line in lines:
        write_text(str(line))  # upstream stderr: control sequences removed
    if not lines:
        say(f"(no log lines for {name})")


servers_app.command("import")(import_servers)
