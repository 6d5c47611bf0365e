"""``GET /healthz`` (liveness and what is wrong) and ``GET /readyz`` (can it serve).

``/healthz`` is always 200 while the process serves, so a liveness probe never restarts a
gateway for a database outage or one broken upstream; ``status`` says ``degraded`` when the
store does not answer within :data:`STORE_PING_TIMEOUT` or a server is in ``error`` (crashed
and gave up, or failing its restarts). ``/readyz`` is the probe that turns 503 (store down).

What a caller sees depends on its key (the body has no secrets either way):

- no key: the aggregate only (status, version, uptime, replica, store, sandbox, server
  counts), never server names (the sandbox stays visible: operators and docs/security.md
  rely on it, and it holds no secret);
- any valid key: plus each server's status and restarts;
- an admin key: plus each server's last error in the gateway's own words (``error_kind``, no
  upstream text: that may quote a user's data).

A wrong key is a 401, audited like on every other endpoint.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_gateway.api.auth import optional_principal, runtime_of
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain.servers import ServerStatus
from mcp_gateway.errors import GatewayError
from mcp_gateway.services.principal import Principal

STORE_PING_TIMEOUT = 1.0  # seconds: a slower store is reported down, /healthz stays fast


async def _store_status(runtime: GatewayRuntime) -> str:
    try:
        with anyio.fail_after(STORE_PING_TIMEOUT):
            await runtime.store.ping()
    except (GatewayError, TimeoutError):
        return "down"
    return "ok"


async def health_body(runtime: GatewayRuntime, principal: Principal | None) -> dict[str, Any]:
    """The ``/healthz`` body for ``principal`` (None: a caller without a key)."""
    store = await _store_status(runtime)
    states = runtime.pool.statuses()
    unhealthy = sorted(name for name, s in states.items() if s.status is ServerStatus.ERROR)
    body: dict[str, Any] = {
        "status": "ok" if store == "ok" and not unhealthy else "degraded",
        "version": runtime.version,
        "uptime": round(runtime.uptime * 1000),  # milliseconds, as every API duration
        "replica": runtime.replica_id,
        "store": {"backend": runtime.store.backend, "status": store},
        "sandbox": runtime.sandbox.status.as_dict(),
        "summary": {"servers": len(states), "unhealthy": len(unhealthy)},
    }
    if principal is None:
        return body
    servers: dict[str, dict[str, Any]] = {}
    for name, state in sorted(states.items()):
        entry: dict[str, Any] = {"status": state.status.value, "restarts": state.restarts}
        if principal.is_admin and state.error_kind:
            entry["lastError"] = state.error_kind[:300]
        servers[name] = entry
    body["servers"] = servers
    return body


async def healthz(request: Request) -> JSONResponse:
    """Always 200 while the process serves (see the module docstring for what it shows)."""
    principal = await optional_principal(request)
    return JSONResponse(await health_body(runtime_of(request), principal))


async def readyz(request: Request) -> JSONResponse:
    """200 when the store answers and the replica is not draining (SIGTERM); else
    StoreUnavailable or Draining, rendered (503) by the error handler."""
    runtime = runtime_of(request)
    runtime.drain.check()  # raises Draining
    store = runtime.store
    await store.ping()  # raises StoreUnavailable
    body = {"success": True, "ready": True, "store": {"backend": store.backend, "status": "ok"}}
    return JSONResponse(body)
