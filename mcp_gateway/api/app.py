"""``create_app(runtime)``: the Starlette application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api import health
from mcp_gateway.api.console.pages import console_routes
from mcp_gateway.api.console.sessions import ConsoleSessions
from mcp_gateway.api.downstream.endpoint import McpEndpoint
from mcp_gateway.api.endpoint import Endpoint, routes
from mcp_gateway.api.errors import EXCEPTION_HANDLERS
from mcp_gateway.api.metrics import ApiMetrics
from mcp_gateway.api.middleware import GatewayMiddleware
from mcp_gateway.api.openapi import build_openapi
from mcp_gateway.api.routes import (
    apikeys,
    audit,
    external_oauth,
    oauth,
    packages,
    runs,
    secrets,
    servers,
    tools,
    toolsets,
    user_servers,
)
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.api.tracing import TracingMiddleware
from mcp_gateway.observability import otel


def api_endpoints() -> list[Endpoint]:
    """Every documented endpoint."""
    return [
        Endpoint("GET", "/healthz", health.healthz, "Liveness, version, store and servers",
                 "health", auth="none"),
        Endpoint("GET", "/readyz", health.readyz, "200 when the store answers, else 503",
                 "health", auth="none", errors=(503,)),
        *tools.ENDPOINTS,
        *servers.ENDPOINTS,
        *secrets.ENDPOINTS,
        *packages.ENDPOINTS,
        *apikeys.ENDPOINTS,
        *oauth.ENDPOINTS,
        *external_oauth.ENDPOINTS,
        *audit.ENDPOINTS,
        *runs.ENDPOINTS,
        *toolsets.ENDPOINTS,
        *user_servers.ENDPOINTS,
    ]  # fmt: skip


def create_app(runtime: GatewayRuntime) -> Starlette:
    """Build the ASGI app. Its lifespan enters ``runtime`` unless the caller already has
    (``serve`` opens it first so start-up errors become one clean line, not a traceback)."""
    metrics = ApiMetrics(runtime)
    document: dict[str, Any] = {}

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    endpoints = [
        *api_endpoints(),
        Endpoint("GET", "/metrics", metrics.endpoint,
                 "Prometheus metrics (Bearer MCPGW_METRICS_KEY when set)", "health",
                 auth="none", errors=(401,)),
        Endpoint("GET", "/openapi.json", openapi, "This document", "health", auth="none"),
    ]  # fmt: skip
    document.update(build_openapi(endpoints))
    mcp_endpoint = McpEndpoint(runtime)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with _opened(runtime), mcp_endpoint.run():  # MCP sessions end before the runtime
            yield

    http = runtime.settings.http
    middleware = [
        Middleware(
            GatewayMiddleware,
            max_body=http.max_body,
            trusted_proxies=http.trusted_proxies,
            body_timeout=http.body_timeout,
        )
    ]
    if http.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=http.cors_origins,
                allow_methods=["GET", "POST", "PUT", "DELETE"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id", "retry-after"],
                max_age=600,
            )
        )
    if otel.wanted(runtime.settings.telemetry.otel):
        middleware.insert(0, Middleware(TracingMiddleware))  # outermost: the whole request
    app = Starlette(
        routes=[
            *routes(endpoints),
            *(console_routes() if http.console else []),
            *mcp_endpoint.routes(),  # last: the REST paths under /mcp/ match first
        ],
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.console_sessions = (  # the web console's logins (in memory)
        ConsoleSessions(idle_ttl=http.console_session_idle, max_age=http.console_session_max_age)
        if http.console
        else None
    )
    return app


@asynccontextmanager
async def _opened(runtime: GatewayRuntime) -> AsyncIterator[None]:
    if runtime.is_open:
        yield
        return
    async with runtime:
        yield
