"""``mcp-gateway secrets``: set, delete and list a user's secrets for a server.

A secret value is read from a hidden prompt (on a terminal) or from stdin, never from argv:
the command line lands in shell history and is visible to every local user in ``ps``.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from mcp_gateway.cli.client import DEFAULT_URL, fail_usage, gateway
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption, UsernameOption
from mcp_gateway.cli.output import print_json, print_table, say

secrets_app = typer.Typer(help="Manage users' encrypted secrets.", no_args_is_help=True)

ServerArg = Annotated[str, typer.Argument(help="Server name.", show_default=False)]
SecretArg = Annotated[str, typer.Argument(help="Secret name.", show_default=False)]


def read_secret_value(name: str) -> str:
    """Hidden prompt (typed twice) on a terminal; otherwise all of stdin minus one trailing
    newline. An empty value is a usage error (exit 2)."""
    if sys.stdin is not None and sys.stdin.isatty():
        value: str = typer.prompt(f"Value for {name}", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read() if sys.stdin is not None else ""
        if value.endswith("\r\n"):
            value = value[:-2]
        elif value.endswith("\n"):
            value = value[:-1]
    if not value:
        raise fail_usage("empty secret value (type it at the prompt or pipe it on stdin)")
    return value


def _scope(server: str, username: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"serverName": server}
    if username is not None:
        body["username"] = username
    return body


@secrets_app.command("set")
def set_secret(
    server: ServerArg,
    name: SecretArg,
    username: UsernameOption = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Store (or replace) a secret; the value comes from a hidden prompt or stdin.

    Example: printf %s "$GITHUB_TOKEN" | mcp-gateway secrets set github GITHUB_TOKEN -u alice
    """
    value = read_secret_value(name)
    with gateway(url, api_key) as gw:
        body = _scope(server, username) | {"secretName": name, "secretValue": value}
        gw.post("/secrets/set", body)
    _done(as_json, "set", server, name, username)


@secrets_app.command("delete")
def delete_secret(
    server: ServerArg,
    name: SecretArg,
    username: UsernameOption = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete one secret of a user for a server.

    Example: mcp-gateway secrets delete github GITHUB_TOKEN --username alice
    """
    with gateway(url, api_key) as gw:
        result = gw.post("/secrets/delete", _scope(server, username) | {"secretName": name})
    if result.get("deleted", True):
        _done(as_json, "deleted", server, name, username)
    elif as_json:  # deletes are idempotent: say that nothing was there
        print_json(
            {"serverName": server, "secretName": name, "username": username, "deleted": False}
        )
    else:
        say(str(result.get("message") or f"secret {name} was not set"))


def _done(as_json: bool, verb: str, server: str, name: str, username: str | None) -> None:
    if as_json:
        print_json({"serverName": server, "secretName": name, "username": username, verb: True})
    else:
        who = f" for {username}" if username else ""
        say(f"{verb} secret {name} of server {server}{who}")


def secret_names(body: dict[str, Any]) -> list[str]:
    """The names from a ``GET /secrets`` answer (``secrets``/``names``: strings or objects)."""
    items = body.get("secrets", body.get("names", []))
    names = []
    for item in items or []:
        names.append(
            str(item.get("name", item.get("secretName"))) if isinstance(item, dict) else str(item)
        )
    return names


@secrets_app.command("list")
def list_secrets(
    server: ServerArg,
    username: UsernameOption = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List the names (never the values) of a user's secrets for a server.

    Example: mcp-gateway secrets list github --username alice --json
    """
    with gateway(url, api_key) as gw:
        names = secret_names(gw.get("/secrets", serverName=server, username=username))
    if as_json:
        print_json(names)
    else:
        print_table(["SECRET"], ([n] for n in names), title="Secrets")
