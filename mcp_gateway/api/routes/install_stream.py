"""``POST /packages/install`` with ``Accept: text/event-stream``: the installer's output as it
comes, then the answer the plain request would have given.

Events: ``line`` (``data``: one output line as a JSON string, masked by the installer like the
log), then exactly one ``result`` (``data``: the JSON answer) or ``error`` (``data``: the JSON
error body, as the error handler would have written it). The body is read and checked before the
stream starts, so a bad request is still a plain 4xx. A client that goes away cancels the install
(installs are all or nothing: nothing is kept). Lines beyond a bounded buffer a slow reader has not
taken are dropped from the stream (the log in the final answer keeps its bounded tail).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import StreamingResponse

from mcp_gateway.api.errors import request_context
from mcp_gateway.errors import GatewayError
from mcp_gateway.process.output import LineCallback

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
BUFFERED_LINES = 1000

Install = Callable[[LineCallback], Awaitable[BaseModel]]


def wants_events(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def install_events(request: Request, install: Install) -> StreamingResponse:
    """Run ``install`` (given the line callback) while streaming its lines and its outcome."""
    context = request_context(request)

    async def stream() -> AsyncIterator[bytes]:
        send, receive = anyio.create_memory_object_stream[bytes](BUFFERED_LINES)

        def on_line(line: str) -> None:
            try:
                send.send_nowait(_event("line", line))
            except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # a slow reader: the final answer's log still has the tail

        async def work() -> None:
            async with send:
                try:
                    answer = await install(on_line)
                except GatewayError as exc:
                    body = {"success": False, "error": exc.message, "code": exc.code,
                            "status": exc.status, **context, **exc.extra()}  # fmt: skip
                    await send.send(_event("error", body))
                else:
                    await send.send(_event("result", answer.model_dump(mode="json")))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(work)
            async with receive:
                async for chunk in receive:
                    yield chunk

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)
