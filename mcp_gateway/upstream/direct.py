"""A plain ``tools/call`` on a Streamable HTTP upstream session, without the SDK's client
machinery.

The SDK's client sends each request through its dispatcher, a memory stream, a writer task
and a task per POST, validates every message with pydantic, and closes each call's SSE
response as soon as the result arrives, so the next call opens a new TCP connection. That
was the largest share of the gateway's CPU per call (docs/benchmarks.md, "/mcp fast path").
Here the caller's own task POSTs the request on the session's own HTTP client (same headers,
auth, SSRF guard, body caps and response hooks: upstream/http_connect.py), reads the JSON
body or SSE stream to its end so the connection is reused, and returns the raw result.

What is wire-identical to the SDK's path: the envelope (the session's ``_stamp``, so a
2026-07-28 request declares the caller's capabilities: upstream/eras.py), the headers, the
traceparent, redirects (followed only within the origin), the errors it raises (MCPError
with the SDK's codes and messages, httpx2 errors, ValidationError for a malformed result),
the courtesy ``notifications/cancelled`` of a legacy call abandoned by timeout or
cancellation (2026-07-28: closing the stream is the signal), and what the upstream sends on
the call's stream: log messages and server-to-client requests go to the session's callbacks
in this task (so to this call's relay: upstream/relay.py), their answers are POSTed back,
list-change notices go to the session's message handler; a stream the upstream closes before
the answer (SEP-1699 polling) is resumed with ``GET`` + ``Last-Event-ID`` after its ``retry``
(at most twice without progress, as the SDK's client).

Not served here (the caller uses the SDK): progress (the SDK's progress-token bookkeeping),
and everything that is not ``tools/call``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp.client.session import ClientRequestContext, ClientSession, MessageHandlerFnT
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from mcp_gateway.observability import tracing
from mcp_gateway.upstream.limits import too_large_error
from mcp_gateway.upstream.sdk import (
    CappedStreamableHTTPTransport,
    inject_trace_context,
    later_revision_fields,
    request_headers,
    stream_within_origin,
    unfollowed_redirect,
)

JSON = "application/json"
SSE = "text/event-stream"
# Ids the SDK's dispatcher (counting up from 0 on the same session) never reaches.
_IDS = itertools.count(1 << 40)
_ABANDON_WRITE_TIMEOUT = 2.0  # the SDK dispatcher's bound on a courtesy cancel
# How long a call's stream may stay open after its answer before it is closed unread (and its
# connection with it). Servers end it with the answer (the end usually arrives in the same
# packet); one that keeps it open costs the caller this much per call, and a new connection.
_DRAIN = 0.05
_SSE_TOO_LARGE = "byte limit"

_MAX_RESUMES = 2  # the SDK client's MAX_RECONNECTION_ATTEMPTS

LogFn = Callable[[types.LoggingMessageNotificationParams], Awaitable[None]]


@dataclass(slots=True)
class _Cursor:
    """Where a call's stream got to: its last event id and the server's retry (ms)."""

    last_id: str | None = None
    retry_ms: int | None = None


@dataclass(eq=False, slots=True)
class DirectCalls:
    """``tools/call`` on one Streamable HTTP upstream session (module docstring)."""

    client: httpx2.AsyncClient
    transport: CappedStreamableHTTPTransport
    session: ClientSession
    handler: MessageHandlerFnT  # the session's notification handler (upstream/session.py)
    log: LogFn  # the session's logging callback (upstream/relay.py)

    async def call_tool(self, params: dict[str, Any], read_timeout: float) -> dict[str, Any]:
        """The raw result of ``tools/call`` with ``params``. Raises what the SDK's
        ``send_request`` raises (MCPError, httpx2 errors)."""
        data: dict[str, Any] = {"method": "tools/call", "params": params}
        headers = request_headers(self.session, self.transport, data)
        if tracing.enabled():
            inject_trace_context(data["params"].setdefault("_meta", {}))
        request_id = next(_IDS)
        body = _dumps({"jsonrpc": "2.0", "id": request_id, **data})
        modern = types.PROTOCOL_VERSION_META_KEY in (data["params"].get("_meta") or {})
        try:
            with anyio.fail_after(read_timeout):
                raw = await self._exchange(body, headers, request_id)
        except TimeoutError:
            await self._abandon(request_id, f"timed out after {read_timeout}s", modern)
            raise MCPError(types.REQUEST_TIMEOUT, "Request 'tools/call' timed out") from None
        except anyio.get_cancelled_exc_class():
            await self._abandon(request_id, "cancelled", modern)
            raise
        version = self.session.protocol_version or "2025-11-25"
        foreign = later_revision_fields("tools/call", version)
        if not foreign.isdisjoint(raw):
            raw = {key: value for key, value in raw.items() if key not in foreign}
        return raw

    async def _exchange(
        self, body: bytes, headers: dict[str, str], request_id: int
    ) -> dict[str, Any]:
        async with stream_within_origin(
            self.client, "POST", self.transport.url, content=body, headers=headers
        ) as response:
            status = response.status_code
            if status == 202:
                raise MCPError(types.INVALID_REQUEST, "server answered a request with 202 Accepted")
            if (redirect := unfollowed_redirect(response)) is not None:
                raise MCPError(types.INVALID_REQUEST, redirect)
            content_type = response.headers.get("content-type", "").lower()
            if status >= 400:
                raise await self._http_error(response, content_type)
            if content_type.startswith(JSON):
                message = await self._json_body(response, request_id)
            elif content_type.startswith(SSE):
                message = await self._sse(response, request_id)
            else:
                raise MCPError(types.INVALID_REQUEST, f"Unexpected content type: {content_type}")
        return _result(message)

    async def _http_error(self, response: httpx2.Response, content_type: str) -> MCPError:
        """The SDK's reading of a non-2xx answer: the JSON-RPC error in its body, else a
        stand-in from the status."""
        if content_type.startswith(JSON):
            try:
                parsed = json.loads(await response.aread())
                error = parsed.get("error") if isinstance(parsed, dict) else None
                if isinstance(error, dict):
                    return _mcp_error(error)
            except (httpx2.StreamError, ValueError, ValidationError):
                pass
        if response.status_code == 404:
            if self.transport.session_id is None:
                return MCPError(types.METHOD_NOT_FOUND, "Not Found")
            return MCPError(types.INVALID_REQUEST, "Session terminated")
        return MCPError(types.INTERNAL_ERROR, "Server returned an error response")

    async def _json_body(self, response: httpx2.Response, request_id: int) -> dict[str, Any]:
        limit = self.transport.max_message_bytes
        declared = response.headers.get("content-length", "")
        parts: list[bytes] = []
        size = 0
        too_large = declared.isdigit() and int(declared) > limit
        try:
            if not too_large:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        too_large = True
                        break
                    parts.append(chunk)
        except httpx2.StreamError:  # http_connect.CappedBodies: the wire bytes passed the cap
            too_large = True
        if too_large:
            raise MCPError.from_jsonrpc_error(too_large_error(request_id, limit))
        return _message(b"".join(parts), "invalid JSON-RPC response")

    async def _sse(self, response: httpx2.Response, request_id: int) -> dict[str, Any]:
        """The call's answer from its stream; a stream that ends without one is resumed
        with ``Last-Event-ID`` (SEP-1699) as the SDK's client does, if it carried ids."""
        cursor = _Cursor()
        answer = await self._read_sse(response, request_id, cursor)
        attempts = 0
        while answer is None:
            if cursor.last_id is None or attempts >= _MAX_RESUMES:
                raise MCPError(types.CONNECTION_CLOSED, "SSE stream ended without a response")
            attempts += 1
            await anyio.sleep((cursor.retry_ms if cursor.retry_ms is not None else 1000) / 1000)
            headers = request_headers(self.session, self.transport, None)
            headers["last-event-id"] = before = cursor.last_id
            async with stream_within_origin(
                self.client, "GET", self.transport.url, headers=headers
            ) as resumed:
                content_type = resumed.headers.get("content-type", "").lower()
                if resumed.status_code >= 400 or not content_type.startswith(SSE):
                    raise MCPError(types.CONNECTION_CLOSED, "SSE stream ended without a response")
                answer = await self._read_sse(resumed, request_id, cursor)
            if cursor.last_id != before:
                attempts = 0  # it went on: another break is a new one
        return answer

    async def _read_sse(
        self, response: httpx2.Response, request_id: int, cursor: _Cursor
    ) -> dict[str, Any] | None:
        """Read one stream of the call: what comes before the answer goes where the SDK
        sends it; after the answer, the rest of the stream is read (briefly) so the
        connection is kept. None: it ended without the answer."""
        source = httpx2.EventSource(response, max_event_size=self.transport.max_sse_event_size)
        events = aiter(source)  # one iterator: the drain below goes on where the loop stopped
        answer: dict[str, Any] | None = None
        try:
            async for sse in events:
                if sse.id:
                    cursor.last_id = sse.id
                if sse.retry is not None:
                    cursor.retry_ms = sse.retry
                if sse.event != "message" or not sse.data:
                    continue
                message = _message(sse.data.encode(), "Failed to parse SSE message")
                if "method" not in message:  # the SDK takes any answer here as the call's
                    answer = message
                    break
                await self._incoming(message)
            if answer is not None:
                with anyio.move_on_after(_DRAIN):  # else closed unread: a new connection next
                    async for _ in events:
                        pass
        except httpx2.SSEError as exc:
            if answer is not None:
                return answer
            if _SSE_TOO_LARGE in str(exc):
                limit = self.transport.max_message_bytes
                raise MCPError.from_jsonrpc_error(too_large_error(request_id, limit)) from exc
            raise MCPError(types.CONNECTION_CLOSED, f"SSE stream failed: {exc}") from exc
        return answer

    async def _incoming(self, message: dict[str, Any]) -> None:
        """A notification or server-to-client request the upstream sent on the call's
        stream: the session's callbacks and handler get it in this task, as the SDK's
        transport reads it in the sender's context."""
        if "id" not in message:
            try:
                notification = types.server_notification_adapter.validate_python(
                    message, by_name=False
                )
            except ValidationError:
                return  # the SDK drops an unparsable notification too
            if isinstance(notification, types.LoggingMessageNotification):
                await self.log(notification.params)
            elif not isinstance(notification, types.ProgressNotification):
                await self.handler(notification)
            return
        request_id = message["id"]
        try:
            request = types.server_request_adapter.validate_python(message, by_name=False)
        except ValidationError:
            error = types.ErrorData(code=types.INVALID_PARAMS, message="Invalid request")
            await self._reply(request_id, None, error)
            return
        if isinstance(request, types.PingRequest):
            await self._reply(request_id, {}, None)
            return
        context = ClientRequestContext(session=self.session, request_id=request_id)
        answer = await self.session.dispatch_input_request(context, request)
        if isinstance(answer, types.ErrorData):
            await self._reply(request_id, None, answer)
        else:
            result = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
            await self._reply(request_id, result, None)

    async def _reply(
        self, request_id: Any, result: dict[str, Any] | None, error: types.ErrorData | None
    ) -> None:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if error is not None:
            reply["error"] = error.model_dump(by_alias=True, mode="json", exclude_none=True)
        else:
            reply["result"] = result
        await self._post(_dumps(reply))

    async def _abandon(self, request_id: int, reason: str, modern: bool) -> None:
        """The SDK's courtesy cancel of an abandoned legacy request (2026-07-28: the closed
        stream said it). Best effort, bounded, shielded from the cancellation it reports."""
        if modern:
            return
        note = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": reason},
        }
        with anyio.move_on_after(_ABANDON_WRITE_TIMEOUT, shield=True):
            try:
                await self._post(_dumps(note))
            except (httpx2.HTTPError, OSError, MCPError):
                pass

    async def _post(self, body: bytes) -> None:
        """A response or notification to the upstream (answered 202)."""
        headers = request_headers(self.session, self.transport, None)
        async with stream_within_origin(
            self.client, "POST", self.transport.url, content=body, headers=headers
        ) as response:
            await response.aread()


def _dumps(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def _message(data: bytes, problem: str) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        message = None
    if not isinstance(message, dict):
        raise MCPError(types.PARSE_ERROR, problem)
    return message


def _mcp_error(error: dict[str, Any]) -> MCPError:
    parsed = types.ErrorData.model_validate(error, by_name=False)
    return MCPError(parsed.code, parsed.message, parsed.data)


def _result(message: dict[str, Any]) -> dict[str, Any]:
    error = message.get("error")
    if isinstance(error, dict):
        try:
            raise _mcp_error(error)
        except ValidationError:
            raise MCPError(types.PARSE_ERROR, "invalid JSON-RPC response") from None
    result = message.get("result")
    if not isinstance(result, dict):
        raise MCPError(types.PARSE_ERROR, "invalid JSON-RPC response")
    return result
