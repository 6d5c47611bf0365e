"""The fast path of the MCP endpoint: a plain request answered without the SDK's transport.

The SDK's Streamable HTTP transport serves each POST with a task per request, memory streams
and an SSE response (legacy sessions), or a handler task, a disconnect watcher and a memory
stream (2026-07-28); that machinery was most of the gateway's CPU per call
(docs/benchmarks.md). A POST that is one JSON-RPC request of a method listed below, carrying
no progress token, is handed here by the endpoint after its edge checks (Host, Origin, key,
caller) and answered by the SDK's own kernel (``serve_one``: the same middleware, handlers,
validation and result shaping as the SDK path) with one ``application/json`` body, or an SSE
stream if the handler sends a notification for it (exchange.py).

Everything else goes to the SDK's session manager unchanged (the body read here replayed):
``initialize``, GET, DELETE, notifications, batches, malformed bodies, bad headers (the SDK
answers its own 4xx), unknown or foreign sessions (its 404), progress tokens, and legacy
sessions whose client declared sampling, elicitation or roots (an upstream's request must
reach the client on the call's stream, which only the SDK's session loop can answer).

Fast methods: 2025-11-25 sessions ``tools/call`` and ``ping`` (``tools/list`` keeps the SDK
path: the session's ``list_changed`` subscription needs its SDK session);
2026-07-28 ``tools/call`` and ``tools/list`` (input-required rounds included: they are plain
results). A client that leaves mid-call cancels the handler (and so the upstream call), as
``notifications/cancelled`` for a legacy fast-path call does (its id is tracked here; the SDK
session never saw the request).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

import anyio
import mcp_types as types
from mcp.server.connection import Connection
from mcp.server.runner import modern_error_data, serve_one
from mcp.server.streamable_http import (
    MCP_SESSION_ID_HEADER,
    REQUEST_CANCELLED,
    check_accept_headers,
)
from mcp.shared.inbound import (
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    validate_mcp_param_headers,
)
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_gateway.api.downstream import param_schemas, search_tools
from mcp_gateway.api.downstream.caller import caller_of, is_modern
from mcp_gateway.api.downstream.exchange import Exchange
from mcp_gateway.api.downstream.relay import answers_any
from mcp_gateway.api.downstream.server import GatewayServer
from mcp_gateway.api.downstream.sessions import SessionManager
from mcp_gateway.api.downstream.shared_sessions import SessionFacts, requestor_of

log = logging.getLogger("mcp_gateway.mcp")

LEGACY_METHODS = frozenset({"tools/call", "ping"})
MODERN_METHODS = frozenset({"tools/call", "tools/list"})
_CANCELLED = types.ErrorData(code=REQUEST_CANCELLED, message="Request cancelled")


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` that first hands out the body already read."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _plain(params: Any) -> bool:
    """No progress token: nothing to stream for the request itself."""
    meta = params.get("_meta") if isinstance(params, dict) else None
    return not (isinstance(meta, dict) and meta.get("progressToken") is not None)


class FastPath:
    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._calls: dict[tuple[str, Any], anyio.CancelScope] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send, fallback: ASGIApp) -> None:
        """Serve the POST ``scope`` if it is a plain request, else hand it to ``fallback``."""
        request = Request(scope, receive)
        headers = request.headers
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        modern = is_modern(version)
        facts: SessionFacts | None = None
        if not modern and session_id is not None:
            facts = self._manager.lookup(session_id, requestor_of(scope))
        length = headers.get("content-length", "")
        has_json, has_sse = check_accept_headers(request)
        if (
            (facts is None and not modern)
            or not length.isdigit()
            or int(length) > self._manager.max_request_body_size
            or headers.get("content-type", "").split(";")[0].strip() != "application/json"
            or not (has_json and has_sse)
        ):
            await fallback(scope, receive, send)
            return
        body = await self._body(receive, int(length))
        replay = _replaying(body, receive)
        if facts is not None and session_id is not None:
            # The session may have ended (DELETE, idle timeout) while the body arrived.
            facts = self._manager.lookup(session_id, requestor_of(scope))
            if facts is None:
                await fallback(scope, replay, send)
                return
        decoded, message = self._request(body, modern, facts)
        if message is None or len(body) > self._manager.max_request_body_size:
            if facts is not None and session_id is not None:
                self._cancel_named(session_id, body)
            lookup = getattr(self._manager.app, "input_schema", None) if modern else None
            with await param_schemas.prepared(lookup, request, decoded):  # no listing per call
                await fallback(scope, replay, send)
            return
        if modern:
            route = classify_inbound_request(decoded, headers=dict(headers))
            if (
                isinstance(route, InboundLadderRejection)
                or find_duplicated_routing_header(headers.items()) is not None
                or await self._param_check_fails(request, message)
            ):
                await fallback(scope, replay, send)  # the SDK answers these itself
                return
            connection = Connection.from_envelope(
                route.protocol_version, route.client_info, route.client_capabilities
            )
        else:
            assert facts is not None and session_id is not None
            connection = _legacy_connection(facts, session_id)
        exchange = Exchange(
            transport=TransportContext(
                kind="streamable-http", can_send_request=False, headers=headers
            ),
            request_id=message.id,
            message_metadata=ServerMessageMetadata(request_context=request),
            send_http=send,
            legacy=not modern,
            session_id=None if modern else session_id,
        )
        held = self._manager.holding(session_id) if session_id and not modern else nullcontext()
        with held:
            await self._serve(exchange, message, connection, receive, session_id)

    async def _param_check_fails(self, request: Request, message: types.JSONRPCRequest) -> bool:
        """Whether a 2026-07-28 ``tools/call`` fails the SDK's ``Mcp-Param-*`` header check,
        made against the schema the caller's ``tools/list`` shows (the SDK path, which then
        answers it, runs one whole listing per call for it). Fail-open as the SDK's: header
        validation never breaks a working call."""
        app = self._manager.app
        lookup = app.input_schema if isinstance(app, GatewayServer) else None
        if lookup is None:
            return _param_headers_to_check(message, request.headers)  # the SDK checks them
        params = message.params or {}
        name, arguments = params.get("name"), params.get("arguments")
        if message.method != "tools/call" or not isinstance(name, str):
            return False
        if arguments is not None and not isinstance(arguments, Mapping):
            return False
        headers = request.headers
        if not arguments and not any(h.startswith("mcp-param-") for h in headers):
            return False
        try:
            mode = search_tools.requested_mode(request.scope)
            schema = await lookup(caller_of(request.scope), mode, name)
        except Exception:
            log.info("Mcp-Param header validation skipped: the listing failed", exc_info=True)
            return False
        if schema is None:
            return False
        return validate_mcp_param_headers(schema, arguments or {}, headers) is not None

    async def _body(self, receive: Receive, length: int) -> bytes:
        body = bytearray()
        while True:
            part = await receive()
            if part["type"] != "http.request":
                break
            body.extend(part.get("body", b""))
            if not part.get("more_body", False) or len(body) > length:
                break
        return bytes(body)

    def _request(
        self, body: bytes, modern: bool, facts: SessionFacts | None
    ) -> tuple[dict[str, Any], types.JSONRPCRequest | None]:
        """The decoded body, and the request in it if the fast path serves it."""
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError):
            return {}, None
        if not isinstance(decoded, dict) or "id" not in decoded:
            return {}, None
        methods = MODERN_METHODS if modern else LEGACY_METHODS
        params = decoded.get("params")
        if decoded.get("method") not in methods or not _plain(params):
            return decoded, None
        if facts is not None:
            meta = params.get("_meta") if isinstance(params, dict) else None
            if answers_any(facts.capabilities) or (
                isinstance(meta, dict) and types.PROTOCOL_VERSION_META_KEY in meta
            ):
                return decoded, None
        try:
            return decoded, types.JSONRPCRequest.model_validate(decoded, by_name=False)
        except ValidationError:
            return decoded, None

    async def _serve(
        self,
        exchange: Exchange,
        message: types.JSONRPCRequest,
        connection: Connection,
        receive: Receive,
        session_id: str | None,
    ) -> None:
        key = (session_id, message.id) if exchange.legacy and session_id else None
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_disconnect, receive, tg.cancel_scope)
            with anyio.CancelScope() as call:
                if key is not None:
                    self._calls[key] = call
                try:
                    result = await serve_one(
                        self._manager.app,
                        exchange,
                        message.method,
                        message.params,
                        connection=connection,
                        lifespan_state=self._manager.lifespan_state,
                    )
                except Exception as exc:
                    await exchange.fail(_error(exc, exchange.legacy))
                else:
                    await exchange.answer(result)
                finally:
                    if key is not None and self._calls.get(key) is call:
                        del self._calls[key]
            if call.cancelled_caught:  # the client's notifications/cancelled
                await exchange.fail(_CANCELLED)
            tg.cancel_scope.cancel()

    def _cancel_named(self, session_id: str, body: bytes) -> None:
        """A legacy ``notifications/cancelled`` naming a fast-path call cancels it (the SDK
        session, which also gets it, does not know that request)."""
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError):
            return
        if not isinstance(decoded, dict) or decoded.get("method") != "notifications/cancelled":
            return
        params = decoded.get("params")
        request_id = params.get("requestId") if isinstance(params, dict) else None
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            call = self._calls.get((session_id, request_id))
            if call is not None:
                call.cancel()


def _param_headers_to_check(message: types.JSONRPCRequest, headers: Mapping[str, str]) -> bool:
    """Whether the SDK's ``Mcp-Param-*`` check of a 2026-07-28 ``tools/call`` has anything to
    compare (arguments or such headers): the SDK path runs it."""
    if message.method != "tools/call":
        return False
    params = message.params or {}
    return bool(params.get("arguments")) or any(h.startswith("mcp-param-") for h in headers)


def _legacy_connection(facts: SessionFacts, session_id: str) -> Connection:
    """A born-ready connection with what the session's ``initialize`` negotiated."""
    connection = Connection.from_envelope(facts.protocol_version, None, None)
    connection.session_id = session_id
    if facts.client_info is not None:
        connection.client_params = types.InitializeRequestParams(
            protocol_version=facts.protocol_version,
            capabilities=facts.capabilities or types.ClientCapabilities(),
            client_info=facts.client_info,
        )
    else:
        connection.client_capabilities = facts.capabilities
    return connection


def _error(exc: Exception, legacy: bool) -> types.ErrorData:
    """A handler's exception as each era's SDK path maps it."""
    if not legacy:
        return modern_error_data(exc)
    error = handler_exception_to_error_data(exc)
    if error is None:
        log.exception("MCP handler raised")
        error = types.ErrorData(code=0, message=str(exc))  # the SDK's legacy dispatcher's
    return error


async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
