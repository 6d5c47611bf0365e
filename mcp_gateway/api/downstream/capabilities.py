"""What each endpoint advertises in ``initialize`` and ``server/discover``.

The one SDK server behind every endpoint registers every handler, so the SDK advertises tools,
resources, prompts and completions everywhere. ``/mcp/{server}`` must say what that server
offers: this middleware drops from the advertised capabilities the ones the caller's session
of that server did not advertise (``resources``, ``prompts``, ``completions``). ``/mcp`` drops
the ones no enabled server offers, when that is known without starting a session (every
enabled server shared and connected); otherwise it keeps them (a listing with nothing in it is
empty). When the upstream cannot be reached the gateway's own capabilities stand: a call then
reports why. ``/mcp/toolsets/{name}`` serves only tools: it advertises none of the three.

``listChanged`` is declared for tools, resources and prompts wherever they are advertised (the
gateway itself notices servers added, removed, enabled, disabled, connected or lost, and passes
on the upstream's own list changes: notify.py). ``resources.subscribe`` is kept only where an
upstream accepts subscriptions (on ``/mcp``: some enabled server, or not known yet).
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

from mcp_gateway.api.downstream.caller import Caller, caller_of
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.errors import GatewayError
from mcp_gateway.services.server_content import SUBSCRIBE, capability_names

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
        offered = await offered_at(self._runtime, caller)
        capabilities = {
            key: value
            for key, value in advertised.items()
            if offered is None or key not in _FILTERED or key in offered
        }
        resources = capabilities.get("resources")
        if isinstance(resources, dict) and resources.get("subscribe"):
            if offered is not None and SUBSCRIBE not in offered:
                capabilities["resources"] = {**resources, "subscribe": False}
        return {**result, "capabilities": capabilities}


async def offered_at(runtime: GatewayRuntime, caller: Caller) -> set[str] | None:
    """The capability names (``services.server_content.capability_names``) behind the
    caller's endpoint, or None when not known (the gateway's full set then stands)."""
    if caller.toolset is not None:
        return set()  # a toolset endpoint serves only tools
    content = runtime.content
    try:
        if caller.server is None:
            return await content.offered_everywhere(caller.username)
        upstream = await content.capabilities(caller.username, caller.server)
    except GatewayError as exc:
        log.info("capabilities at %s unknown: %s", caller.endpoint, exc.code)
        return None
    return capability_names(upstream) if upstream else set()
