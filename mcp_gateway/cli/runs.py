"""``mcp-gateway runs``: background tool calls (``tools call --async``): list, show, watch, cancel.

``watch`` follows ``GET /runs/{id}/events`` and, if the connection breaks, reconnects with the
last event id (the stream resumes where it was). Everything printed from the gateway is cleaned
for the terminal like every other command's output.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any
from urllib.parse import quote

import typer

from mcp_gateway.cli.client import DEFAULT_URL, Unreachable, gateway
from mcp_gateway.cli.options import ApiKeyOption, JsonOption, UrlOption
from mcp_gateway.cli.output import print_fields, print_json, print_table, say, write_text
from mcp_gateway.cli.tools import print_content

runs_app = typer.Typer(help="Follow and cancel background tool calls (runs).", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(help="Run id (runId of tools call --async).")]
RECONNECTS = 5


def run_path(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def _progress(run: dict[str, Any]) -> str:
    progress = run.get("progress")
    if not isinstance(progress, dict):
        return ""
    done = progress.get("progress")
    total = progress.get("total")
    text = f"{done}/{total}" if total is not None else f"{done}"
    message = progress.get("message")
    return f"{text} {message}" if message else text


@runs_app.command("list")
def list_runs(
    status: Annotated[
        str | None,
        typer.Option(help="pending, running, success, error, cancelled or interrupted."),
    ] = None,
    server: Annotated[str | None, typer.Option("--server", "-s", help="Only this server.")] = None,
    limit: Annotated[int, typer.Option(help="How many (newest first).", min=1)] = 50,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List the runs this key may see, newest first.

    Example: mcp-gateway runs list --status running
    """
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    with gateway(url, api_key) as gw:
        while len(items) < limit:
            page = gw.get(
                "/runs",
                status=status,
                server=server,
                cursor=cursor,
                limit=min(200, limit - len(items)),
            )
            items.extend(i for i in page.get("items") or [] if isinstance(i, dict))
            cursor = page.get("nextCursor")
            if not cursor:
                break
    if as_json:
        print_json(items)
        return
    print_table(
        ["ID", "STATUS", "SERVER", "TOOL", "USERNAME", "CREATED", "MS", "PROGRESS"],
        (
            (
                i.get("id"),
                i.get("status"),
                i.get("serverName"),
                i.get("methodName"),
                i.get("username"),
                i.get("createdAt"),
                i.get("durationMs"),
                _progress(i),
            )
            for i in items
        ),
        title="Runs",
    )


def _fields(run: dict[str, Any]) -> list[tuple[str, Any]]:
    error = run.get("error") if isinstance(run.get("error"), dict) else None
    return [
        ("id", run.get("id")),
        ("status", run.get("status")),
        ("server", run.get("serverName")),
        ("tool", run.get("methodName")),
        ("username", run.get("username")),
        ("created", run.get("createdAt")),
        ("started", run.get("startedAt")),
        ("finished", run.get("finishedAt")),
        ("duration (ms)", run.get("durationMs")),
        ("progress", _progress(run)),
        ("error", f"{error.get('error')} ({error.get('code')})" if error else None),
    ]


def _finish(run: dict[str, Any]) -> None:
    """Print a finished run's result; exit 1 unless it succeeded without isError."""
    result = run.get("result")
    if isinstance(result, dict):
        print_content(result)
    status = run.get("status")
    if status == "success" and not (isinstance(result, dict) and result.get("isError")):
        return
    error = run.get("error") if isinstance(run.get("error"), dict) else {}
    reason = f": {error.get('error')} (code: {error.get('code')})" if error else ""
    write_text(f"mcp-gateway: run {run.get('id')} ended {status}{reason}", err=True)
    raise typer.Exit(1)


@runs_app.command("show")
def show(
    run_id: RunId,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show a run: status, times, last progress, and its result once finished.

    Example: mcp-gateway runs show run_4bC0sQ1u9n7kV2xYzA8pTw --json
    """
    with gateway(url, api_key) as gw:
        run = gw.get(run_path(run_id)).get("run") or {}
    if as_json:
        print_json(run)
        return
    print_fields(_fields(run))
    if run.get("status") not in ("pending", "running"):
        _finish(run)


@runs_app.command("watch")
def watch(
    run_id: RunId,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Follow a run until it ends: progress lines on stderr, then its result on stdout.

    Exit code 0 when it succeeded, 1 otherwise (error, cancelled, interrupted, isError).
    With --json every event is printed as one JSON line.
    Example: mcp-gateway runs watch "$(mcp-gateway tools call fx slow_report --async)"
    """
    last: str | None = None
    final: dict[str, Any] | None = None
    with gateway(url, api_key) as gw:
        for attempt in range(RECONNECTS + 1):
            try:
                for event in gw.events(f"{run_path(run_id)}/events", last):
                    last = event.get("id", last)
                    run = json.loads(event.get("data") or "{}").get("run") or {}
                    if as_json:
                        print(json.dumps({"event": event.get("event"), "run": run}))
                    elif event.get("event") != "result":
                        line = f"{run.get('status')} {_progress(run)}".strip()
                        write_text(line, err=True)
                    if event.get("event") == "result":
                        final = run
                break
            except Unreachable:
                if attempt == RECONNECTS:
                    raise
                time.sleep(1)  # then resume after the last event seen
    if final is None:
        print(f"mcp-gateway: the stream of run {run_id} ended early", file=sys.stderr)
        raise typer.Exit(1)
    if as_json:
        return
    _finish(final)


@runs_app.command("cancel")
def cancel(
    run_id: RunId,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Cancel a run (its upstream call is cancelled too); a finished run is left as it is.

    Example: mcp-gateway runs cancel run_4bC0sQ1u9n7kV2xYzA8pTw
    """
    with gateway(url, api_key) as gw:
        run = gw.delete(run_path(run_id)).get("run") or {}
    if as_json:
        print_json(run)
        return
    say(f"run {run.get('id')} is {run.get('status')}")
