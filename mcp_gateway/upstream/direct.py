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
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp.client.session import ClientSession, MessageHandlerFnT
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from mcp_gateway.observability import tracing
from mcp_gateway.upstream.direct_stream import SSE, CallStream, parse_message
from mcp_gateway.upstream.limits import too_large_error
from mcp_gateway.upstream.sdk import (
    CappedStreamableHTTPTransport,
    capped_body,
    inject_trace_context,
    later_revision_fields,
    request_headers,
    stream_within_origin,
    unfollowed_redirect,
)

JSON = "application/json"
# Above the SDK dispatcher's ids (counting up from 0 on the same session), and from a random
# start per process: replicas resuming one upstream session never send the same id at once.
_IDS = itertools.count((1 << 40) + secrets.randbits(48))
_ABANDON_WRITE_TIMEOUT = 5.0  # the SDK dispatcher's bound on a courtesy cancel
_CLOSED = "Connection closed"

LogFn = Callable[[types.LoggingMessageNotificationParams], Awaitable[None]]


@dataclass(eq=False, slots=True)
class DirectCalls:
    """``tools/call`` on one Streamable HTTP upstream session (module docstring)."""

    client: httpx2.AsyncClient
    transport: CappedStreamableHTTPTransport
    session: ClientSession
    handler: MessageHandlerFnT  # the session's notification handler (upstream/session.py)
    log: LogFn  # the session's logging callback (upstream/relay.py)
    # The session's connection is gone (it could not connect): the owner restarts it, as
    # when the SDK transport's writer died of the same error.
    dead: Callable[[], None] = lambda: None

    async def call_tool(self, params: dict[str, Any], read_timeout: float) -> dict[str, Any]:
        """The raw result of ``tools/call`` with ``params``. Raises what the SDK's
        ``send_request`` raises (MCPError, httpx2 errors)."""
        if self.client.is_closed:  # replaced meanwhile (a 404 on another call): retried
            raise MCPError(types.CONNECTION_CLOSED, _CLOSED)
        data: dict[str, Any] = {"method": "tools/call", "params": params}
        headers = request_headers(self.session, self.transport, data)
        if tracing.enabled():
            inject_trace_context(data["params"].setdefault("_meta", {}))
        request_id = next(_IDS)
        body = _dumps({"jsonrpc": "2.0", "id": request_id, **data})
        modern = types.PROTOCOL_VERSION_META_KEY in (data["params"].get("_meta") or {})
        seen: list[CallStream] = []
        try:
            with anyio.fail_after(read_timeout):
                message = await self._exchange(body, headers, request_id, seen)
        except TimeoutError:
            if seen and seen[0].answer is not None:  # it came; only the drain ran out
                message = seen[0].answer
            else:
                await self._abandon(request_id, f"timed out after {read_timeout}s", modern)
                raise MCPError(types.REQUEST_TIMEOUT, "Request 'tools/call' timed out") from None
        except anyio.get_cancelled_exc_class():
            await self._abandon(request_id, "cancelled", modern)
            raise
        except (httpx2.ConnectError, httpx2.ConnectTimeout):
            self.dead()
            raise
        except RuntimeError as exc:  # httpx2: "the client has been closed" (a race with the above)
            if not self.client.is_closed:
                raise
            raise MCPError(types.CONNECTION_CLOSED, _CLOSED) from exc
        raw = _result(message)
        version = self.session.protocol_version or "2025-11-25"
        foreign = later_revision_fields("tools/call", version)
        if not foreign.isdisjoint(raw):
            raw = {key: value for key, value in raw.items() if key not in foreign}
        return raw

    async def _exchange(
        self, body: bytes, headers: dict[str, str], request_id: int, seen: list[CallStream]
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
                return await self._json_body(response, request_id)
            if not content_type.startswith(SSE):
                raise MCPError(types.INVALID_REQUEST, f"Unexpected content type: {content_type}")
            failed: Exception | None = None
            async with anyio.create_task_group() as tasks:  # the upstream's requests meanwhile
                stream = CallStream(self, request_id, tasks)
                seen.append(stream)
                try:
                    message = await stream.read(response)
                except Exception as exc:  # raised out of here, not wrapped in the group's
                    failed = exc
                tasks.cancel_scope.cancel()  # answered (or failed): what it still asked is moot
            if failed is not None:
                raise failed
            return message

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
        body = await capped_body(response, limit)
        if body is None:
            raise MCPError.from_jsonrpc_error(too_large_error(request_id, limit))
        return parse_message(body, "invalid JSON-RPC response")

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
                await self.post(note)
            except (httpx2.HTTPError, OSError, MCPError, RuntimeError):
                pass

    async def post(self, message: dict[str, Any]) -> None:
        """A response or notification to the upstream (answered 202)."""
        headers = request_headers(self.session, self.transport, None)
        async with stream_within_origin(
            self.client, "POST", self.transport.url, content=_dumps(message), headers=headers
        ) as response:
            await response.aread()


def _dumps(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


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
