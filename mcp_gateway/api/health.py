"""Liveness and readiness routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api.runtime_port import GatewayRuntime


def _runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


async def healthz(request: Request) -> JSONResponse:
    """Always 200 while the process serves: status, version, uptime, store, servers."""
    return JSONResponse(await _runtime(request).health())


async def readyz(request: Request) -> JSONResponse:
    """200 when the store answers; else StoreUnavailable, rendered (503) by the error handler."""
    store = _runtime(request).store
    await store.ping()  # raises StoreUnavailable
    body = {"success": True, "ready": True, "store": {"backend": store.backend, "status": "ok"}}
    return JSONResponse(body)
