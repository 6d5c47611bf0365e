"""The MCP server behind both endpoints: one lowlevel SDK ``Server`` whose handlers read the
caller (principal, username, endpoint server) from the HTTP request that carried the message
and go through the services every REST call uses.

How failures surface (docs/mcp-endpoint.md): a protocol-level failure (unknown server, a
request the gateway or the upstream refuses as malformed, the upstream's JSON-RPC error) is a
JSON-RPC error; anything the user or model can act on or retry (a missing secret, an OAuth
login to make, a disabled, busy, slow or crashed server, a rate limit) is a ``CallToolResult``
with ``isError`` whose text says what happened, with the gateway's error code (and the
authorization URL of an OAuth login) in ``_meta``. Messages are the service's, already masked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError

from mcp_gateway import __version__
from mcp_gateway.api.downstream import param_schemas, search_tools
from mcp_gateway.api.downstream.caller import Caller, caller_of, legacy_session_id
from mcp_gateway.api.downstream.capabilities import EndpointCapabilities
from mcp_gateway.api.downstream.catalogue import Catalogue
from mcp_gateway.api.downstream.content import ContentHandlers
from mcp_gateway.api.downstream.eras import input_required, modern_caller, relaying
from mcp_gateway.api.downstream.notify import ListChanges
from mcp_gateway.api.downstream.param_schemas import SchemaHook
from mcp_gateway.api.downstream.relay import LogLevels, SessionRelay, ask_to_open
from mcp_gateway.api.downstream.requeststate import boundary
from mcp_gateway.api.downstream.rounds import Rounds, takes_rounds
from mcp_gateway.api.downstream.rpc_errors import rpc_error
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.errors import (
    GatewayError,
    InputRequired,
    InvalidRequest,
    MissingSecret,
    NotFound,
    UpstreamError,
)
from mcp_gateway.upstream.progress import CALL_PROGRESS
from mcp_gateway.upstream.relay import CALL_RELAY

ERROR_META_KEY = "io.mcp-gateway/error"
"""``_meta`` key of an ``isError`` result the gateway made: ``{"code", ...extra}``."""

Context = ServerRequestContext[Any, Any]


def _caller(ctx: Context) -> Caller:
    request = ctx.request
    return caller_of(getattr(request, "scope", None))


def _tools_mode(ctx: Context) -> str | None:
    return search_tools.requested_mode(getattr(ctx.request, "scope", None))


def _is_protocol_error(exc: GatewayError) -> bool:
    if isinstance(exc, MissingSecret):
        return False
    return isinstance(exc, InvalidRequest | NotFound) or type(exc) is UpstreamError


def error_result(exc: GatewayError) -> types.CallToolResult:
    """A gateway failure of a tool call as the ``isError`` result a client shows its model."""
    extra = exc.extra()
    text = exc.message
    url = extra.get("authorizationUrl")
    if url:
        text = f"{text}. Log in at {url} then call the tool again."
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        is_error=True,
        _meta={ERROR_META_KEY: {"code": exc.code, **extra}},
    )


async def _asked_result(exc: GatewayError) -> types.CallToolResult:
    """``error_result``; for an OAuth login to make, first asked of a client that supports URL
    elicitation (it opens the login page; the call fails all the same, to be made again
    once logged in). The client's answer is in ``_meta`` (``elicitation``)."""
    result = error_result(exc)
    url = exc.extra().get("authorizationUrl")
    if not url:
        return result
    action = await ask_to_open(str(url), f"{exc.message}: log in, then call the tool again")
    if action is not None and result.meta is not None:
        result.meta[ERROR_META_KEY]["elicitation"] = action
    return result


def _inner_error(exc: MCPError) -> types.CallToolResult:
    """A JSON-RPC error of a call made through ``gateway__call_tool`` as the ``isError``
    result the model sees (it called a gateway tool that exists; the inner call failed)."""
    data = exc.error.data
    code = data.get("code") if isinstance(data, dict) else None
    meta = {"code": code if isinstance(code, str) else "upstream_error", "rpcCode": exc.error.code}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=exc.error.message)],
        is_error=True,
        _meta={ERROR_META_KEY: meta},
    )


class ProgressRelay:
    """Forwards an upstream call's progress to the client, and lets the handler wait for the
    ones being forwarded. The SDK's client runs each progress callback in its own task, so the
    upstream's last notification can still be in flight when its result arrives; answering
    first would drop it (2026-07-28 closes the stream with the result) or reorder it."""

    _DRAIN_LIMIT = 2.0  # seconds: a stuck client stream must not hold the result

    def __init__(self, forward: ProgressFnT) -> None:
        self._forward = forward
        self._busy = 0
        self._idle = anyio.Event()
        self._idle.set()

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        if self._busy == 0:
            self._idle = anyio.Event()
        self._busy += 1
        try:
            await self._forward(progress, total, message)
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    async def drain(self) -> None:
        with anyio.move_on_after(self._DRAIN_LIMIT):
            await self._idle.wait()


InputSchema = Callable[[Caller, str | None, str], Awaitable[Any]]
"""``(caller, tools mode, tool name) -> the inputSchema tools/list shows that caller`` (None:
not listed)."""


class GatewayServer(Server[Any]):
    """The SDK server, declaring ``listChanged`` of tools, resources and prompts to
    2025-11-25 clients (notify.py; capabilities.py drops what an endpoint does not serve).
    ``input_schema`` is what the fast path checks ``Mcp-Param-*`` headers against without a
    whole ``tools/list`` exchange per call (the SDK's entry runs one)."""

    input_schema: InputSchema | None = None

    @property
    def get_tool_input_schema(self) -> SchemaHook | None:
        """The SDK's ``Mcp-Param-*`` schema hook: set per request (param_schemas.py)."""
        return param_schemas.hook()

    @get_tool_input_schema.setter
    def get_tool_input_schema(self, value: SchemaHook | None) -> None:
        assert value is None, "the hook is per request (param_schemas.py)"  # the SDK's init

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        options = notification_options or NotificationOptions(
            prompts_changed=True, resources_changed=True, tools_changed=True
        )
        return super().create_initialization_options(options, experimental_capabilities, extensions)


def _session_id(ctx: Context) -> str | None:
    """The ``Mcp-Session-Id`` of the request (2025-11-25 era), else None."""
    return legacy_session_id(ctx.request)


def build_server(
    runtime: GatewayRuntime,
    rounds: Rounds | None = None,
    changes: ListChanges | None = None,
    log_levels: LogLevels | None = None,
) -> GatewayServer:
    """The MCP server for ``runtime``'s services (one per app; the session manager runs it).
    ``rounds`` (running while the server runs) carries 2026-07-28 clients' input rounds;
    without it an upstream request of such a call is refused. ``changes`` is told about
    legacy sessions that listed tools, resources or prompts (it sends them ``list_changed``)
    and holds resource subscriptions (it relays ``resources/updated``); ``log_levels`` keeps
    their ``logging/setLevel`` (served only with it)."""
    catalogue = Catalogue(runtime)
    search = search_tools.ToolSearch(runtime.settings.endpoint.tool_search_threshold)

    async def list_tools(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        caller = _caller(ctx)
        session_id = _session_id(ctx)
        if changes is not None and session_id:
            await changes.watch(session_id, ctx.session, caller, "tools")
        mode = _tools_mode(ctx)
        try:
            if mode == "search":  # asked for: nothing to list, only the endpoint to check
                await catalogue.check(caller)
                return types.ListToolsResult(tools=list(search_tools.TOOLS))
            view = await catalogue.view(caller)
        except GatewayError as exc:
            raise rpc_error(exc) from None
        if search.active(mode, caller.server is None, view.count):
            return types.ListToolsResult(tools=list(search_tools.TOOLS))
        return types.ListToolsResult(tools=view.models)

    async def searching(ctx: Context, caller: Caller) -> bool:
        """Whether the gateway's search tools are served to this caller. Past the threshold,
        by the size of its catalogue when last built: a describe or call looks at one server
        only, never lists everything to count (a search, which needs the whole catalogue
        anyway, counts it current)."""
        mode = _tools_mode(ctx)
        aggregated = caller.server is None
        if mode is not None or not aggregated:
            return search.active(mode, aggregated, 0)
        return search.active(mode, aggregated, await catalogue.count(caller))

    async def input_schema(caller: Caller, mode: str | None, name: str) -> Any:
        # What list_tools shows: the search tools when searching (the catalogue's size as
        # last built, as `searching` counts it), else the tool as the caller's listing has it.
        if mode == "search" or search.active(
            mode, caller.server is None, await catalogue.count(caller)
        ):
            return next((t.input_schema for t in search_tools.TOOLS if t.name == name), None)
        tool = await catalogue.find(caller, name)
        return tool.get("inputSchema") if tool is not None else None

    async def call(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        caller = _caller(ctx)
        arguments = dict(params.arguments or {})
        if params.name in search_tools.NAMES:
            try:
                active = await searching(ctx, caller)
            except GatewayError as exc:
                raise rpc_error(exc) from None
            if active:

                async def invoke(name: str, inner: dict[str, Any]) -> types.CallToolResult:
                    try:
                        return await call_name(ctx, caller, name, inner)
                    except MCPError as exc:  # a protocol error of the inner call: the model's
                        return _inner_error(exc)

                return await search.call(
                    params.name, arguments, catalogue, caller, invoke, error_result
                )
        return await call_name(ctx, caller, params.name, arguments)

    async def call_name(
        ctx: Context, caller: Caller, name: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        """The one call path of a tool name at the caller's endpoint (direct or through
        ``gateway__call_tool``)."""
        # The client asked for progress: the pool asks the upstream for it and hands each
        # notification (message masked) to this task's CALL_PROGRESS sink (upstream/progress.py).
        wanted = ctx.meta is not None and ctx.meta.get("progress_token") is not None
        relay = ProgressRelay(ctx.session.report_progress) if wanted else None
        listening = CALL_PROGRESS.set(relay) if relay is not None else None
        try:
            server, tool = await catalogue.route(caller, name)
            result = await runtime.tools.call(
                caller.principal,
                caller.username,
                server,
                tool,
                arguments,
                request_id=caller.request_id,
            )
            if relay is not None:
                await relay.drain()  # the last notifications go out before the result
            return result
        except InputRequired:
            raise  # relayed to the client by call_tool (eras.py)
        except GatewayError as exc:
            if _is_protocol_error(exc):
                raise rpc_error(exc) from None
            return await _asked_result(exc)
        finally:
            if listening is not None:
                CALL_PROGRESS.reset(listening)

    async def call_tool(
        ctx: Context, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        # The upstream's requests and log messages of this call go to this client: on its
        # response stream (2025-11-25), or as input-required rounds (2026-07-28; rounds.py)
        # when the client can answer any (others are refused at once: no round needed).
        levels = log_levels.allowed(_session_id(ctx)) if log_levels is not None else None
        here = SessionRelay(ctx.session, ctx.request_id, ctx.meta, levels)
        state = params.request_state
        # A 2026-07-28 upstream's own input-required rounds are relayed (eras.py); a retry of
        # a relayed round is served directly, one of the gateway's own rounds by rounds.py.
        # Only with the boundary that seals and verifies requestState (installed with rounds).
        modern = modern_caller(ctx, params.input_responses, state) if rounds else None
        try:
            with relaying(modern):
                if rounds is not None and takes_rounds(ctx, state):
                    return await rounds.call(ctx, params, here, call)
                answering = CALL_RELAY.set(here)
                try:
                    return await call(ctx, params)
                finally:
                    CALL_RELAY.reset(answering)
        except InputRequired as exc:
            return input_required(exc)

    content = ContentHandlers(runtime, changes, rounds=rounds, log_levels=log_levels)
    private = CacheHint(ttl_ms=0, scope="private")
    server = GatewayServer(
        "mcp-gateway",
        version=__version__,
        # Listings and reads are per user (hidden parameters, per-user sessions): never shared.
        cache_hints={
            "tools/list": private,
            "resources/list": private,
            "resources/templates/list": private,
            "resources/read": private,
            "prompts/list": private,
            "server/discover": private,  # /mcp/{server} advertises what the user's session does
        },
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=content.list_resources,
        on_list_resource_templates=content.list_templates,
        on_read_resource=content.read_resource,
        on_subscribe_resource=content.subscribe,
        on_unsubscribe_resource=content.unsubscribe,
        on_list_prompts=content.list_prompts,
        on_get_prompt=content.get_prompt,
        on_completion=content.complete,
        on_subscriptions_listen=changes.listen if changes is not None else None,
    )
    server.input_schema = input_schema
    server.middleware.append(EndpointCapabilities(runtime))
    if log_levels is not None:

        async def set_level(ctx: Context, params: types.SetLevelRequestParams) -> types.EmptyResult:
            session_id = _session_id(ctx)
            if session_id is not None:
                log_levels.set(session_id, params.level)
            return types.EmptyResult()

        # Registered directly: the constructor's on_set_logging_level warns (2026 deprecation).
        server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    if rounds is not None:  # seals and verifies every requestState (requeststate.py)
        server.middleware.append(boundary(lambda: runtime.keyring))
    return server
