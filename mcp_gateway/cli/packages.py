"""``mcp-gateway packages``: install MCP servers from npm or PyPI and keep them up to date.

Installs run inside the gateway (npm / uv / pip into an isolated directory per server); the CLI
shows a live status line while the request runs. An install whose server does not start fails
(exit 1) and prints why: the server's stderr, then the installer's log.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import Annotated, Any
from urllib.parse import quote

import typer

from mcp_gateway.cli.client import DEFAULT_URL, gateway
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import print_json, print_table, say, spinner, warn, write_text
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


def merge_updates(
    packages: list[dict[str, Any]], updates: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Add ``latestVersion``/``updateAvailable`` from an updates list to each package (the
    records of a current gateway carry them already; older ones only sent ``updates``)."""
    if updates is None:
        return packages
    by_server: dict[Any, dict[str, Any]] = {
        u.get("serverName"): u for u in updates if isinstance(u, dict)
    }
    merged: list[dict[str, Any]] = []
    for p in packages:
        info: dict[str, Any] = by_server.get(p.get("serverName")) or {}
        extra: dict[str, Any] = {
            k: info[k] for k in ("latestVersion", "updateAvailable", "error") if k in info
        }
        merged.append({**p, **extra})
    return merged


def _package_rows(packages: list[dict[str, Any]]) -> Any:
    for p in packages:
        yield (
            p.get("serverName"),
            p.get("name"),
            p.get("runtime"),
            p.get("version"),
            p.get("latestVersion"),
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
    pip_dependencies: Annotated[
        list[str] | None,
        typer.Option(
            "--pip-dependency",
            help="Python only: one more requirement to install with it, e.g. 'fastmcp<3' "
            "(repeatable; kept for upgrades).",
        ),
    ] = None,
    fail_on_warning: Annotated[
        bool, typer.Option("--fail-on-warning", help="Fail if npm/pip/uv prints a warning.")
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
        if pip_dependencies:
            body["pipDependencies"] = list(pip_dependencies)
        if fail_on_warning:
            body["failOnWarning"] = True
        with spinner(f"installing {package} as {name}"):
            result = gw.post("/packages/install", body, timeout=INSTALL_TIMEOUT)
    if as_json:
        print_json({k: v for k, v in result.items() if k != "success"})
    else:
        pkg = result.get("package") or {}
        say(
            f"installed {pkg.get('name', package)} {pkg.get('version', '')} as server {name}: "
            f"{result.get('status', '?')}, {len(result.get('tools') or [])} tools"
        )


def _print_log(log: Any) -> None:
    if isinstance(log, str) and log.strip():
        write_text(f"--- install log ---\n{log}\n--- end of install log ---", err=True)


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
            body = gw.get("/packages", **params)
    packages = merge_updates(body.get("packages") or [], body.get("updates"))
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
    package: Annotated[
        str | None,
        typer.Argument(help="Only this server, or else every install of this package name."),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Compare installed versions with the registries' latest (all packages, one server, or
    the installs of one package name).

    Example: mcp-gateway packages updates @modelcontextprotocol/server-filesystem --json
    """
    with gateway(url, api_key, timeout=120.0) as gw, spinner("checking for updates"):
        found = gw.get("/packages/updates", name=package).get("updates", [])
    if as_json:
        print_json(found)
        return
    print_table(
        ["SERVER", "PACKAGE", "INSTALLED", "LATEST", "UPDATE", "ERROR"],
        (
            (
                u.get("serverName"),
                u.get("name"),
                u.get("currentVersion", u.get("installedVersion")),
                u.get("latestVersion"),
                u.get("updateAvailable"),
                u.get("error"),
            )
            for u in found
            if isinstance(u, dict)
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
    """Upgrade one package; the previous install keeps serving unless the new one starts.

    Example: mcp-gateway packages upgrade fs --version 2025.8.1
    """
    body = {"version": version} if version else {}
    with gateway(url, api_key, timeout=INSTALL_TIMEOUT) as gw:
        with spinner(f"upgrading {server}"):
            result = gw.put(f"{_package_path(server)}/upgrade", body, timeout=INSTALL_TIMEOUT)
    outcome = result.get("result") or {}
    if as_json:
        print_json(outcome)
    else:
        say(_outcome_line(outcome))
    _fail_on_failed([outcome])


def _outcome_line(o: dict[str, Any]) -> str:
    return (
        f"{o.get('serverName')}: {o.get('name')} {o.get('fromVersion')} -> "
        f"{o.get('toVersion')} ({o.get('status')})"
    )


def _fail_on_failed(outcomes: list[dict[str, Any]]) -> None:
    failed = [o for o in outcomes if o.get("status") == "failed"]
    for o in failed:
        warn(f"upgrade of {o.get('serverName')} failed: {o.get('error') or 'unknown error'}")
        _print_log(o.get("log"))
    if failed:
        raise typer.Exit(1)


@packages_app.command("upgrade-all")
def upgrade_all(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """Upgrade every package that has a newer version; exit code 1 if any upgrade failed.

    Example: mcp-gateway packages upgrade-all
    """
    with gateway(url, api_key, timeout=INSTALL_TIMEOUT) as gw:
        with spinner("upgrading every package"):
            result = gw.put("/packages/upgrade-all", {}, timeout=INSTALL_TIMEOUT)
    outcomes = [o for o in result.get("results") or [] if isinstance(o, dict)]
    if as_json:
        print_json(outcomes)
    else:
        print_table(
            ["SERVER", "PACKAGE", "FROM", "TO", "STATUS", "ERROR"],
            (
                (o.get("serverName"), o.get("name"), o.get("fromVersion"), o.get("toVersion"),
                 o.get("status"), o.get("error"))
                for o in outcomes
            ),
            title="Upgrades",
        )  # fmt: skip
    _fail_on_failed(outcomes)


@packages_app.command("remove")
def remove(
    server: ServerArg,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete every user's secrets for the server.")
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Uninstall a package and remove its server (users' secrets stay unless --purge).

    Example: mcp-gateway packages remove fs --purge
    """
    with gateway(url, api_key, timeout=120.0) as gw, spinner(f"removing {server}"):
        result = gw.delete(_package_path(server), purge="true" if purge else None)
    deleted = bool(result.get("deleted", True))  # deletes are idempotent
    if as_json:
        print_json({"removed": server, "deleted": deleted})
    else:
        say(f"removed package of server {server}" if deleted else f"no package for {server}")
