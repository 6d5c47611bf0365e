"""``/runs``: background tool calls (started by ``POST /mcp/tool/call`` with ``async``).

Who sees a run is decided in :func:`mcp_gateway.services.runs.scope_of` (as for the audit);
everyone else gets 404, never 403, so a run id reveals nothing about runs of others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_gateway.api.auth import principal_of, runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_query
from mcp_gateway.api.schemas.runs import RunList, RunResponse, RunsQuery, run_view
from mcp_gateway.api.sse import sse_event, sse_response
from mcp_gateway.domain.runs import RunRecord, decode_cursor, encode_cursor
from mcp_gateway.errors import InvalidRequest


async def list_runs(request: Request) -> JSONResponse:
    query = read_query(request, RunsQuery)
    before = decode_cursor(query.cursor) if query.cursor else None
    runs = await runtime_of(request).runs.list(
        principal_of(request),
        status=query.status,
        server=query.server,
        before=before,
        limit=query.limit + 1,  # one more tells whether there is a next page
    )
    page = runs[: query.limit]
    cursor = encode_cursor(page[-1]) if len(runs) > query.limit else None
    items = [run_view(run, with_result=False) for run in page]
    return JSONResponse({"success": True, "items": items, "nextCursor": cursor})


async def get_run(request: Request) -> JSONResponse:
    run = await runtime_of(request).runs.get(principal_of(request), request.path_params["id"])
    return JSONResponse({"success": True, "run": run_view(run)})


async def cancel_run(request: Request) -> JSONResponse:
    run = await runtime_of(request).runs.cancel(principal_of(request), request.path_params["id"])
    return JSONResponse({"success": True, "run": run_view(run)})


def _last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id", "").strip()
    if not raw:
        return -1
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidRequest("Last-Event-ID must be an event id this stream sent")
    return int(raw)


def _event(run: RunRecord, previous: RunRecord | None) -> bytes:
    if not run.active:
        kind = "result"
    elif previous is not None and run.progress != previous.progress:
        kind = "progress"
    else:
        kind = "status"
    return sse_event(kind, {"run": run_view(run, with_result=not run.active)}, run.seq)


async def run_events(request: Request) -> Response:
    runs = runtime_of(request).runs
    after = _last_event_id(request)
    run = await runs.get(principal_of(request), request.path_params["id"])  # 404 up front

    async def stream() -> AsyncIterator[bytes]:
        previous: RunRecord | None = None
        async for state in runs.follow(run, after):
            if state is None:
                yield b": keep-alive\n\n"
                continue
            yield _event(state, previous)
            previous = state

    return sse_response(stream())


ENDPOINTS = [
    Endpoint(
        "GET",
        "/runs",
        list_runs,
        "List the caller's runs, newest first (filters status, server; cursor pagination)",
        "runs",
        query=RunsQuery,
        response=RunList,
        errors=(400, 401),
    ),
    Endpoint(
        "GET",
        "/runs/{id}",
        get_run,
        "A run: status, timestamps, last progress, and the result once done",
        "runs",
        response=RunResponse,
        errors=(401, 404),
    ),
    Endpoint(
        "DELETE",
        "/runs/{id}",
        cancel_run,
        "Cancel a run (and its upstream call); a finished run is returned unchanged",
        "runs",
        response=RunResponse,
        errors=(401, 404),
    ),
    Endpoint(
        "GET",
        "/runs/{id}/events",
        run_events,
        "Server-sent events: status, progress and the final result (ids resume a stream)",
        "runs",
        errors=(400, 401, 404),
    ),
]
