"""Server-sent events: the one encoding of an event and the one streaming response (run events,
streamed installs)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

# No proxy buffering or caching: each event must reach the client as it is written.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(kind: str, data: Any, event_id: int | None = None) -> bytes:
    """One event; ``data`` as compact JSON (one line, so no ``data:`` continuation)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def sse_response(stream: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)
