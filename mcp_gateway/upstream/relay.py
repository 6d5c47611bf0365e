"""What an upstream server sends towards the client during a tool call (or a ``prompts/get``,
a ``resources/read``): its server-to-client requests (sampling, elicitation, roots) and its
log messages, routed to the one caller whose call caused them, never to another.

A caller that can answer such requests (the MCP endpoint's ``tools/call`` handler; its
``prompts/get`` and ``resources/read`` handlers for a 2025-11-25 client) sets
:data:`CALL_RELAY` in its task; the pool wraps it with the session's masker
(:func:`masked_relay`) and :meth:`LiveSession.call_tool` (:meth:`LiveSession.request`) makes
it the *call's* relay for the time the upstream request is in flight. The upstream session's
callbacks (:func:`client_callbacks`) then find it:

- **Streamable HTTP**: exactly. The SDK transport reads the response stream of each POST in
  the sending task's ``contextvars`` context, so a request or log message the upstream sends
  on that stream (as the spec asks: "in association with the originating request") sees the
  call's :data:`ACTIVE` relay. One sent on the standalone GET stream belongs to no call.
- **stdio and legacy SSE**: the wire carries no link between a server request and the call
  that caused it, so a request is routed only when exactly one call is in flight on that
  upstream session (its caller's relay, if it has one). With two or more calls in flight
  (possibly of different users on a shared session) the request is refused: guessing could
  hand one user's data to another's client.

A request with no caller to route to (none in flight, a REST call, a client that lacks the
capability) is answered with a JSON-RPC error naming why; a log message is dropped. A
2026-07-28 upstream's input-required result for a call with no relay fails the call at once,
naming what the upstream asked for (:func:`input_rounds`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import mcp_types as types
from mcp.client import InputRequiredRoundsExceededError
from mcp.client.session import (
    ClientRequestContext,
    ClientSession,
    ElicitationFnT,
    ListRootsFnT,
    LoggingFnT,
    SamplingFnT,
)
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from mcp_gateway.domain.redaction import Masker
from mcp_gateway.errors import UpstreamError
from mcp_gateway.upstream.sdk import run_input_required_driver

logger = logging.getLogger(__name__)

InputAnswer = types.InputResponse | types.ErrorData


class ClientRelay(Protocol):
    """The downstream client of one tool call, as the upstream session sees it."""

    async def ask(self, request: types.InputRequest) -> InputAnswer:
        """Forward one server-to-client request; its answer, or an ErrorData to send back."""
        ...

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """Forward one log message of the call (best effort)."""
        ...


#: Set by a caller that can answer upstream requests, around its tool call (like CALL_PROGRESS).
CALL_RELAY: ContextVar[ClientRelay | None] = ContextVar("mcpgw_call_relay", default=None)

#: The relay of the upstream request being sent, as the transport's reader sees it (HTTP).
ACTIVE: ContextVar[ClientRelay | None] = ContextVar("mcpgw_active_relay", default=None)

_REQUEST = TypeAdapter[types.InputRequest](types.InputRequest)

NO_CALLER = "no MCP client is waiting for a call to this server"
AMBIGUOUS = "more than one call is in flight on this server, the request cannot be routed"


@dataclass(frozen=True, slots=True)
class MaskedRelay:
    """A relay whose outgoing requests and log messages are masked by the session's masker
    (an upstream may print an injected value into a prompt, an elicitation or a log line)."""

    inner: ClientRelay
    masker: Callable[[], Masker]

    async def ask(self, request: types.InputRequest) -> InputAnswer:
        dumped = request.model_dump(by_alias=True, mode="json", exclude_none=True)
        masked = _REQUEST.validate_python(self.masker().mask_json(dumped), by_name=False)
        return await self.inner.ask(masked)

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        masker = self.masker()
        masked = params.model_copy(
            update={
                "data": masker.mask_json(params.data),
                "logger": masker.mask(params.logger) if params.logger else params.logger,
            }
        )
        await self.inner.log(masked)


def masked_relay(masker: Callable[[], Masker]) -> ClientRelay | None:
    """This task's relay wrapped with ``masker``, or None when the caller cannot answer."""
    relay = CALL_RELAY.get()
    return None if relay is None else MaskedRelay(relay, masker)


@dataclass(eq=False, slots=True)
class InFlight:
    """The calls in flight on one upstream session, each with its relay (or None)."""

    by_context: bool  # HTTP: the transport carries the sender's context (module docstring)
    calls: list[ClientRelay | None] = field(default_factory=list)

    @contextmanager
    def calling(self, relay: ClientRelay | None) -> Iterator[None]:
        """Around one upstream ``tools/call``: ``relay`` is that call's (ACTIVE in its task)."""
        self.calls.append(relay)
        token = ACTIVE.set(relay)
        try:
            yield
        finally:
            ACTIVE.reset(token)
            self.calls.remove(relay)

    def route(self) -> ClientRelay | str:
        """The relay of the call that caused the message being handled, or why there is none."""
        if self.by_context:
            return ACTIVE.get() or NO_CALLER
        if len(self.calls) > 1:
            return AMBIGUOUS
        return (self.calls[0] if self.calls else None) or NO_CALLER


@dataclass(frozen=True, slots=True)
class Callbacks:
    """The ClientSession callbacks of one upstream session."""

    sampling: SamplingFnT
    elicitation: ElicitationFnT
    list_roots: ListRootsFnT
    logging: LoggingFnT

    def kwargs(self) -> dict[str, Any]:
        return {
            "sampling_callback": self.sampling,
            "elicitation_callback": self.elicitation,
            "list_roots_callback": self.list_roots,
            "logging_callback": self.logging,
        }


def client_callbacks(in_flight: InFlight) -> Callbacks:
    """Callbacks that forward to the routed caller (the gateway then declares sampling,
    elicitation and roots to every upstream: it can forward them)."""

    async def forward(request: types.InputRequest) -> InputAnswer:
        relay = in_flight.route()
        if isinstance(relay, str):
            logger.info("refused an upstream %s: %s", request.method, relay)
            return types.ErrorData(code=types.INVALID_REQUEST, message=relay)
        return await relay.ask(request)

    async def sampling(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        answer = await forward(types.CreateMessageRequest(params=params))
        sampled = types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData
        return answer if isinstance(answer, sampled) else _mismatch("sampling/createMessage")

    async def elicitation(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        answer = await forward(types.ElicitRequest(params=params))
        if isinstance(answer, types.ElicitResult | types.ErrorData):
            return answer
        return _mismatch("elicitation/create")

    async def list_roots(context: ClientRequestContext) -> types.ListRootsResult | types.ErrorData:
        answer = await forward(types.ListRootsRequest())
        if isinstance(answer, types.ListRootsResult | types.ErrorData):
            return answer
        return _mismatch("roots/list")

    async def log(params: types.LoggingMessageNotificationParams) -> None:
        relay = in_flight.route()
        if not isinstance(relay, str):
            await relay.log(params)

    return Callbacks(sampling, elicitation, list_roots, log)


CALL_RESULT = TypeAdapter[types.CallToolResult | types.InputRequiredResult](
    types.CallToolResult | types.InputRequiredResult
)
"""What a 2026-07-28 upstream may answer to ``tools/call``."""

T = TypeVar("T")

Retry = Callable[
    [types.InputResponses | None, str | None], Awaitable[T | types.InputRequiredResult]
]


def retry_of(
    request: types.ClientRequest, send: Callable[[types.ClientRequest], Awaitable[T]]
) -> Callable[[types.InputResponses | None, str | None], Awaitable[T]]:
    """The retry of ``request`` (``prompts/get``, ``resources/read``) that
    :func:`input_rounds` makes: the same params with the answers and the upstream's state."""
    params = getattr(request, "params", None)
    assert params is not None, request.method  # only requests with params are input-required

    async def retry(answers: types.InputResponses | None, state: str | None) -> T:
        update = {"input_responses": answers, "request_state": state}
        again = request.model_copy(update={"params": params.model_copy(update=update)})
        return await send(again)

    return retry


async def input_rounds(
    session: ClientSession, first: types.InputRequiredResult, retry: Retry[T]
) -> T:
    """Resolve a 2026-07-28 upstream's input-required result: each embedded request goes
    through this session's callbacks (:func:`client_callbacks`, in the calling task: routed to
    this call's relay), the request is retried with the answers, up to the SDK's round limit.
    Raises MCPError when the client refused a request or the rounds never end, UpstreamError
    at once when the request has no client to ask (a REST call: nothing to route to)."""
    no_client = ACTIVE.get() is None  # the relay of this call (InFlight.calling)

    async def dispatch(key: str, request: types.InputRequest) -> InputAnswer:
        context = ClientRequestContext(session=session, request_id=key)
        return await session.dispatch_input_request(context, request)

    async def checked(
        answers: types.InputResponses | None, state: str | None
    ) -> T | types.InputRequiredResult:
        result = await retry(answers, state)
        if no_client and isinstance(result, types.InputRequiredResult):
            _refuse_without_client(result)
        return result

    if no_client:
        _refuse_without_client(first)
    try:
        return await run_input_required_driver(first, dispatch=dispatch, retry=checked)
    except InputRequiredRoundsExceededError as exc:  # an upstream that never stops asking
        message = f"the upstream asked for input more than {exc.max_rounds} times"
        raise MCPError(code=types.INTERNAL_ERROR, message=message) from exc


def _refuse_without_client(result: types.InputRequiredResult) -> None:
    """Raise UpstreamError naming what ``result`` asks for, when it asks anything (a round
    with only a ``requestState`` needs no client: it is retried as it is)."""
    asked = sorted({request.method for request in (result.input_requests or {}).values()})
    if asked:
        raise UpstreamError(
            f"the server asked for {', '.join(asked)}, which only an MCP client can answer: "
            "make this request through the gateway's MCP endpoint (/mcp)"
        )


def _mismatch(method: str) -> types.ErrorData:
    return types.ErrorData(
        code=types.INTERNAL_ERROR, message=f"the client answered {method} with another result"
    )
