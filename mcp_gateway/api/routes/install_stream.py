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

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import StreamingResponse

from mcp_gateway.api.errors import error_body, request_context
from mcp_gateway.api.sse import sse_event, sse_response
from mcp_gateway.errors import GatewayError
from mcp_gateway.process.output import LineCallback

BUFFERED_LINES = 1000

Install = Callable[[LineCallback], Awaitable[BaseModel]]


def wants_events(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def install_events(request: Request, install: Install) -> StreamingResponse:
    """Run ``install`` (given the line callback) while streaming its lines and its outcome."""
    context = request_context(request)

    async def stream() -> AsyncIterator[bytes]:
        send, receive = anyio.create_memory_object_stream[bytes](BUFFERED_LINES)

        def on_line(line: str) -> None:
            try:
                send.send_nowait(sse_event("line", line))
            except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # a slow reader: the final answer's log still has the tail

        async def work() -> None:
            async with send:
                try:
                    answer = await install(on_line)
                except GatewayError as exc:
                    body = {**error_body(exc, context), "status": exc.status}
                    await send.send(sse_event("error", body))
                else:
                    await send.send(sse_event("result", answer.model_dump(mode="json")))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(work)
            async with receive:
                async for chunk in receive:
                    yield chunk

    return sse_response(stream())
