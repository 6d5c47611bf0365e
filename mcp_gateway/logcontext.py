"""What a log line may say about the work in progress: request id, server, tool, outcome.

Context variables, set where each becomes known (the HTTP middleware: the request id; the
tool-call service: server, tool, then outcome) and read by the JSON log formatter
(``cli/logformat.py``). A task started inside a request copies them, so its lines carry them
too; work not started by a request (supervisors, retention) has none. Usable from every layer:
it holds strings only and does no I/O.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("mcpgw_request_id", default=None)
SERVER: ContextVar[str | None] = ContextVar("mcpgw_server", default=None)
TOOL: ContextVar[str | None] = ContextVar("mcpgw_tool", default=None)
OUTCOME: ContextVar[str | None] = ContextVar("mcpgw_outcome", default=None)

FIELDS: tuple[tuple[str, ContextVar[str | None]], ...] = (
    ("requestId", REQUEST_ID),
    ("server", SERVER),
    ("tool", TOOL),
    ("outcome", OUTCOME),
)


def current() -> dict[str, str]:
    """The fields known here, by their JSON names."""
    out: dict[str, str] = {}
    for name, var in FIELDS:
        value = var.get()
        if value is not None:
            out[name] = value
    return out
