"""A server span per HTTP request (only installed while OpenTelemetry traces are on).

Outermost middleware: the span covers auth, body limits and the route, continues an incoming
W3C ``traceparent`` and is named after the matched route template (``POST /mcp/tool/call``),
never the raw path (server names in paths would make span names unbounded).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_gateway.observability import tracing


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer: Any = tracing.current()
        if scope["type"] != "http" or tracer is None:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with tracer.http_span(scope["method"], scope["path"], headers) as result:

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    result["status"] = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                route = scope.get("route")
                result["route"] = getattr(route, "path", None)
