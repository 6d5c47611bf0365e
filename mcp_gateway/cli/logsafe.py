"""What ``serve`` does to every log record before it is written: one line per record, no URL
credentials.

- Control characters (CR, LF, ESC, every other C0 and C1 character, U+2028/9, bidirectional
  marks, overrides and isolates) in the formatted message are escaped (``\\n``, ``\\x1b``):
  text a caller or an upstream chose (a ``methodName``, an upstream error) cannot forge a log
  line or drive the terminal.
- Every URL's userinfo and query values are masked (``http://***:***@host/p?key=***``): the
  HTTP client libraries (httpx2, httpcore2, the MCP SDK) log full request URLs at INFO.
- ``Mcp-Session-Id`` values in the MCP SDK's server-side records ("Created new transport with
  session ID ...", "Terminating session: ...", a foreign credential's attempt) are cut to
  their first 8 hex digits: enough to match lines, not an id that a reader of the log could
  present.

Installed as a filter on the root logger's handlers (a handler filter sees records of every
logger that propagates to the root), and Hypercorn's error log propagates there too.
"""

from __future__ import annotations

import logging
import re

from mcp_gateway.domain.exposure import mask_urls

# C0 (tab kept) and C1 controls, line/paragraph separators, and the bidirectional marks,
# embeddings, overrides and isolates (they reorder what a terminal shows).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
# The SDK's server-side session loggers; session ids are 32 (SDK) or 48 (gateway) hex digits.
_SESSION_LOGGERS = "mcp.server.streamable_http"
_SESSION_ID = re.compile(r"\b([0-9a-f]{8})[0-9a-f]{24,}\b")


def escape_controls(text: str) -> str:
    """``text`` on one line: control characters (tab excepted) as escapes."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class SafeRecords(logging.Filter):
    """Rewrites a record's message (masked URLs, escaped control characters) and its
    exception text (masked URLs; a traceback keeps its lines) in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_mcpgw_safe", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep its parts, never crash the caller
            message = f"{record.msg!r} % {record.args!r}"
        if record.name.startswith(_SESSION_LOGGERS):
            message = _SESSION_ID.sub(r"\1...", message)
        record.msg = escape_controls(mask_urls(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_urls(record.exc_text)
        record._mcpgw_safe = True
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add :class:`SafeRecords` to every handler of ``logger`` (the root by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, SafeRecords) for f in handler.filters):
            handler.addFilter(SafeRecords())
