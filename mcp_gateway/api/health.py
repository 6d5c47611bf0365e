"""Liveness, readiness and version routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_gateway.api.runtime_port import GatewayRuntime


def _runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


async def healthz(request: Request) -> JSONResponse:
    """Always 200 while the process serves: status, version, uptime, store, servers."""
    return JSONResponse(await _runtime(request).health())


async def readyz(request: Request) -> JSONResponse:
    """200 when the store answers, else 503 ``store_unavailable``."""
    body = await _runtime(request).health()
    ready = body["status"] == "ok"
    return JSONResponse(
        {"success": ready, "ready": ready, "store": body["store"]}
        | ({} if ready else {"code": "store_unavailable", "error": "store unavailable"}),
        status_code=200 if ready else 503,
    )


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
