"""Protocol eras between a downstream caller and an upstream: which session a request takes
and what it carries.

A server the gateway connects to keeps its primary session in the era the handshake chose
(``initialize``: 2025-11-25, unless the upstream speaks only 2026-07-28). A 2026-07-28 MCP
caller (:data:`CALL_ERA` set by the endpoint) of ``tools/call``, ``prompts/get`` or
``resources/read`` takes a **2026-07-28 session** of the same server and user scope instead
(the pool's modern companion, started on first use; a server whose ``server/discover`` says
it does not speak 2026-07-28 is remembered and served on its primary session). On that
session the request carries:

- the caller's client capabilities (and its log level opt-in) in ``_meta`` instead of the
  gateway's own, so the upstream asks only for what the caller can answer
  (:func:`~mcp_gateway.upstream.sdk.stamp_caller_meta`);
- the caller's ``inputResponses`` and the upstream's own ``requestState`` of the round being
  answered (the endpoint keeps it inside its sealed state).

An ``InputRequiredResult`` the upstream answers is not resolved by the gateway: its requests
are masked by the session's masker and handed back as :class:`~mcp_gateway.errors.InputRequired`
for the endpoint to relay (its keys and the upstream's state unchanged).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from mcp_gateway.domain.redaction import Masker
from mcp_gateway.errors import InputRequired

#: The methods whose results may be input-required (SEP-2322).
RELAYED_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})


@dataclass(frozen=True, slots=True)
class ModernCaller:
    """A 2026-07-28 MCP caller of one request, as an upstream session sees it."""

    capabilities: dict[str, Any]  # the caller's declared client capabilities (wire JSON)
    input_responses: types.InputResponses | None = None
    request_state: str | None = None  # the upstream's own state of the round answered
    log_level: str | None = None  # the caller's io.modelcontextprotocol/logLevel opt-in

    @property
    def retrying(self) -> bool:
        """An answer to an upstream's input-required result: only a 2026-07-28 session of
        that server can take it."""
        return self.request_state is not None


#: Set by the MCP endpoint around the service call of a 2026-07-28 caller's request.
CALL_ERA: ContextVar[ModernCaller | None] = ContextVar("mcpgw_call_era", default=None)


def with_inputs(request: types.ClientRequest, caller: ModernCaller) -> types.ClientRequest:
    """``request`` carrying the caller's ``inputResponses`` and the upstream's state."""
    params = getattr(request, "params", None)
    if params is None or request.method not in RELAYED_METHODS:
        return request
    update = {"input_responses": caller.input_responses, "request_state": caller.request_state}
    return request.model_copy(update={"params": params.model_copy(update=update)})


_REQUESTS = TypeAdapter[dict[str, types.InputRequest]](dict[str, types.InputRequest])


def relayed(result: types.InputRequiredResult, masker: Masker) -> InputRequired:
    """The upstream's input-required result as the endpoint relays it: every request masked
    (an upstream may print an injected value into a prompt or an elicitation message), the
    keys and the upstream's ``requestState`` as they are."""
    requests = {
        key: request.model_dump(by_alias=True, mode="json", exclude_none=True)
        for key, request in (result.input_requests or {}).items()
    }
    if masker:
        requests = masker.mask_json(requests)
    _REQUESTS.validate_python(requests, by_name=False)  # still well-formed after masking
    return InputRequired(requests, result.request_state)


def refuses_modern(exc: BaseException) -> bool:
    """Whether a failed 2026-07-28 connect was the upstream's answer that it does not speak
    that era (a JSON-RPC error to ``server/discover``, or no mutual version), rather than a
    failure to reach it (a crash, a timeout, a network error: retried as usual)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return exc.code not in (types.CONNECTION_CLOSED, types.REQUEST_TIMEOUT)
    return isinstance(exc, RuntimeError)  # ClientSession.adopt: no mutual modern version
