"""The stdio server of ``mcp-gateway connect``: an SDK server whose handlers forward to a
client of the gateway's MCP endpoint, and the endpoint's change notifications passed on.

Forwarded: ``tools/list``, ``tools/call`` (progress included), ``resources/list``,
``resources/templates/list``, ``resources/read``, ``resources/subscribe`` and
``unsubscribe``, ``prompts/list``, ``prompts/get`` and ``completion/complete`` (the
gateway's cursors, names and URIs as they are). The bridge advertises what the endpoint
advertises (a toolset's bridge: tools only).

The bridge speaks 2026-07-28 to the gateway (sessionless: nothing expires while the stdio
client sits idle), so the endpoint's ``list_changed`` of tools, resources and prompts and
the ``resources/updated`` of the client's subscriptions arrive on a ``subscriptions/listen``
stream the bridge keeps open on a second connection (no read timeout: it is quiet until
something changes). A subscribe or unsubscribe re-opens it with the new set of URIs and
answers once the gateway acknowledged it (so the upstream subscription exists); a lost
stream is re-opened after :data:`RELISTEN_DELAY`. Each event reaches the stdio client as
the 2025-11-25 notification. (A change in the instant between two streams is not seen: the
stream has no replay. A 2026-07-28 stdio client gets no notifications: the bridge serves
no ``subscriptions/listen`` of its own.)
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
import httpx2
import mcp_types as types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError, Subscription
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)

logger = logging.getLogger(__name__)

Context = ServerRequestContext[Any, Any]

RELISTEN_DELAY = 1.0  # seconds before a lost listen stream is opened again
ACK_LIMIT = 30.0  # seconds a subscribe waits for the gateway to acknowledge the new stream


class Changes:
    """The listen stream to the gateway, and the stdio session its events go to."""

    def __init__(self, listener: Client) -> None:
        self._listener = listener
        self.session: ServerSession | None = None  # any request's proxy of the stdio session
        self._uris: frozenset[str] = frozenset()  # the client's subscriptions
        self._listening: frozenset[str] | None = None  # the acknowledged stream's
        self._restart = anyio.Event()
        self._acked = anyio.Event()

    async def run(self) -> None:
        """Keep a listen stream open until cancelled."""
        while True:
            uris = self._uris
            self._restart = anyio.Event()
            try:
                async with self._listener.listen(
                    tools_list_changed=True,
                    prompts_list_changed=True,
                    resources_list_changed=True,
                    resource_subscriptions=sorted(uris),
                ) as sub:
                    self._listening = uris
                    acked, self._acked = self._acked, anyio.Event()
                    acked.set()
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._forward, sub, tg.cancel_scope)
                        await self._restart.wait()
                        tg.cancel_scope.cancel()
                continue
            except ListenNotSupportedError:
                logger.warning("the gateway serves no subscriptions/listen: no notifications")
                return
            except Exception as exc:  # noqa: BLE001 (the gateway restarting, a dropped link)
                logger.info("listen stream to the gateway lost (%s)", type(exc).__name__)
            self._listening = None
            with anyio.move_on_after(RELISTEN_DELAY):
                await self._restart.wait()

    async def subscribe(self, uri: str, *, on: bool) -> types.EmptyResult:
        """Add (remove) ``uri`` to the stream's subscriptions; returns once it is open."""
        self._uris = self._uris | {uri} if on else self._uris - {uri}
        self._restart.set()
        try:
            with anyio.fail_after(ACK_LIMIT):
                while self._listening is None or (uri in self._listening) is not on:
                    await self._acked.wait()
        except TimeoutError:
            message = "the gateway did not open the subscription"
            raise MCPError(types.INTERNAL_ERROR, message) from None
        return types.EmptyResult()

    async def _forward(self, sub: Subscription, scope: anyio.CancelScope) -> None:
        try:
            async for event in sub:
                await self._pass(event)
        except Exception as exc:  # noqa: BLE001 (lost: run() opens another)
            logger.info("listen stream to the gateway ended (%s)", type(exc).__name__)
        finally:
            self._restart.set()
            scope.cancel()

    async def _pass(self, event: ServerEvent) -> None:
        session = self.session
        if session is None:
            return  # the client asked for nothing yet: it has nothing to refresh
        if isinstance(event, ToolsListChanged):
            await session.send_tool_list_changed()
        elif isinstance(event, ResourcesListChanged):
            await session.send_resource_list_changed()
        elif isinstance(event, PromptsListChanged):
            await session.send_prompt_list_changed()
        elif isinstance(event, ResourceUpdated) and event.uri in self._uris:
            await session.send_resource_updated(event.uri)


class _Bridge(Server[Any]):
    """Advertises what the gateway's endpoint advertised (tools, resources, prompts,
    completions), whatever handlers are registered."""

    def __init__(self, mirrored: types.ServerCapabilities, **handlers: Any) -> None:
        super().__init__("mcp-gateway-connect", **handlers)
        self._mirrored = mirrored

    def get_capabilities(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
        *,
        protocol_version: str | None = None,
    ) -> types.ServerCapabilities:
        return self._mirrored


def build_bridge(client: Client, changes: Changes) -> Server[Any]:
    """The stdio server forwarding to ``client`` (connected to the endpoint)."""

    def seen(ctx: Context) -> None:
        changes.session = ctx.session

    async def list_tools(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        seen(ctx)
        return await client.list_tools(cursor=params.cursor if params else None)

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        wanted = ctx.meta is not None and ctx.meta.get("progress_token") is not None
        return await client.call_tool(
            params.name,
            dict(params.arguments or {}),
            progress_callback=ctx.session.report_progress if wanted else None,
        )

    async def list_resources(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        seen(ctx)
        return await client.list_resources(cursor=params.cursor if params else None)

    async def list_templates(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        seen(ctx)
        return await client.list_resource_templates(cursor=params.cursor if params else None)

    async def read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await client.read_resource(str(params.uri))

    async def subscribe(ctx: Context, params: types.SubscribeRequestParams) -> types.EmptyResult:
        seen(ctx)
        return await changes.subscribe(str(params.uri), on=True)

    async def unsubscribe(
        ctx: Context, params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        return await changes.subscribe(str(params.uri), on=False)

    async def list_prompts(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        seen(ctx)
        return await client.list_prompts(cursor=params.cursor if params else None)

    async def get_prompt(
        ctx: Context, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        return await client.get_prompt(params.name, params.arguments)

    async def complete(ctx: Context, params: types.CompleteRequestParams) -> types.CompleteResult:
        argument = {"name": params.argument.name, "value": params.argument.value}
        context = params.context.arguments if params.context is not None else None
        return await client.complete(params.ref, argument, context)

    caps = client.server_capabilities
    mirrored = types.ServerCapabilities(
        tools=caps.tools,
        resources=caps.resources,
        prompts=caps.prompts,
        completions=caps.completions,
    )
    return _Bridge(
        mirrored,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
    )


async def serve_bridge(url: str, headers: dict[str, str]) -> None:
    """Serve stdin/stdout until the client closes it, forwarding to ``url``."""
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0))
        )
        client = await stack.enter_async_context(
            Client(streamable_http_client(url, http_client=http), cache=None)
        )
        quiet = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0, read=None))
        )
        listener = await stack.enter_async_context(
            Client(streamable_http_client(url, http_client=quiet), cache=None)
        )
        changes = Changes(listener)
        server = build_bridge(client, changes)
        read, write = await stack.enter_async_context(stdio_server())
        tg: anyio.abc.TaskGroup = await stack.enter_async_context(anyio.create_task_group())
        tg.start_soon(changes.run)
        try:
            await server.run(read, write, server.create_initialization_options())
        finally:
            tg.cancel_scope.cancel()
