"""Runs: tool calls executed in the background and polled (``POST /mcp/tool/call`` with
``async``). Frozen records and the pure rules about them; no I/O.

A run moves ``pending -> running -> success | error | cancelled | interrupted``; the last four
are terminal and final (stores refuse to change a terminal run, which is how a cancel and a
completion racing on two replicas settle: whoever writes first wins). ``seq`` grows by one on
every change, so a reader (the SSE stream) can tell whether it has seen a state.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from mcp_gateway.errors import InvalidRequest


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def active(self) -> bool:
        return self in (RunStatus.PENDING, RunStatus.RUNNING)


ACTIVE_STATUSES = (RunStatus.PENDING.value, RunStatus.RUNNING.value)


def new_run_id() -> str:
    """``run_`` and 128 random bits (URL-safe base64): unguessable, so ids may appear in URLs."""
    return "run_" + secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class RunProgress:
    """The last progress notification the upstream sent (message already masked)."""

    progress: float
    total: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class RunError:
    """Why a run did not succeed: the error code and (masked) message a sync call would get."""

    code: str
    message: str
    status: int = 500


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run. ``result`` is the masked CallToolResult as JSON text (what a sync call puts in
    ``data``), kept only when it fits the size cap. ``key_id``/``username`` scope who may see
    it; ``replica`` is the gateway process that executes it."""

    id: str
    key_id: str
    role: str
    username: str
    server: str
    tool: str
    replica: str
    created_at: float
    status: RunStatus = RunStatus.PENDING
    request_id: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    progress: RunProgress | None = None
    result: str | None = field(default=None, repr=False)
    error: RunError | None = None
    seq: int = 0

    @property
    def active(self) -> bool:
        return self.status.active


@dataclass(frozen=True, slots=True)
class RunScope:
    """Which runs a caller may see (like the audit): ``None`` fields do not restrict."""

    key_id: str | None = None
    username: str | None = None

    def allows(self, run: RunRecord) -> bool:
        return (self.key_id is None or run.key_id == self.key_id) and (
            self.username is None or run.username == self.username
        )


@dataclass(frozen=True, slots=True)
class RunQuery:
    """A page of runs, newest first: ``before`` is the (created_at, id) of the last run seen."""

    scope: RunScope = RunScope()
    status: RunStatus | None = None
    server: str | None = None
    before: tuple[float, str] | None = None
    limit: int = 50


def encode_cursor(run: RunRecord) -> str:
    raw = json.dumps([run.created_at, run.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Raises InvalidRequest for a cursor this gateway did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, run_id = json.loads(raw)
        if isinstance(created_at, int | float) and isinstance(run_id, str):
            return float(created_at), run_id
    except (ValueError, binascii.Error, TypeError):
        pass
    raise InvalidRequest("cursor is not one this gateway handed out")
