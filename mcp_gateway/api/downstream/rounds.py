"""Upstream requests of a call made by a 2026-07-28 client: input-required rounds.

A sessionless client cannot receive server requests during a call. So the gateway runs such a
call (a ``tools/call``, ``prompts/get`` or ``resources/read``) in the background
(:class:`Rounds`); when its upstream asks for sampling, elicitation or roots, the request
answers an ``InputRequiredResult`` carrying the request(s) and a ``requestState`` naming the
call; the client retries the request with its responses and that state, which the handler
hands to the waiting upstream request, and so on until the call ends and its result is the
answer.

The state is sealed and bound to the caller (``requeststate.py``); here it is only the call's
random id, and a call is found only by its owner. A round nobody answers within
:data:`~mcp_gateway.api.downstream.requeststate.STATE_TTL` answers the upstream an error; a
retry that closes its stream (the 2026-07-28 cancellation) cancels the call.
"""

from __future__ import annotations

import contextvars
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import anyio
import anyio.abc
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http import REQUEST_CANCELLED
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_gateway.api.downstream.eras import is_relayed
from mcp_gateway.api.downstream.relay import (
    SessionRelay,
    answers_any,
    missing_capability,
    unsupported,
)
from mcp_gateway.api.downstream.requeststate import STATE_TTL, principal_of
from mcp_gateway.upstream.relay import CALL_RELAY, InputAnswer

Outcome = types.Result | BaseException
R = TypeVar("R", bound=types.Result)


class Retryable(Protocol):
    """The params of a request that can take input-required rounds."""

    @property
    def request_state(self) -> str | None: ...

    @property
    def input_responses(self) -> dict[str, types.InputResponse] | None: ...


P = TypeVar("P", bound=Retryable)


@dataclass(eq=False, slots=True)
class _Ask:
    request: types.InputRequest
    answered: anyio.Event = field(default_factory=anyio.Event)
    answer: InputAnswer | None = None
    sent: bool = False  # in an InputRequiredResult already


@dataclass(eq=False)
class PendingCall:
    """One background call of a 2026-07-28 client, between its rounds."""

    id: str
    owner: str
    capabilities: types.ClientCapabilities | None
    asks: dict[str, _Ask] = field(default_factory=dict)
    changed: anyio.Event = field(default_factory=anyio.Event)
    outcome: Outcome | None = None
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    handler: SessionRelay | None = None  # the retry waiting now: log messages go there
    _count: int = 0

    # -- the upstream side (a ClientRelay) -----------------------------------------------

    async def ask(self, request: types.InputRequest) -> InputAnswer:
        missing = missing_capability(self.capabilities, request)
        if missing is not None:
            return unsupported(missing)
        self._count += 1
        key = f"r{self._count}"
        ask = self.asks[key] = _Ask(request)
        self._wake()
        with anyio.move_on_after(STATE_TTL):
            await ask.answered.wait()
        self.asks.pop(key, None)
        if ask.answer is None:
            return types.ErrorData(
                code=types.INTERNAL_ERROR, message="the MCP client did not answer in time"
            )
        return ask.answer

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        if self.handler is not None:
            await self.handler.log(params)

    # -- the client side -------------------------------------------------------------------

    def _wake(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    def answer(self, responses: dict[str, types.InputResponse] | None) -> None:
        """A retry's responses; requests it left unanswered are asked again in its result."""
        for key, response in (responses or {}).items():
            ask = self.asks.get(key)
            if ask is not None and ask.answer is None:
                ask.answer = response
                ask.answered.set()
        for ask in self.asks.values():
            ask.sent = ask.sent and ask.answer is not None

    def _unsent(self) -> dict[str, types.InputRequest]:
        fresh = {k: a.request for k, a in self.asks.items() if not a.sent and a.answer is None}
        for key in fresh:
            self.asks[key].sent = True
        return fresh

    async def next(self) -> types.Result:
        """The call's result, or the upstream requests it waits for. Raises what the call
        raised."""
        while True:
            changed = self.changed
            if self.outcome is not None:
                if isinstance(self.outcome, BaseException):
                    raise self.outcome
                return self.outcome
            fresh = self._unsent()
            if fresh:
                return types.InputRequiredResult(input_requests=fresh, request_state=self.id)
            await changed.wait()


def takes_rounds(ctx: ServerRequestContext[Any, Any], state: str | None) -> bool:
    """Whether a request (``state``: its verified requestState) is one of the gateway's own
    rounds: a 2026-07-28 client's first request that could answer an upstream's request, or
    a retry of such a round (a 2026-07-28 upstream's own rounds are relayed instead: eras.py;
    a client that can answer none has them refused at once, no round needed)."""
    return (
        ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        and not is_relayed(state)
        and (state is not None or answers_any(ctx.session.client_capabilities))
    )


class Rounds:
    """The background calls of 2026-07-28 clients. Use ``async with rounds.run()``."""

    def __init__(self) -> None:
        self._calls: dict[str, PendingCall] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    def start(
        self,
        owner: str,
        capabilities: types.ClientCapabilities | None,
        call: Callable[[PendingCall], Awaitable[types.Result]],
    ) -> PendingCall:
        """Run ``call(pending)`` in the background, in the current context (log fields,
        spans); ``pending`` is the relay its upstream requests go to."""
        if self._tg is None:
            raise RuntimeError("Rounds used outside run()")
        pending = PendingCall(secrets.token_urlsafe(24), owner, capabilities)
        self._calls[pending.id] = pending

        async def runner() -> None:
            try:
                with pending.scope:
                    try:
                        pending.outcome = await call(pending)
                    except Exception as exc:  # noqa: BLE001 (handed to the waiting retry)
                        pending.outcome = exc
                    pending._wake()
                    with anyio.move_on_after(STATE_TTL):  # for the last retry to collect it
                        await pending.changed.wait()
                if pending.outcome is None:  # cancelled: a retry's client left
                    pending.outcome = MCPError(REQUEST_CANCELLED, "Request cancelled")
                    pending._wake()  # another retry of the same round waits no longer
            finally:
                self._calls.pop(pending.id, None)

        contextvars.copy_context().run(self._tg.start_soon, runner)
        return pending

    def find(self, state: str, owner: str) -> PendingCall:
        """The call a (verified) state names, for its owner only. Raises MCPError."""
        pending = self._calls.get(state)
        if pending is None or not secrets.compare_digest(pending.owner, owner):
            raise MCPError(
                code=types.INVALID_PARAMS,
                message="Invalid or expired requestState",
                data={"reason": "invalid_request_state"},
            )
        return pending

    async def call(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: P,
        here: SessionRelay,
        call: Callable[[ServerRequestContext[Any, Any], P], Awaitable[R]],
    ) -> R | types.InputRequiredResult:
        """One 2026-07-28 request: a first one starts ``call`` in the background, a retry
        (its ``requestState`` verified by the boundary) answers the waiting round."""
        owner = principal_of(ctx)
        if params.request_state is not None:
            pending = self.find(params.request_state, owner)
            pending.answer(params.input_responses)
        else:

            async def run(pending: PendingCall) -> R:
                answering = CALL_RELAY.set(pending)
                try:
                    return await call(ctx, params)
                finally:
                    CALL_RELAY.reset(answering)

            pending = self.start(owner, ctx.session.client_capabilities, run)
        return cast("R | types.InputRequiredResult", await self.serve(pending, here))

    async def serve(self, pending: PendingCall, handler: SessionRelay) -> types.Result:
        """Wait for ``pending``'s next step for one request; a cancelled request (the client
        closed its stream) cancels the call."""
        pending.handler = handler
        try:
            result = await pending.next()
        except BaseException:
            if pending.outcome is None:
                pending.scope.cancel()
            else:
                pending._wake()  # collected (an error): the runner may end
            raise
        finally:
            pending.handler = None
        if not isinstance(result, types.InputRequiredResult):
            pending._wake()  # collected: the runner may end
        return result
