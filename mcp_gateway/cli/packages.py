"""``mcp-gateway packages``: install MCP servers from npm or PyPI and keep them up to date.

Installs run inside the gateway (npm / uv / pip into an isolated directory per server); the CLI
shows a live status line while the request runs and, on failure, the installer's log.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import Annotated, Any
from urllib.parse import quote

import typer

from mcp_gateway.cli.client import DEFAULT_URL, gateway
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import print_fields, print_json, print_table, say, spinner
from mcp_gateway.cli.parsing import parse_json_object, parse_str_map

packages_app = typer.Typer(help="Install and upgrade MCP server packages.", no_args_is_help=True)

# npm/pip can take minutes; the gateway bounds them with MCPGW_INSTALL_TIMEOUT (300 s).
INSTALL_TIMEOUT = 900.0
ServerArg = Annotated[str, typer.Argument(help="Server name of the package.", show_default=False)]


def default_server_name(package: str) -> str:
    """The server name used when none is given: ``@scope/server-foo`` -> ``server-foo``,
    ``mcp-server-git==1.0`` -> ``mcp-server-git``."""
    base = package.rsplit("/", 1)[-1]
    base = re.split(r"[@=<>~! \[]", base, maxsplit=1)[0] or package.lstrip("@")
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-_")
    return cleaned[:64] or "server"


def _package_path(server: str) -> str:
    return f"/packages/{quote(server, safe='')}"


def _package_rows(packages: list[dict[str, Any]]) -> Any:
    for p in packages:
        latest = p.get("latestVersion")
        yield (
            p.get("serverName"),
            p.get("name"),
            p.get("runtime"),
            p.get("version", p.get("installedVersion")),
            latest if latest else "",
            p.get("status"),
        )


@packages_app.command("install")
def install(
    package: Annotated[str, typer.Argument(help="npm or PyPI package name.", show_default=False)],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="Extra arguments of the server command (after --).", show_default=False
        ),
    ] = None,
    server_name: Annotated[
        str | None,
        typer.Option("--server-name", "-s", help="Register it as this server (default: derived)."),
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Version or range (default: latest).")
    ] = None,
    runtime: Annotated[
        str | None, typer.Option("--runtime", "-r", help="node (default) or python.")
    ] = None,
    command: Annotated[
        str | None, typer.Option("--command", "-c", help="Override the detected command.")
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="K=V environment variable (repeatable).")
    ] = None,
    pip_index_url: Annotated[
        str | None, typer.Option("--pip-index-url", help="Python package index URL.")
    ] = None,
    allow_scripts: Annotated[
        bool, typer.Option("--allow-scripts", help="npm only: run the package's install scripts.")
    ] = False,
    extra: Annotated[
        str | None, typer.Option("--extra", help="More install fields as a JSON object.")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Install a package into its own directory and register it as a server.

    Example: mcp-gateway packages install @modelcontextprotocol/server-filesystem -s fs -- /srv
    Example: mcp-gateway packages install mcp-server-time --runtime python
    """
    name = server_name or default_server_name(package)
    with gateway(url, api_key, timeout=INSTALL_TIMEOUT) as gw:
        body: dict[str, Any] = parse_json_object(extra, "--extra") if extra else {}
        body |= {"name": package, "serverName": name}
        optional = {
            "version": version,
            "runtime": runtime,
            "command": command,
            "pipIndexUrl": pip_index_url,
        }
        body |= {k: v for k, v in optional.items() if v is not None}
        if args:
            body["args"] = list(args)
        if env:
            body["env"] = parse_str_map(env, "--env")
        if allow_scripts:
            body["allowScripts"] = True
        with spinner(f"installing {package} as {name}"):
            result = gw.post("/packages/install", body, timeout=INSTALL_TIMEOUT)
    if as_json:
        print_json(result.get("package", result.get("server", {})))
        return
    pkg = result.get("package") or {}
    version_text = f" {pkg['version']}" if isinstance(pkg, dict) and pkg.get("version") else ""
    say(f"installed {package}{version_text} as server {name}")


@packages_app.command("list")
def list_packages(
    check_updates: Annotated[
        bool, typer.Option("--check-updates", help="Also ask the registries for newer versions.")
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List installed packages (optionally with the latest available version).

    Example: mcp-gateway packages list --check-updates
    """
    params = {"checkUpdates": "true"} if check_updates else {}
    with gateway(url, api_key, timeout=120.0) as gw:
        with spinner("asking the registries") if check_updates else nullcontext():
            packages = gw.get("/packages", **params).get("packages", [])
    if as_json:
        print_json(packages)
        return
    print_table(
        ["SERVER", "PACKAGE", "RUNTIME", "VERSION", "LATEST", "STATUS"],
        _package_rows(packages),
        title="Packages",
    )


@packages_app.command("updates")
def updates(
    server: Annotated[str | None, typer.Argument(help="Only this server.")] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show installed packages that have a newer version.

    Example: mcp-gateway packages updates --json
    """
    with gateway(url, api_key, timeout=120.0) as gw, spinner("checking for updates"):
        found = gw.get("/packages/updates", name=server).get("updates", [])
    if as_json:
        print_json(found)
        return
    print_table(
        ["SERVER", "PACKAGE", "INSTALLED", "LATEST"],
        (
            (
                u.get("serverName"),
                u.get("name", u.get("packageName")),
                u.get("installedVersion", u.get("currentVersion")),
                u.get("latestVersion"),
            )
            for u in found
            if isinstance(u, dict) and u.get("updateAvailable", True)
        ),
        title="Updates",
    )


@packages_app.command("upgrade")
def upgrade(
    server: ServerArg,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Target version (default: latest).")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Upgrade one package; the previous install is kept until the new one starts.

    Example: mcp-gateway packages upgrade fs --version 2025.8.1
    """
    body = {"version": version} if version else {}
    with gateway(url, api_key, timeout=INSTALL_TIMEOUT) as gw:
        with spinner(f"upgrading {server}"):
            result = gw.put(f"{_package_path(server)}/upgrade", body, timeout=INSTALL_TIMEOUT)
    if as_json:
        print_json({k: v for k, v in result.items() if k != "success"})
    else:
        say(f"upgraded {server}")


@packages_app.command("upgrade-all")
def upgrade_all(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """Upgrade every package that has a newer version.

    Example: mcp-gateway packages upgrade-all
    """
    with gateway(url, api_key, timeout=INSTALL_TIMEOUT) as gw:
        with spinner("upgrading every package"):
            result = gw.put("/packages/upgrade-all", {}, timeout=INSTALL_TIMEOUT)
    body = {k: v for k, v in result.items() if k != "success"}
    if as_json:
        print_json(body)
        return
    if body:
        print_fields(body.items())
    else:
        say("upgraded every package")


@packages_app.command("remove")
def remove(
    server: ServerArg,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Uninstall a package and remove its server.

    Example: mcp-gateway packages remove fs
    """
    with gateway(url, api_key, timeout=120.0) as gw, spinner(f"removing {server}"):
        gw.delete(_package_path(server))
    if as_json:
        print_json({"removed": server})
    else:
        say(f"removed package of server {server}")
