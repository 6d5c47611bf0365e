"""What each endpoint advertises in ``initialize`` and ``server/discover``.

The one SDK server behind every endpoint registers every handler, so the SDK advertises tools,
resources, prompts and completions everywhere. ``/mcp/{server}`` must say what that server
offers: this middleware drops from the advertised capabilities the ones the caller's session
of that server did not advertise (``resources``, ``prompts``, ``completions``). ``/mcp`` drops
the ones no enabled server offers, when that is known without starting a session (every
enabled server shared and connected); otherwise it keeps them (a listing with nothing in it is
empty). When the upstream cannot be reached the gateway's own capabilities stand: a call then
reports why. ``/mcp/toolsets/{name}`` serves only tools: it advertises none of the three.
``resources.subscribe`` is always false: subscriptions are forwarded to the
upstream, but its ``notifications/resources/updated`` are not relayed yet.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

from mcp_gateway.api.downstream.caller import Caller, caller_of
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.errors import GatewayError

log = logging.getLogger(__name__)

_FILTERED = ("resources", "prompts", "completions")
_ADVERTISING = frozenset({"initialize", "server/discover"})


class EndpointCapabilities(ServerMiddleware[Any]):
    def __init__(self, runtime: GatewayRuntime) -> None:
        self._runtime = runtime

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method not in _ADVERTISING or not isinstance(result, dict):
            return result
        caller = caller_of(getattr(ctx.request, "scope", None))
        advertised = result.get("capabilities")
        if not isinstance(advertised, dict):
            return result
        offered = await self._offered(caller)
        capabilities = {
            key: value
            for key, value in advertised.items()
            if offered is None or key not in _FILTERED or key in offered
        }
        resources = capabilities.get("resources")
        if isinstance(resources, dict) and resources.get("subscribe"):
            capabilities["resources"] = {**resources, "subscribe": False}
        return {**result, "capabilities": capabilities}

    async def _offered(self, caller: Caller) -> set[str] | None:
        if caller.toolset is not None:
            return set()  # a toolset endpoint serves only tools
        content = self._runtime.content
        try:
            if caller.server is None:
                return await content.offered_everywhere(caller.username)
            upstream = await content.capabilities(caller.username, caller.server)
        except GatewayError as exc:
            log.info("capabilities at %s unknown: %s", caller.endpoint, exc.code)
            return None
        return set(upstream.model_dump(exclude_none=True)) if upstream else set()
