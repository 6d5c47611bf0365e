"""``mcp-gateway keys``: generate secret-encryption keys and rotate stored ciphertexts."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import anyio
import typer

from mcp_gateway.config import Settings, load_settings
from mcp_gateway.crypto.keyfile import add_primary_key, key_file_path, load_keyring, uses_key_file
from mcp_gateway.crypto.keyring import format_key_line, generate_key
from mcp_gateway.errors import ConfigError, GatewayError

if TYPE_CHECKING:
    from mcp_gateway.services.key_rotation import RotationReport

keys_app = typer.Typer(help="Generate and rotate secret-encryption keys.", no_args_is_help=True)


def _fail(message: str, code: int) -> typer.Exit:
    print(f"mcp-gateway: {message}", file=sys.stderr)
    return typer.Exit(code)


@keys_app.command("generate")
def generate(
    key_id: str | None = typer.Option(
        None, "--id", help="Key id (1-32 of A-Z a-z 0-9 _ -); default k<date><random>."
    ),
) -> None:
    """Print a new random key as id:base64key.

    Put it first in MCPGW_SECRETS_KEYS, keep the old keys after it, then run 'keys rotate'.

    Example: mcp-gateway keys generate --id k2
    """
    try:
        new_id, key = generate_key(key_id)
    except ConfigError as exc:
        raise _fail(exc.message, 2) from None
    typer.echo(format_key_line(new_id, key))


async def _rotate(settings: Settings) -> RotationReport:
    # Imported here: the store drivers are not needed by `keys generate` or other commands.
    from mcp_gateway.services.key_rotation import rotate_keys
    from mcp_gateway.storage.factory import open_store

    keyring = load_keyring(settings, mongodb=settings.uses_mongodb)
    async with open_store(settings) as store:
        return await rotate_keys(store, keyring)


@keys_app.command("rotate")
def rotate(
    new_key: bool = typer.Option(
        False,
        "--new-key",
        help="Embedded mode only: first add a fresh primary key to <data dir>/secrets.key.",
    ),
) -> None:
    """Re-encrypt every stored secret and OAuth token under the primary key.

    The primary is the first key of MCPGW_SECRETS_KEYS or of the key file; keep old keys after it.

    Gateways must know the new key first (MCPGW_SECRETS_KEYS=new,old); restart after --new-key.

    Safe to re-run. Exit 0: all current; 1: some failed (listed); 2: configuration error.

    Example: mcp-gateway keys rotate --new-key
    """
    try:
        settings = load_settings()
        if new_key:
            if not uses_key_file(settings):
                raise ConfigError(
                    "--new-key only works with the embedded key file; with MCPGW_SECRETS_KEYS "
                    "put a new key (mcp-gateway keys generate) first in the list instead"
                )
            path = key_file_path(settings)
            if not path.exists():
                raise ConfigError(f"key file {path} does not exist; nothing to rotate")
            new_id = add_primary_key(path)
            typer.echo(f"added primary key {new_id} to {path}")
        report = anyio.run(_rotate, settings)
    except ConfigError as exc:
        raise _fail(exc.message, 2) from None
    except GatewayError as exc:
        raise _fail(exc.message, 1) from None
    typer.echo(report.summary())
    for line in report.failed:
        typer.echo(f"failed: {line}", err=True)
    if not report.ok:
        raise typer.Exit(1)
