"""A connected upstream session and the flags its transport raises for the owner task.

:class:`LiveSession` is used concurrently by any number of caller tasks; :class:`Link` is how
transport callbacks (end of stream, an expired HTTP session, ``tools/list_changed``) wake the
supervisor without doing session I/O themselves.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types import UNSUPPORTED_PROTOCOL_VERSION
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, TypeAdapter

from mcp_gateway.observability import tracing
from mcp_gateway.upstream.direct import DirectCalls
from mcp_gateway.upstream.eras import CALL_ERA, RELAYED_METHODS, ModernCaller, with_inputs
from mcp_gateway.upstream.relay import (
    CALL_RESULT,
    ClientRelay,
    InFlight,
    input_rounds,
    retry_of,
)
from mcp_gateway.upstream.sdk import stamp_caller_meta

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)

MAX_TOOL_PAGES = 100  # a paginator that never ends cannot hang a listing


@dataclass(eq=False, slots=True)
class Link:
    """Flags the transport and notification callbacks raise for the owner, plus its wake-up."""

    poke: Callable[[], None]
    dead: bool = False
    calls_sent: int = 0  # tool calls sent and not yet answered
    died_in_call: bool = False  # it died while a tool call was sent and unanswered
    tools_dirty: bool = False
    session_expired: bool = False
    exit_status: int | None = None  # a stdio child's return code, once it was reaped
    # Passes on a notification the upstream sent on its own (method, uri): upstream/notices.py.
    notice: Callable[[str, str | None], None] | None = None

    def exited(self, status: int | None) -> None:
        self.exit_status = status

    def mark_dead(self) -> None:
        if not self.dead:
            self.dead = True
            self.died_in_call = self.calls_sent > 0
            self.poke()

    def mark_expired(self) -> None:
        self.session_expired = True
        self.poke()


@dataclass(eq=False, slots=True)
class LiveSession:
    """A connected session. ``call_tool`` and ``fetch_tools`` may run from any task."""

    session: ClientSession
    link: Link
    transport: str
    pid: int | None = None
    protocol_version: str | None = None
    tools: tuple[types.Tool, ...] | None = None
    started_at: float = field(default_factory=time.monotonic)
    # The calls in flight and their callers (upstream/relay.py); connect() sets the one its
    # callbacks route with.
    in_flight: InFlight = field(default_factory=lambda: InFlight(by_context=False))
    # Plain tool calls without the SDK's client machinery (Streamable HTTP only).
    direct: DirectCalls | None = None

    @property
    def modern(self) -> bool:
        """A 2026-07-28 session (sessionless, ``_meta`` per request)."""
        return self.protocol_version in MODERN_PROTOCOL_VERSIONS

    def _relaying(self) -> ModernCaller | None:
        """The 2026-07-28 caller whose input-required results this session relays, if any."""
        return CALL_ERA.get() if self.modern else None

    async def call_tool(
        self,
        tool: str,
        arguments: dict[str, object],
        read_timeout: float,
        progress: ProgressFnT | None = None,
        relay: ClientRelay | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        """Raw SDK call (raises MCPError, transport errors). No output-schema validation: the
        gateway forwards results, its own clients validate. With traces on it is a client span,
        whose ``traceparent`` the SDK puts in the request's ``_meta``. ``progress``
        (upstream/progress.py) asks for and receives progress notifications; ``relay``
        (upstream/relay.py) receives the upstream's requests and log messages of this call.

        An upstream's input-required result is resolved here through ``relay`` (the
        multi-round-trip driver), except on a 2026-07-28 session for a 2026-07-28 caller
        (upstream/eras.py): that caller relays it, so it is returned."""
        request: types.ClientRequest = types.CallToolRequest(
            params=types.CallToolRequestParams(name=tool, arguments=arguments)
        )
        caller = self._relaying()
        if caller is not None:
            request = with_inputs(request, caller)
        self.link.calls_sent += 1
        try:
            with tracing.upstream_span("tools/call", tool), self.in_flight.calling(relay):
                if self.direct is not None and progress is None:
                    data = request.model_dump(by_alias=True, mode="json", exclude_none=True)
                    raw = await self.direct.call_tool(data["params"], read_timeout)
                    result = CALL_RESULT.validate_python(raw, by_name=False)
                else:
                    result = await self.session.send_request(
                        request,
                        CALL_RESULT,
                        request_read_timeout_seconds=read_timeout,
                        progress_callback=progress,
                    )
                if not isinstance(result, types.InputRequiredResult) or caller is not None:
                    return result
                first = types.CallToolRequestParams(name=tool, arguments=arguments)

                async def retry(
                    answers: types.InputResponses | None, state: str | None
                ) -> types.CallToolResult | types.InputRequiredResult:
                    params = first.model_copy(
                        update={"input_responses": answers, "request_state": state}
                    )
                    return await self.session.send_request(
                        types.CallToolRequest(params=params),
                        CALL_RESULT,
                        request_read_timeout_seconds=read_timeout,
                        progress_callback=progress,
                    )

                # A 2026-07-28 upstream asks for input (sampling, elicitation, roots) this way.
                return await input_rounds(self.session, result, retry)
        finally:
            self.link.calls_sent -= 1

    async def request(
        self,
        request: types.ClientRequest,
        result_type: type[R],
        read_timeout: float,
        relay: ClientRelay | None = None,
    ) -> R | types.InputRequiredResult:
        """Raw SDK request of any kind (``resources/read``, ``prompts/get``, ...), counted like
        a tool call (a death while it is unanswered is a death during a call) and traced.
        ``relay`` is the caller's (upstream/relay.py), as for :meth:`call_tool`; without one
        (REST, listings, completions) it is a call in flight without a relay: a server-to-client
        request the upstream sends meanwhile is never guessed to belong to a concurrent tool
        call. On a 2026-07-28 session an input-required result is returned for a 2026-07-28
        caller, else resolved through ``relay`` as :meth:`call_tool` does."""
        caller = self._relaying()
        relayed = self.modern and request.method in RELAYED_METHODS
        if caller is not None and relayed:
            request = with_inputs(request, caller)
        self.link.calls_sent += 1
        try:
            with (
                tracing.upstream_span(request.method, _target(request)),
                self.in_flight.calling(relay),
            ):
                if not relayed:
                    return await self.session.send_request(
                        request, result_type, request_read_timeout_seconds=read_timeout
                    )
                answers = _or_input_required(result_type)

                async def send(sent: types.ClientRequest) -> R | types.InputRequiredResult:
                    return await self.session.send_request(
                        sent, answers, request_read_timeout_seconds=read_timeout
                    )

                result = await send(request)
                if caller is not None or not isinstance(result, types.InputRequiredResult):
                    return result
                return await input_rounds(self.session, result, retry_of(request, send))
        finally:
            self.link.calls_sent -= 1

    async def fetch_tools(self, read_timeout: float) -> tuple[types.Tool, ...]:
        """Every page of ``tools/list``; caches and returns the list. On a 2026-07-28 session
        through the SDK's ``list_tools``, which learns each tool's ``x-mcp-header`` parameters
        (its calls then mirror them into ``Mcp-Param-*`` headers, as that era requires)."""
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            if self.modern:
                with anyio.fail_after(read_timeout):
                    page = await self.session.list_tools(params=params)
            else:
                page = await self.session.send_request(
                    types.ListToolsRequest(params=params),
                    types.ListToolsResult,
                    request_read_timeout_seconds=read_timeout,
                )
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        self.tools = tuple(tools)
        return self.tools


@functools.cache
def _or_input_required(result_type: type[R]) -> TypeAdapter[R | types.InputRequiredResult]:
    """``result_type`` or an input-required result (built once per type: adapters are slow)."""
    return TypeAdapter(result_type | types.InputRequiredResult)  # type: ignore[arg-type]


def _target(request: types.ClientRequest) -> str:
    """What a span names besides the method: a prompt's name (never a resource URI, which
    may carry a user's identifiers)."""
    name = getattr(getattr(request, "params", None), "name", None)
    return name[:200] if isinstance(name, str) else ""


async def handshake(session: ClientSession, within: float) -> str | None:
    """``initialize``; a 2026-07-28-only server (-32022) is probed with ``server/discover``.
    Returns the negotiated protocol version. Raises TimeoutError after ``within`` seconds (a
    server that starts but never answers is a failed start, not a start that never ends)."""
    with anyio.fail_after(within):
        try:
            await session.initialize()
        except MCPError as exc:
            if exc.code != UNSUPPORTED_PROTOCOL_VERSION:
                raise
            await session.discover()  # a 2026-07-28-only server: sessionless
    return session.protocol_version


async def discover(session: ClientSession, within: float) -> str | None:
    """A 2026-07-28 session (the pool's modern companion): ``server/discover`` only, and each
    request then declares the capabilities of the caller it is sent for (upstream/eras.py).
    Raises MCPError when the upstream does not speak 2026-07-28, TimeoutError after
    ``within`` seconds."""
    with anyio.fail_after(within):
        await session.discover()
    stamp_caller_meta(session, _caller_meta)
    return session.protocol_version


def _caller_meta() -> tuple[dict[str, Any], str | None] | None:
    caller = CALL_ERA.get()
    return None if caller is None else (caller.capabilities, caller.log_level)


async def initial_tools(live: LiveSession, read_timeout: float) -> None:
    """List tools once after connecting; a JSON-RPC error leaves ``live.tools`` unset."""
    try:
        await live.fetch_tools(read_timeout)
    except MCPError as exc:  # a server without tools still serves the rest
        # The code, not the message: an upstream may echo a per-user secret in it.
        logger.info("tools/list failed on connect (JSON-RPC error %s)", exc.code)
