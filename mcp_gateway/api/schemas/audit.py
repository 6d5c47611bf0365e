"""``GET /audit``: filters, one record's wire shape, a page.

Times on the wire: ``time`` is ISO 8601 UTC with milliseconds; ``since`` / ``until`` take ISO
8601 (``2026-12-06T18:00:00Z``; no zone means UTC) or epoch milliseconds. ``duration`` is in
milliseconds, like every duration of the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from mcp_gateway.api.schemas.common import Ok, QueryModel, ResponseModel
from mcp_gateway.domain.audit import AuditFilter, AuditRow
from mcp_gateway.services.audit_reader import MAX_LIMIT


def _epoch_seconds(value: Any) -> Any:
    """ISO 8601 or epoch milliseconds -> epoch seconds (anything else: left for the 400)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.isdigit():
                return int(text) / 1000  # OverflowError past float range
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
        except (ValueError, OverflowError):
            raise ValueError("expected ISO 8601 (2026-12-06T18:00:00Z) or epoch ms") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value / 1000
    return value


Moment = Annotated[float, BeforeValidator(_epoch_seconds)]
Short = Annotated[str, Field(min_length=1, max_length=256)]


class AuditQueryParams(QueryModel):
    server: Short | None = None
    tool: Short | None = None
    username: Short | None = None
    outcome: Short | None = Field(None, description="ok, tool_error, or an error code")
    key: Short | None = Field(None, description="an API key id")
    since: Moment | None = Field(None, description="inclusive; ISO 8601 or epoch ms")
    until: Moment | None = Field(None, description="exclusive; ISO 8601 or epoch ms")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: Short | None = Field(None, description="nextCursor of the previous page (older)")
    after: Short | None = Field(None, description="followCursor: events newer, oldest first")
    format: Literal["json", "jsonl"] = Field("json", description="jsonl: stream every match")

    def to_filter(self) -> AuditFilter:
        return AuditFilter(
            server=self.server,
            tool=self.tool,
            username=self.username,
            outcome=self.outcome,
            actor=self.key,
            since=self.since,
            until=self.until,
        )


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditRecordOut(ResponseModel):
    """One event. Never argument values or secrets: only who, what, where and how it ended."""

    time: str
    request_id: str
    key_id: str = Field(description="the API key id ('unknown' when no valid key was shown)")
    role: str
    action: str = Field(description="tool_call, api_access (a refused request), ...")
    username: str | None = None
    server: str | None = None
    tool: str | None = None
    outcome: str
    duration: float | None = Field(None, description="milliseconds")
    replica: str | None = None
    detail: str | None = None

    @classmethod
    def of(cls, row: AuditRow) -> AuditRecordOut:
        e = row.event
        return cls(
            time=iso_time(e.ts),
            request_id=e.request_id,
            key_id=e.actor,
            role=e.role,
            action=e.action,
            username=e.username,
            server=e.server,
            tool=e.tool,
            outcome=e.outcome,
            duration=e.duration_ms,
            replica=e.replica,
            detail=e.detail,
        )


class AuditPageOut(Ok):
    items: list[AuditRecordOut]
    next_cursor: str | None = Field(description="pass as cursor for older events; null: none")
    follow_cursor: str | None = Field(description="pass as after for events newer than these")
