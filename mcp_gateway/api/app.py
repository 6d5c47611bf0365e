"""``create_app(runtime)``: the Starlette application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from mcp_gateway.api import health
from mcp_gateway.api.errors import EXCEPTION_HANDLERS
from mcp_gateway.runtime import Runtime


def create_app(runtime: Runtime) -> Starlette:
    """Build the ASGI app. Its lifespan enters ``runtime`` unless the caller already has
    (``serve`` opens it first so start-up errors become one clean line, not a traceback)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if runtime.is_open:
            yield
            return
        async with runtime:
            yield

    app = Starlette(
        routes=[*health.ROUTES],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
