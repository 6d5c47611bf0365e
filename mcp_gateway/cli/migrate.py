"""``mcp-gateway migrate``: import another system's data into this gateway's store.

Works on this host's settings (like ``keys``): it opens the configured store (SQLite in the
data dir or MongoDB) directly, so the gateway need not run. Exit codes: 0 done (entries that
cannot be carried yet are listed but are not failures), 1 some source record was broken
(undecryptable, invalid) and was skipped, 2 configuration or connection error.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import typer

from mcp_gateway.cli.output import clean, print_json
from mcp_gateway.config import Settings, load_settings
from mcp_gateway.crypto.keyfile import key_file_path, load_keyring, uses_key_file
from mcp_gateway.crypto.keyring import Keyring, generate_key
from mcp_gateway.errors import ConfigError, GatewayError

if TYPE_CHECKING:
    from mcp_gateway.migration.mcp_api_format import McpApiEnv
    from mcp_gateway.migration.report import MigrationReport

migrate_app = typer.Typer(
    help="Import another system's data into this gateway's store.", no_args_is_help=True
)


def _fail(message: str, code: int) -> typer.Exit:
    print(f"mcp-gateway: {clean(message)}", file=sys.stderr)
    return typer.Exit(code)


def _keyring(settings: Settings, dry_run: bool) -> Keyring:
    # A dry run must not create the embedded key file: with no key file the store holds no
    # secret yet, so a throwaway key compares nothing and writes nothing.
    if dry_run and uses_key_file(settings) and not key_file_path(settings).exists():
        return Keyring([generate_key("dryrun")])
    return load_keyring(settings, mongodb=settings.uses_mongodb)


def _dry_run_settings(settings: Settings, scratch: Path) -> Settings:
    """A dry run into an embedded store that does not exist yet reads an empty scratch store
    instead, so it creates nothing (not even the SQLite file) in the data dir."""
    from mcp_gateway.storage.sqlite.db import DB_FILE

    if settings.uses_mongodb or (settings.store.data_dir / DB_FILE).exists():
        return settings
    store = settings.store.model_copy(update={"data_dir": scratch})
    return settings.model_copy(update={"store": store})


async def _run(settings: Settings, env: McpApiEnv, dry_run: bool) -> MigrationReport:
    keyring = _keyring(settings, dry_run)
    if dry_run:
        with tempfile.TemporaryDirectory(prefix="mcpgw-dryrun-") as scratch:
            return await _import(_dry_run_settings(settings, Path(scratch)), env, keyring, True)
    return await _import(settings, env, keyring, False)


async def _import(
    settings: Settings, env: McpApiEnv, keyring: Keyring, dry_run: bool
) -> MigrationReport:
    # Imported here: only this command needs the importer and the source driver.
    from mcp_gateway.migration.mcp_api import McpApiImport
    from mcp_gateway.storage.factory import open_store
    from mcp_gateway.storage.mongo.mcp_api_source import McpApiMongoSource

    source = McpApiMongoSource(
        env.url,
        env.database,
        username=env.username,
        password=env.password,
        replica_set=env.replica_set,
        io_timeout=settings.store.timeout,
    )
    try:
        async with open_store(settings) as store:
            return await McpApiImport(source, env, store, keyring, dry_run=dry_run).run()
    finally:
        await source.aclose()


@migrate_app.command("mcp-api")
def mcp_api(
    env_file: str = typer.Option(
        ..., "--env-file", help="mcp-api's .env (MONGO_*, SECRETS_KEY, SECRETS_DBNAME)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would change; write nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON report on stdout."),
) -> None:
    """Copy an mcp-api MongoDB database into this gateway's configured store.

    Servers, secrets (re-encrypted with this gateway's keys), OAuth tokens, session ids and
    package records. Safe to re-run: what is already here is left alone. Never prints a
    secret value. See docs/migration.md.

    Example: mcp-gateway migrate mcp-api --env-file ../mcp-api/.env --dry-run
    """
    from dotenv import dotenv_values

    from mcp_gateway.migration.mcp_api_format import McpApiEnv

    try:
        path = Path(env_file)
        if not path.is_file():
            raise ConfigError(f"env file {path} does not exist")
        env = McpApiEnv.from_env(dotenv_values(path))
        report = anyio.run(_run, load_settings(), env, dry_run)
    except GatewayError as exc:
        raise _fail(exc.message, 2) from None
    if as_json:
        print_json(report.to_json())
    else:
        for line in report.lines():
            typer.echo(clean(line))
    if not report.ok:
        raise typer.Exit(1)
