"""``MCPGW_LOG_FORMAT``: how ``serve`` writes a log record.

``text`` (default): ``<time> <replica> <LEVEL> <logger>: <message>``. ``json``: one JSON object
per line with ``time`` (ISO 8601 UTC, ms), ``level``, ``logger``, ``message``, ``replica``, and
``requestId``, ``server``, ``tool``, ``outcome`` where the line is written inside a request
(:mod:`mcp_gateway.logcontext`), plus ``exception`` (the traceback text) when there is one.

Both run after :class:`~mcp_gateway.cli.logsafe.SafeRecords` (a handler filter, applied before
the formatter): the message and exception text are already masked; the context values a caller
chose (server and tool names) are masked here the same way.
"""

from __future__ import annotations

import json
import logging
import time

from mcp_gateway import logcontext
from mcp_gateway.cli.logsafe import escape_controls
from mcp_gateway.domain.exposure import mask_urls


def text_formatter(replica: str) -> logging.Formatter:
    # The replica id is [A-Za-z0-9._-] (config/), so it cannot break the %-format.
    return logging.Formatter(f"%(asctime)s {replica} %(levelname)s %(name)s: %(message)s")


class JsonFormatter(logging.Formatter):
    def __init__(self, replica: str) -> None:
        super().__init__()
        self._replica = replica

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z"
        line: dict[str, object] = {
            "time": stamp,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "replica": self._replica,
        }
        for name, value in logcontext.current().items():
            line[name] = escape_controls(mask_urls(value))[:300]
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_urls(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = record.exc_text
        # ASCII only: C1 controls, line separators and bidi overrides (which json.dumps leaves
        # raw otherwise, e.g. in a traceback) become \uXXXX; any JSON reader restores them.
        return json.dumps(line, ensure_ascii=True, default=str)
