"""``mcp-gateway serve``: run the gateway under Hypercorn until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

import typer

from mcp_gateway.cli import logsafe
from mcp_gateway.cli.logformat import JsonFormatter, text_formatter
from mcp_gateway.config import Settings, load_settings
from mcp_gateway.errors import GatewayError

if TYPE_CHECKING:
    from hypercorn.config import Config as HypercornConfig

# The server stack (Hypercorn, Starlette, the MCP SDK, every adapter) is imported inside
# `serve` only: every other CLI command starts without paying for it.

serve_app = typer.Typer(help="Run the gateway.")


def _hypercorn_config(settings: Settings) -> HypercornConfig:
    from hypercorn.config import Config as HypercornConfig

    config = HypercornConfig()
    host = settings.http.host
    config.bind = [
        f"[{host}]:{settings.http.port}" if ":" in host else f"{host}:{settings.http.port}"
    ]
    config.accesslog = None
    # A logger, not "-": its records propagate to the root handler and its safety filter.
    config.errorlog = logging.getLogger("hypercorn.error")
    # SIGTERM: in-flight requests get this long, then are cancelled (services/drain.py).
    config.graceful_timeout = settings.cluster.drain_timeout
    # The API applies its own body limit; keep Hypercorn's WSGI limit out of the way.
    return config


async def _serve(settings: Settings) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from mcp_gateway.api.app import create_app
    from mcp_gateway.runtime import Runtime

    stop = asyncio.Event()
    runtime = Runtime(settings)

    def drain() -> None:
        runtime.drain.begin(settings.cluster.drain_timeout)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, drain)
    # Enter the runtime before listening so a bad key or unreachable store is one clean line.
    # Starlette is an ASGI app; Hypercorn's typing is narrower than the ASGI protocol it accepts.
    app: Any = create_app(runtime)
    async with runtime:
        # Hypercorn runs in its own task: its shutdown cancels and un-cancels tasks, and that
        # bookkeeping must not touch the task that owns the runtime's cancel scopes.
        await asyncio.create_task(
            hypercorn_serve(app, _hypercorn_config(settings), shutdown_trigger=stop.wait)
        )


# Their DEBUG output traces raw JSON-RPC messages, requests and (pymongo) stored documents:
# injected secrets, tokens, env/header values, OAuth client secrets.
_VERBATIM_LOGGERS = ("mcp", "httpx2", "httpcore2", "hpack", "pymongo")


def _configure_logging(
    level_name: str, log_format: str = "text", replica: str | None = None
) -> None:
    level = logging.getLevelName(level_name.upper())
    logging.basicConfig()
    root = logging.getLogger()
    root.setLevel(level)  # also when handlers exist (basicConfig skips then)
    replica = replica or load_settings({}).replica_id
    formatter = JsonFormatter(replica) if log_format == "json" else text_formatter(replica)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    for name in _VERBATIM_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    # Hypercorn's "Running on <address>" line says where the gateway listens (port 0 picks one):
    # shown at every level.
    logging.getLogger("hypercorn.error").setLevel(min(level, logging.INFO))
    logsafe.install()  # one line per record, no URL credentials (see cli/logsafe.py)


@serve_app.callback(invoke_without_command=True)
def serve(
    host: str | None = typer.Option(None, help="Listen address (MCPGW_HOST)."),
    port: int | None = typer.Option(None, help="Listen port (MCPGW_PORT); 0 picks a free one."),
) -> None:
    """Start the HTTP API on MCPGW_HOST:MCPGW_PORT (default 127.0.0.1:8080).

    Example: MCPGW_DATA_DIR=./data mcp-gateway serve --port 8080
    """
    try:
        settings = load_settings()
        if host is not None or port is not None:
            http = settings.http.model_copy(
                update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
            )
            settings = settings.model_copy(update={"http": http})
        settings.check_startup()
        _configure_logging(settings.http.log_level, settings.http.log_format, settings.replica_id)
        asyncio.run(_serve(settings))
    except GatewayError as exc:
        print(f"mcp-gateway: {exc.message}", file=sys.stderr)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
