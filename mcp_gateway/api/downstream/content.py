"""Resources, resource templates, prompts and completions at both MCP endpoints.

``/mcp/{server}`` passes each request through to that server unchanged (the client's cursor
too). ``/mcp`` lists every server's items (all pages) with prompts named as tools are
(:func:`~mcp_gateway.domain.tool_names.namespaced`) and resource URIs and templates rewritten
by :mod:`~mcp_gateway.domain.resource_uris`; a read, a prompt or a completion is routed back
to the owning server with the original name or URI, and the URIs in its result rewritten
again. ``/mcp/toolsets/{name}`` serves only tools: it lists none of these and refuses every
name and URI like an unknown one. Everything goes through
:class:`~mcp_gateway.services.server_content.ServerContentService` (authorization, the user's
session and secrets, masking, audit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_gateway.api.downstream.caller import Caller, caller_of, legacy_session_id
from mcp_gateway.api.downstream.eras import input_required, modern_caller, relaying
from mcp_gateway.api.downstream.relay import LogLevels, SessionRelay
from mcp_gateway.api.downstream.rounds import P, R, Rounds, takes_rounds
from mcp_gateway.api.downstream.rpc_errors import rpc_error
from mcp_gateway.api.downstream.targets import resource_target, server_of, unknown
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain import resource_uris, tool_names
from mcp_gateway.errors import GatewayError, InputRequired
from mcp_gateway.services.server_content import ServerContentService, audited_uri
from mcp_gateway.upstream.eras import ModernCaller
from mcp_gateway.upstream.relay import CALL_RELAY

if TYPE_CHECKING:
    from mcp_gateway.api.downstream.notify import ListChanges
    from mcp_gateway.api.downstream.subscriptions import ResourceSubscriptions

Context = ServerRequestContext[Any, Any]


class ContentHandlers:
    """The SDK ``on_*`` handlers of resources, prompts and completions. With ``changes``,
    legacy sessions that list are told of later changes, and subscriptions are relayed."""

    def __init__(
        self,
        runtime: GatewayRuntime,
        changes: ListChanges | None = None,
        *,
        rounds: Rounds | None = None,
        log_levels: LogLevels | None = None,
    ) -> None:
        self._runtime = runtime  # its services exist once it is open
        self._changes = changes
        # A 2026-07-28 client's reads and prompts: a 2026-07-28 upstream's input-required
        # results are relayed (eras.py), a 2025-11-25 upstream's requests become the gateway's
        # own rounds (rounds.py); only where requestState is sealed and verified (the
        # server's boundary, installed with the rounds).
        self._rounds = rounds
        self._log_levels = log_levels  # 2025-11-25 sessions' logging/setLevel

    async def _watch(self, ctx: Context, caller: Caller, kind: str) -> None:
        session_id = legacy_session_id(ctx.request)
        if self._changes is not None and session_id is not None:
            await self._changes.watch(session_id, ctx.session, caller, kind)

    def _modern(self, ctx: Context, params: Any) -> ModernCaller | None:
        if self._rounds is None:
            return None
        return modern_caller(ctx, params.input_responses, params.request_state)

    async def _asking(
        self, ctx: Context, params: P, fetch: Callable[[Context, P], Awaitable[R]]
    ) -> R | types.InputRequiredResult:
        """``fetch`` with the upstream's requests reaching this client: on the request's own
        stream (2025-11-25, ``_answering``), as the gateway's rounds (2026-07-28), or as a
        2026-07-28 upstream's own input-required result (relayed). A GatewayError becomes
        its JSON-RPC error."""
        try:
            with relaying(self._modern(ctx, params)), self._answering(ctx):
                if self._rounds is not None and takes_rounds(ctx, params.request_state):
                    here = SessionRelay(ctx.session, ctx.request_id, ctx.meta, None)
                    return await self._rounds.call(ctx, params, here, fetch)
                return await fetch(ctx, params)
        except InputRequired as exc:
            return input_required(exc)
        except GatewayError as exc:
            raise rpc_error(exc) from None

    @contextmanager
    def _answering(self, ctx: Context) -> Iterator[None]:
        """A 2025-11-25 client answers the upstream's requests of its read or prompt (sampling,
        elicitation, roots; a 2026-07-28 upstream's input-required rounds too) on that
        request's response stream, and gets its log messages there, as for a tool call
        (``CALL_RELAY``: upstream/relay.py). A 2026-07-28 client is relayed the upstream's
        rounds instead (eras.py); nothing else can reach it during the request."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            yield
            return
        session_id = legacy_session_id(ctx.request)
        levels = self._log_levels.allowed(session_id) if self._log_levels is not None else None
        token = CALL_RELAY.set(SessionRelay(ctx.session, ctx.request_id, ctx.meta, levels))
        try:
            yield
        finally:
            CALL_RELAY.reset(token)

    @property
    def _content(self) -> ServerContentService:
        return self._runtime.content

    # -- resources -------------------------------------------------------------------------

    async def list_resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        caller = caller_of(getattr(ctx.request, "scope", None))
        await self._watch(ctx, caller, "resources")
        if caller.server is not None:
            page = await self._page(caller, "resources/list", params)
            assert isinstance(page, types.ListResourcesResult)
            return types.ListResourcesResult(resources=page.resources, next_cursor=page.next_cursor)
        listed = await self._everywhere(caller, "resources/list")
        return types.ListResourcesResult(
            resources=[
                r.model_copy(update={"uri": resource_uris.gateway_uri(server, r.uri)})
                for server, items in listed
                for r in items
            ]
        )

    async def list_templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        caller = caller_of(getattr(ctx.request, "scope", None))
        await self._watch(ctx, caller, "resources")
        if caller.server is not None:
            page = await self._page(caller, "resources/templates/list", params)
            assert isinstance(page, types.ListResourceTemplatesResult)
            return types.ListResourceTemplatesResult(
                resource_templates=page.resource_templates, next_cursor=page.next_cursor
            )
        listed = await self._everywhere(caller, "resources/templates/list")
        return types.ListResourceTemplatesResult(
            resource_templates=[
                t.model_copy(
                    update={"uri_template": resource_uris.gateway_uri(server, t.uri_template)}
                )
                for server, items in listed
                for t in items
            ]
        )

    async def read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        caller = caller_of(getattr(ctx.request, "scope", None))
        server, uri = await self._resource_target(caller, params.uri)
        request = types.ReadResourceRequest(params=types.ReadResourceRequestParams(uri=uri))

        async def read(ctx: Context, params: Any) -> types.ReadResourceResult:
            return await self._content.audited(
                caller.principal,
                caller.username,
                server,
                request,
                types.ReadResourceResult,
                action="resource_read",
                target=audited_uri(uri),
                request_id=caller.request_id,
            )

        result = await self._asking(ctx, params, read)
        if isinstance(result, types.InputRequiredResult):
            return result
        if caller.server is not None:
            return types.ReadResourceResult(contents=result.contents, _meta=result.meta)
        contents = [
            c.model_copy(update={"uri": resource_uris.gateway_uri(server, c.uri)})
            for c in result.contents
        ]
        return types.ReadResourceResult(contents=contents, _meta=result.meta)

    async def subscribe(
        self, ctx: Context, params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        """A subscription upstream on the client's behalf, whose ``resources/updated`` reach
        this session (subscriptions.py; 2025-11-25 era only: the SDK does not dispatch it in
        2026-07-28, where ``subscriptions/listen`` carries resource subscriptions)."""
        caller = caller_of(getattr(ctx.request, "scope", None))
        target = await self._resource_target(caller, params.uri)
        held, session_id = self._subscriptions(ctx)
        session = ctx.session

        async def deliver(uri: str) -> None:
            await session.send_resource_updated(uri)

        try:
            await held.subscribe(session_id, caller, params.uri, target, deliver, legacy=True)
        except GatewayError as exc:
            raise rpc_error(exc) from None
        return types.EmptyResult()

    async def unsubscribe(
        self, ctx: Context, params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        """Ends this session's subscription (upstream too when it was the last one there)."""
        caller = caller_of(getattr(ctx.request, "scope", None))
        target = await self._resource_target(caller, params.uri)
        held, session_id = self._subscriptions(ctx)
        try:
            await held.unsubscribe(session_id, caller, target)
        except GatewayError as exc:
            raise rpc_error(exc) from None
        return types.EmptyResult()

    def _subscriptions(self, ctx: Context) -> tuple[ResourceSubscriptions, str]:
        """The subscriptions and the legacy session id of a (un)subscribe request."""
        session_id = legacy_session_id(ctx.request)
        if self._changes is None or session_id is None:  # nothing to deliver updates to
            raise MCPError(types.INVALID_REQUEST, "resource subscriptions need a session")
        return self._changes.subscriptions, session_id

    async def _resource_target(self, caller: Caller, uri: str) -> tuple[str, str]:
        return await resource_target(self._runtime, caller, uri)

    # -- prompts ---------------------------------------------------------------------------

    async def list_prompts(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        caller = caller_of(getattr(ctx.request, "scope", None))
        await self._watch(ctx, caller, "prompts")
        if caller.server is not None:
            page = await self._page(caller, "prompts/list", params)
            assert isinstance(page, types.ListPromptsResult)
            return types.ListPromptsResult(prompts=page.prompts, next_cursor=page.next_cursor)
        listed = await self._everywhere(caller, "prompts/list")
        return types.ListPromptsResult(
            prompts=[
                p.model_copy(update={"name": tool_names.namespaced(server, p.name)})
                for server, items in listed
                for p in items
            ]
        )

    async def get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        caller = caller_of(getattr(ctx.request, "scope", None))
        try:
            server, name = await self._prompt_target(caller, params.name)
        except GatewayError as exc:
            raise rpc_error(exc) from None
        request = types.GetPromptRequest(
            params=types.GetPromptRequestParams(name=name, arguments=params.arguments)
        )

        async def get(ctx: Context, params: Any) -> types.GetPromptResult:
            return await self._content.audited(
                caller.principal,
                caller.username,
                server,
                request,
                types.GetPromptResult,
                action="prompt_get",
                target=name,
                request_id=caller.request_id,
            )

        result = await self._asking(ctx, params, get)
        if isinstance(result, types.InputRequiredResult):
            return result
        if caller.server is None:
            messages = [_routable_message(server, m) for m in result.messages]
            result = result.model_copy(update={"messages": messages})
        return types.GetPromptResult(
            description=result.description, messages=result.messages, _meta=result.meta
        )

    async def _prompt_target(self, caller: Caller, name: str) -> tuple[str, str]:
        if caller.server is not None:
            return caller.server, name
        parts = tool_names.split(name) if caller.toolset is None else None
        server = await self._server_of(parts[0]) if parts is not None else None
        if parts is None or server is None:
            raise unknown("prompt", name)
        if not tool_names.is_hashed(parts[1]):
            return server, parts[1]
        prompts = await self._content.list_all(
            caller.principal, caller.username, server, "prompts/list"
        )
        for prompt in prompts:
            if tool_names.namespaced(server, prompt.name) == name:
                return server, str(prompt.name)
        raise unknown("prompt", name)

    # -- completions -----------------------------------------------------------------------

    async def complete(
        self, ctx: Context, params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        caller = caller_of(getattr(ctx.request, "scope", None))
        ref = params.ref
        try:
            if isinstance(ref, types.PromptReference):
                server, name = await self._prompt_target(caller, ref.name)
                routed: types.PromptReference | types.ResourceTemplateReference = ref.model_copy(
                    update={"name": name}
                )
            else:
                server, uri = await self._resource_target(caller, ref.uri)
                routed = ref.model_copy(update={"uri": uri})
            request = types.CompleteRequest(
                params=types.CompleteRequestParams(
                    ref=routed, argument=params.argument, context=params.context
                )
            )
            return await self._content.send(
                caller.principal, caller.username, server, request, types.CompleteResult
            )
        except GatewayError as exc:
            raise rpc_error(exc) from None

    # -- helpers ---------------------------------------------------------------------------

    async def _page(
        self, caller: Caller, method: str, params: types.PaginatedRequestParams | None
    ) -> Any:
        assert caller.server is not None
        cursor = params.cursor if params is not None else None
        try:
            return await self._content.list_page(
                caller.principal, caller.username, caller.server, method, cursor
            )
        except GatewayError as exc:
            raise rpc_error(exc) from None

    async def _everywhere(self, caller: Caller, method: str) -> list[tuple[str, list[Any]]]:
        if caller.toolset is not None:  # a toolset endpoint serves only tools
            return []
        try:
            return await self._content.list_everywhere(caller.principal, caller.username, method)
        except GatewayError as exc:
            raise rpc_error(exc) from None

    async def _server_of(self, part: str) -> str | None:
        return await server_of(self._runtime, part)


def _routable_message(server: str, message: types.PromptMessage) -> types.PromptMessage:
    """A prompt message whose embedded resource or resource link names a URI ``/mcp`` routes."""
    content = message.content
    if isinstance(content, types.EmbeddedResource):
        resource = content.resource
        uri = resource_uris.gateway_uri(server, resource.uri)
        content = content.model_copy(update={"resource": resource.model_copy(update={"uri": uri})})
    elif isinstance(content, types.ResourceLink):
        content = content.model_copy(update={"uri": resource_uris.gateway_uri(server, content.uri)})
    else:
        return message
    return message.model_copy(update={"content": content})
