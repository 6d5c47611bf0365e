"""Runs: ``POST /mcp/tool/call`` with ``async`` and ``/runs`` (views of domain.runs records).

Times are ISO-8601 UTC text with milliseconds (``createdAt``...), durations milliseconds, as
everywhere in the API. ``result`` is exactly what a synchronous call answers in ``data`` (the
masked CallToolResult); list items leave it out (``GET /runs/{id}`` has it).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field

from mcp_gateway.api.schemas.common import Ok, QueryModel, ServerName
from mcp_gateway.api.schemas.server_meta import _iso  # the API's one time format
from mcp_gateway.domain.runs import RunRecord, RunStatus


class RunAccepted(Ok):
    run_id: str = Field(description="poll GET /runs/{runId}; follow GET /runs/{runId}/events")
    status: Literal["pending"] = "pending"


class RunsQuery(QueryModel):
    status: RunStatus | None = None
    server: ServerName | None = None
    cursor: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="nextCursor of the previous page"
    )
    limit: int = Field(50, ge=1, le=200)


class RunResponse(Ok):
    run: dict[str, Any] = Field(
        description="id, status (pending|running|success|error|cancelled|interrupted), "
        "serverName, methodName, username, keyId, requestId, createdAt, startedAt, finishedAt, "
        "durationMs, progress {progress, total, message}, result (CallToolResult), "
        "error {code, error, status}"
    )


class RunList(Ok):
    items: list[dict[str, Any]] = Field(description="runs, newest first (without result)")
    next_cursor: str | None = Field(None, description="pass as cursor for the next page")


def run_view(run: RunRecord, *, with_result: bool = True) -> dict[str, Any]:
    """The wire form of a run (camelCase, mcp-api's serverName/methodName)."""
    duration = None
    if run.started_at is not None and run.finished_at is not None:
        duration = round((run.finished_at - run.started_at) * 1000, 3)
    progress = run.progress
    error = run.error
    view: dict[str, Any] = {
        "id": run.id,
        "status": run.status.value,
        "serverName": run.server,
        "methodName": run.tool,
        "username": run.username,
        "keyId": run.key_id,
        "requestId": run.request_id,
        "createdAt": _iso(run.created_at),
        "startedAt": _iso(run.started_at),
        "finishedAt": _iso(run.finished_at),
        "durationMs": duration,
        "progress": None
        if progress is None
        else {"progress": progress.progress, "total": progress.total, "message": progress.message},
        "error": None
        if error is None
        else {"code": error.code, "error": error.message, "status": error.status},
    }
    if with_result:
        view["result"] = json.loads(run.result) if run.result is not None else None
    return view
