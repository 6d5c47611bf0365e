"""``mcp-gateway apikeys``: create, list and revoke the gateway's API keys.

``create --local`` works on the store directly (no running gateway, no key needed): it is how an
operator bootstraps or recovers admin access on the gateway's host.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import anyio
import typer

from mcp_gateway.cli.client import DEFAULT_URL, fail_usage, gateway
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import print_json, print_table, say, warn
from mcp_gateway.errors import ConfigError, GatewayError

if TYPE_CHECKING:
    from mcp_gateway.config import Settings

apikeys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


class RoleChoice(StrEnum):
    ADMIN = "admin"
    SERVICE = "service"
    USER = "user"


async def _create_local(
    settings: Settings, name: str, role: str, username: str | None
) -> tuple[str, str]:
    # Imported here: the store drivers cost ~0.4 s of start-up every other command skips.
    from mcp_gateway.services.apikeys import ApiKeyService
    from mcp_gateway.storage.factory import open_store

    async with open_store(settings) as store:
        record, key = await ApiKeyService(store).create(name, role, username)
    return record.id, key


def _print_created(as_json: bool, key_id: str, key: str, name: str, role: str) -> None:
    if as_json:
        print_json({"id": key_id, "key": key, "name": name, "role": role})
        return
    say(f"created {role} key {name!r} (id {key_id}); it is shown only this once:")
    typer.echo(key)


@apikeys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A label for the key.", show_default=False)],
    role: Annotated[RoleChoice, typer.Option("--role", "-r", help="What it may do.")] = (
        RoleChoice.SERVICE
    ),
    username: Annotated[
        str | None, typer.Option("--username", "-u", help="The user a 'user' key is bound to.")
    ] = None,
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="Write to the store directly (bootstrap; reads MCPGW_* settings)."
        ),
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Create a key and print it once (only its hash is stored).

    Example: mcp-gateway apikeys create backend --role service
    Example: MCPGW_DATA_DIR=./data mcp-gateway apikeys create ops --role admin --local
    """
    if local:
        from mcp_gateway.config import load_settings

        try:
            settings = load_settings()
            key_id, key = anyio.run(_create_local, settings, name, role.value, username)
        except ConfigError as exc:
            raise fail_usage(exc.message) from None
        except GatewayError as exc:
            warn(f"{exc.message} (code: {exc.code})")
            raise typer.Exit(1) from None
        _print_created(as_json, key_id, key, name, role.value)
        return
    body: dict[str, Any] = {"name": name, "role": role.value}
    if username is not None:
        body["username"] = username
    with gateway(url, api_key) as gw:
        result = gw.post("/admin/apikeys", body)
    _print_created(as_json, str(result.get("id")), str(result.get("key")), name, role.value)


def _when(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return "-" if value in (None, "", 0) else str(value)
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))


def key_list(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("keys", body.get("apiKeys", body.get("apikeys", [])))
    return [k for k in items or [] if isinstance(k, dict)]


@apikeys_app.command("list")
def list_keys(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """List keys: id, name, role, bound username, prefix and last use (never the key).

    Example: mcp-gateway apikeys list --json
    """
    with gateway(url, api_key) as gw:
        keys = key_list(gw.get("/admin/apikeys"))
    if as_json:
        print_json(keys)
        return
    print_table(
        ["ID", "NAME", "ROLE", "USERNAME", "PREFIX", "CREATED", "LAST USED"],
        (
            (
                k.get("id"),
                k.get("name"),
                k.get("role"),
                k.get("username"),
                k.get("prefix"),
                _when(k.get("createdAt")),
                _when(k.get("lastUsedAt")),
            )
            for k in keys
        ),
        title="API keys",
    )


@apikeys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from apikeys list).")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Revoke a key; it stops working at once.

    Example: mcp-gateway apikeys revoke 3f2a9c0d1e4b5a69
    """
    with gateway(url, api_key) as gw:
        result = gw.delete(f"/admin/apikeys/{quote(key_id, safe='')}")
    deleted = bool(result.get("deleted", True))  # deletes are idempotent
    if as_json:
        print_json({"revoked": key_id, "deleted": deleted})
    else:
        say(f"revoked key {key_id}" if deleted else f"no key {key_id} (nothing to revoke)")
