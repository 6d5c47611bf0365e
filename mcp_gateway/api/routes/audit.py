"""``GET /audit`` and ``GET /audit/export``: the audit trail, scoped to the caller's role
(:mod:`mcp_gateway.services.audit_reader`), as pages or streamed JSON lines."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from mcp_gateway.api.auth import principal_of, runtime_of
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.api.parsing import read_query
from mcp_gateway.api.schemas.audit import AuditPageOut, AuditQueryParams, AuditRecordOut
from mcp_gateway.domain.audit import AuditRow
from mcp_gateway.errors import GatewayError
from mcp_gateway.services.audit_reader import AuditReader

log = logging.getLogger("mcp_gateway.api")

JSONL = "application/x-ndjson"


async def list_audit(request: Request) -> Response:
    params = read_query(request, AuditQueryParams)
    if params.format == "jsonl":
        return await _export(request, params)
    reader = AuditReader(runtime_of(request).store)
    page = await reader.page(
        principal_of(request),
        params.to_filter(),
        limit=params.limit,
        cursor=params.cursor,
        after=params.after,
    )
    body = AuditPageOut(
        items=[AuditRecordOut.of(row) for row in page.rows],
        next_cursor=page.next_cursor,
        follow_cursor=page.follow_cursor,
    )
    return JSONResponse(body.model_dump(mode="json"))


async def export_audit(request: Request) -> Response:
    return await _export(request, read_query(request, AuditQueryParams))


async def _export(request: Request, params: AuditQueryParams) -> Response:
    """Every match, newest first, one JSON object per line, streamed page by page. A store
    failure half-way ends the stream with one ``{"success": false, ...}`` line (the status
    line is long gone), so a reader can tell a cut export from a complete one."""
    reader = AuditReader(runtime_of(request).store)
    rows = await reader.export(principal_of(request), params.to_filter())  # 403 before 200
    return StreamingResponse(_lines(rows), media_type=JSONL)


async def _lines(rows: AsyncIterator[AuditRow]) -> AsyncIterator[bytes]:
    try:
        async for row in rows:
            record = AuditRecordOut.of(row).model_dump(mode="json")
            yield (json.dumps(record, separators=(",", ":")) + "\n").encode()
    except GatewayError as exc:
        log.warning("audit export cut short: %s", exc.code)
        tail = {"success": False, "error": exc.message, "code": exc.code}
        yield (json.dumps(tail) + "\n").encode()


_ERRORS = (400, 401, 403, 503)

ENDPOINTS = [
    Endpoint(
        "GET",
        "/audit",
        list_audit,
        "Audit records, newest first (admin: all; service key: its own; user key: its "
        "username); format=jsonl streams every match",
        "audit",
        query=AuditQueryParams,
        response=AuditPageOut,
        errors=_ERRORS,
    ),
    Endpoint(
        "GET",
        "/audit/export",
        export_audit,
        "Every matching audit record as JSON lines (application/x-ndjson), streamed",
        "audit",
        query=AuditQueryParams,
        errors=_ERRORS,
    ),
]
