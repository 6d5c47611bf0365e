"""A 2026-07-28 client's ``tools/call``, ``prompts/get`` and ``resources/read`` through a
2026-07-28 upstream: the upstream's input-required results relayed (SEP-2322).

The handler sets :data:`~mcp_gateway.upstream.eras.CALL_ERA` around the service call: the pool
then sends the request on a 2026-07-28 session of that server (upstream/eras.py) with this
client's capabilities, ``inputResponses`` and the upstream's own ``requestState``. When the
upstream answers input-required, the pool raises :class:`~mcp_gateway.errors.InputRequired`
and the handler answers the client an ``InputRequiredResult`` with the upstream's requests
(masked, keys unchanged) and ``requestState`` :data:`RELAYED` + the upstream's state, which
the SDK's ``RequestStateBoundary`` seals with the gateway's key and binds to this principal,
method, name and arguments (requeststate.py): the client never sees the upstream's state,
cannot alter it, and any replica sharing the keyring serves the retry. No state is kept by
the gateway between rounds.

A retry whose state is not a relayed one names a round of the gateway's own
(:mod:`~mcp_gateway.api.downstream.rounds`: a legacy upstream's server requests turned into
input-required results): no ``CALL_ERA`` then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp_types import LOG_LEVEL_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_gateway.errors import InputRequired
from mcp_gateway.upstream.eras import CALL_ERA, ModernCaller

#: Prefix of the (sealed) requestState of a relayed round; a rounds.py id never has a ":".
RELAYED = "u:"

Context = ServerRequestContext[Any, Any]


def is_relayed(state: str | None) -> bool:
    return state is not None and state.startswith(RELAYED)


def modern_caller(
    ctx: Context, input_responses: types.InputResponses | None, state: str | None
) -> ModernCaller | None:
    """What the pool relays for a 2026-07-28 request (``state``: its verified requestState),
    or None for a 2025-11-25 one and for a retry of one of the gateway's own rounds."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return None
    if state is not None and not is_relayed(state):
        return None
    capabilities = ctx.session.client_capabilities or types.ClientCapabilities()
    level = (ctx.meta or {}).get(LOG_LEVEL_META_KEY)
    return ModernCaller(
        capabilities.model_dump(by_alias=True, mode="json", exclude_none=True),
        input_responses,
        None if state is None else state[len(RELAYED) :],
        level if isinstance(level, str) else None,
    )


@contextmanager
def relaying(caller: ModernCaller | None) -> Iterator[None]:
    """``CALL_ERA`` set to ``caller`` for the service call made inside."""
    if caller is None:
        yield
        return
    token = CALL_ERA.set(caller)
    try:
        yield
    finally:
        CALL_ERA.reset(token)


def input_required(exc: InputRequired) -> types.InputRequiredResult:
    """The client's answer for an upstream's input-required round (the boundary seals the
    state on the way out)."""
    state = None if exc.state is None else RELAYED + exc.state
    return types.InputRequiredResult.model_validate(
        {"inputRequests": exc.requests, "requestState": state}, by_name=False
    )
