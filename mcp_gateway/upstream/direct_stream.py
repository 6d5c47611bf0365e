"""One direct call's SSE stream (upstream/direct.py): the answer, and what comes before it.

What the upstream sends on the call's stream before the answer goes where the SDK's client
sends it, in the caller's context (so to that call's relay: upstream/relay.py): log messages
to the session's logging callback, list-change notices to its message handler, and each
server-to-client request (sampling, elicitation, roots, ping) to the session's callbacks in a
task of its own, its answer POSTed back. Requests run concurrently with the reading, so the
upstream can withdraw one (``notifications/cancelled``: the callback is interrupted and
nothing is answered, as the SDK does) and still answer the call. A callback that fails is
answered as a JSON-RPC error and the call goes on; a failing log or notice handler is logged.

A stream that ends (or breaks) without the answer after carrying event ids is resumed with
``GET`` + ``Last-Event-ID`` after the server's ``retry`` (SEP-1699 polling), at most twice in a
row without progress, as the SDK's client. After the answer the rest of the stream is read
for at most :data:`DRAIN` seconds so the connection can be kept; an error there costs only
the connection, never the answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import anyio
import httpx2
import mcp_types as types
from anyio.abc import TaskGroup
from mcp.client.session import ClientRequestContext, ClientSession, MessageHandlerFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data
from pydantic import ValidationError

from mcp_gateway.upstream.limits import too_large_error
from mcp_gateway.upstream.sdk import (
    CappedStreamableHTTPTransport,
    request_headers,
    stream_within_origin,
)

logger = logging.getLogger(__name__)

SSE = "text/event-stream"
# How long a call's stream may stay open after its answer before it is closed unread (and its
# connection with it). Servers end it with the answer (the end usually arrives in the same
# packet); one that keeps it open costs the caller this much per call, and a new connection.
DRAIN = 0.05
MAX_RESUMES = 2  # the SDK client's MAX_RECONNECTION_ATTEMPTS
_SSE_TOO_LARGE = "byte limit"  # httpx2.SSEError: "Server-sent event exceeded the N byte limit."
_SERVER_REQUESTS = frozenset({"ping", "sampling/createMessage", "elicitation/create", "roots/list"})
_COULD_NOT_ANSWER = "the client could not answer the request"


class Peer(Protocol):
    """What a call's stream needs of its DirectCalls."""

    @property
    def client(self) -> httpx2.AsyncClient: ...
    @property
    def transport(self) -> CappedStreamableHTTPTransport: ...
    @property
    def session(self) -> ClientSession: ...
    @property
    def handler(self) -> MessageHandlerFnT: ...
    @property
    def log(self) -> Callable[[types.LoggingMessageNotificationParams], Awaitable[None]]: ...

    async def post(self, message: dict[str, Any]) -> None: ...


@dataclass(eq=False, slots=True)
class CallStream:
    """Reads the stream(s) of one call until its answer (module docstring). ``answer`` is set
    the moment the answer arrives, before the drain: a deadline that expires during the
    drain does not lose it (direct.py)."""

    peer: Peer
    request_id: int
    tasks: TaskGroup
    answer: dict[str, Any] | None = None
    last_id: str | None = None
    retry_ms: int | None = None
    _requests: dict[Any, anyio.CancelScope] = field(default_factory=dict)

    async def read(self, response: httpx2.Response) -> dict[str, Any]:
        """The answer: from ``response``, or from the streams resuming it."""
        await self._read(response)
        attempts = 0
        while self.answer is None:
            if self.last_id is None or attempts >= MAX_RESUMES:
                raise MCPError(types.CONNECTION_CLOSED, "SSE stream ended without a response")
            attempts += 1
            await anyio.sleep((self.retry_ms if self.retry_ms is not None else 1000) / 1000)
            headers = request_headers(self.peer.session, self.peer.transport, None)
            headers["last-event-id"] = before = self.last_id
            async with stream_within_origin(
                self.peer.client, "GET", self.peer.transport.url, headers=headers
            ) as resumed:
                content_type = resumed.headers.get("content-type", "").lower()
                if resumed.status_code >= 400 or not content_type.startswith(SSE):
                    raise MCPError(types.CONNECTION_CLOSED, "SSE stream ended without a response")
                await self._read(resumed)
            if self.last_id != before:
                attempts = 0  # it went on: another break is a new one
        return self.answer

    async def _read(self, response: httpx2.Response) -> None:
        source = httpx2.EventSource(response, max_event_size=self.peer.transport.max_sse_event_size)
        # One iterator (the drain goes on where the loop stopped), an async generator: closed.
        events = cast(AsyncGenerator[httpx2.ServerSentEvent], aiter(source))
        async with aclosing(events):
            try:
                async for sse in events:
                    if await self._event(sse):
                        break
            except httpx2.SSEError as exc:
                if _SSE_TOO_LARGE in str(exc):
                    limit = self.peer.transport.max_message_bytes
                    raise MCPError.from_jsonrpc_error(
                        too_large_error(self.request_id, limit)
                    ) from exc
                raise MCPError(types.CONNECTION_CLOSED, f"SSE stream failed: {exc}") from exc
            except (httpx2.TransportError, OSError):
                if self.last_id is None:
                    raise
                return  # broken after an event id: resumed by read()
            if self.answer is not None:
                # Else closed unread: a new connection next. Nothing here can cost the answer.
                with anyio.move_on_after(DRAIN), suppress(httpx2.HTTPError, OSError):
                    async for _ in events:
                        pass

    async def _event(self, sse: httpx2.ServerSentEvent) -> bool:
        """Handle one event; True once it was the answer."""
        if sse.id:
            self.last_id = sse.id
        if sse.retry is not None:
            self.retry_ms = sse.retry
        if sse.event != "message" or not sse.data:
            return False
        message = parse_message(sse.data.encode(), "Failed to parse SSE message")
        if "method" not in message:  # the SDK takes any answer on the stream as the call's
            self.answer = message
            return True
        if "id" in message:
            scope = anyio.CancelScope()
            self._requests[message["id"]] = scope
            self.tasks.start_soon(self._answer, message, scope)
        elif message["method"] == "notifications/cancelled":
            params = message.get("params")
            withdrawn = params.get("requestId") if isinstance(params, dict) else None
            if (running := self._requests.get(withdrawn)) is not None:
                running.cancel()
        else:
            await self._notice(message)
        return False

    async def _notice(self, message: dict[str, Any]) -> None:
        try:
            notification = types.server_notification_adapter.validate_python(message, by_name=False)
        except ValidationError:
            return  # the SDK drops an unparsable notification too
        try:
            if isinstance(notification, types.LoggingMessageNotification):
                await self.peer.log(notification.params)
            elif not isinstance(notification, types.ProgressNotification):
                await self.peer.handler(notification)
        except Exception:  # a notice costs only its own delivery, as in the SDK
            logger.exception("handling an upstream %s failed", notification.method)

    async def _answer(self, message: dict[str, Any], scope: anyio.CancelScope) -> None:
        request_id = message["id"]
        try:
            with scope:
                result, error = await self._respond(message)
            if scope.cancelled_caught:
                return  # the upstream withdrew it: nothing is answered
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
            if error is not None:
                reply["error"] = error.model_dump(by_alias=True, mode="json", exclude_none=True)
            else:
                reply["result"] = result
            await self.peer.post(reply)
        except (httpx2.HTTPError, OSError, MCPError) as exc:
            logger.info("could not answer an upstream request (%s)", type(exc).__name__)
        finally:
            if self._requests.get(request_id) is scope:
                del self._requests[request_id]

    async def _respond(
        self, message: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, types.ErrorData | None]:
        method = message.get("method")
        if method not in _SERVER_REQUESTS:
            return None, types.ErrorData(
                code=types.METHOD_NOT_FOUND, message="Method not found", data=method
            )
        try:
            request = types.server_request_adapter.validate_python(message, by_name=False)
        except ValidationError:
            error = types.ErrorData(code=types.INVALID_PARAMS, message="Invalid request parameters")
            return None, error
        if isinstance(request, types.PingRequest):
            return {}, None
        context = ClientRequestContext(session=self.peer.session, request_id=message["id"])
        try:
            answer = await self.peer.session.dispatch_input_request(context, request)
        except Exception as exc:  # the client side failed: the upstream hears it, the call goes on
            mapped = handler_exception_to_error_data(exc)
            if mapped is None:
                logger.info("answering an upstream %s failed (%s)", method, type(exc).__name__)
                mapped = types.ErrorData(code=types.INTERNAL_ERROR, message=_COULD_NOT_ANSWER)
            return None, mapped
        if isinstance(answer, types.ErrorData):
            return None, answer
        return answer.model_dump(by_alias=True, mode="json", exclude_none=True), None


def parse_message(data: bytes, problem: str) -> dict[str, Any]:
    """One JSON-RPC message as a dict; MCPError(PARSE_ERROR, ``problem``) otherwise."""
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        message = None
    if not isinstance(message, dict):
        raise MCPError(types.PARSE_ERROR, problem)
    return message
