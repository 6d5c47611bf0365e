"""The one place that reaches into the MCP SDK's private or internal API.

Each import below is not part of the SDK's documented surface and may change in a minor
release; keeping them here makes an SDK upgrade a one-file review. Why each is needed:

- ``mcp.client._transport.ReadStream`` / ``WriteStream``: the protocol types a ``ClientSession``
  is typed against (our :class:`~mcp_gateway.upstream.streams.Streams` holds them).
- ``mcp.shared._context_streams.create_context_streams``: the SDK's Streamable HTTP writer
  runs each request in its sender's ``contextvars`` context, which only these streams carry.
- ``mcp.client.streamable_http.StreamableHTTPTransport``: public name, but we drive its
  internals (``post_writer``, ``handle_get_stream``, ``session_id``, ``terminate_session``)
  because ``streamable_http_client`` cannot be seeded with a stored session id.
- ``StreamableHTTPTransport._handle_json_response``: overridden below to stream a JSON body
  with the gateway's size cap instead of reading it whole (the SDK has no hook or limit for it).
- ``mcp.client._input_required.run_input_required_driver``: the SDK's 2026-07-28
  multi-round-trip loop (a ``tools/call`` answered ``input_required``), which ``Client`` uses
  and ``ClientSession`` does not expose (upstream/relay.py drives the pool's calls with it).
- ``StreamableHTTPTransport._resolve_abandoned_request``: overridden to turn the SDK's
  "SSE event too large" abandonment into the gateway's own too-large error.
- ``ClientSession._stamp``: the per-request ``_meta`` envelope of a 2026-07-28 session, which
  always declares the session's own capabilities; :func:`stamp_caller_meta` wraps it so that
  a request relayed for a 2026-07-28 caller declares the caller's (upstream/eras.py).
  :func:`request_headers` runs it (and ``StreamableHTTPTransport._prepare_headers``) for a
  request the gateway POSTs itself (upstream/direct.py), with these helpers of the SDK's own
  POST: ``mcp.shared._httpx_utils.stream_within_origin`` (redirects only within the origin),
  ``mcp.client.streamable_http._unfollowed_redirect``, ``mcp.shared._otel.inject_trace_context``
  and ``mcp.client.session._later_revision_fields`` (a newer revision's result keys dropped).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import anyio
import httpx2
from mcp.client._input_required import run_input_required_driver
from mcp.client._transport import ReadStream, WriteStream
from mcp.client.session import ClientSession, _later_revision_fields
from mcp.client.streamable_http import MCP_SESSION_ID, StreamableHTTPTransport
from mcp.client.streamable_http import _unfollowed_redirect as unfollowed_redirect
from mcp.shared._context_streams import (
    ContextSendStream,
    create_context_streams,
)
from mcp.shared._httpx_utils import stream_within_origin
from mcp.shared._otel import inject_trace_context
from mcp.shared.message import SessionMessage
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CONNECTION_CLOSED,
    LOG_LEVEL_META_KEY,
    ErrorData,
    JSONRPCError,
    RequestId,
)
from mcp_types import jsonrpc_message_adapter as _adapter
from pydantic import ValidationError

from mcp_gateway.upstream.limits import too_large_error

__all__ = [
    "MCP_SESSION_ID",
    "CappedStreamableHTTPTransport",
    "capped_body",
    "ReadStream",
    "WriteStream",
    "create_context_streams",
    "inject_trace_context",
    "later_revision_fields",
    "request_headers",
    "stream_within_origin",
    "unfollowed_redirect",
    "run_input_required_driver",
    "stamp_caller_meta",
]

_SSE_TOO_LARGE = "byte limit"  # httpx2.SSEError: "Server-sent event exceeded the N byte limit."


@functools.cache
def later_revision_fields(method: str, version: str) -> frozenset[str]:
    """Result keys a newer revision than ``version`` adds to ``method`` (the SDK drops them
    from a result; it recomputes them per request, the direct path once per pair)."""
    return _later_revision_fields(method, version)


async def capped_body(response: httpx2.Response, limit: int) -> bytes | None:
    """A JSON body read whole, or None once it passes ``limit`` bytes (read no further)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():  # decoded bytes: no gzip bomb
            size += len(chunk)
            if size > limit:
                return None
            parts.append(chunk)
    except httpx2.StreamError:  # http_connect.CappedBodies: the wire bytes passed the cap
        return None
    return b"".join(parts)


class CappedStreamableHTTPTransport(StreamableHTTPTransport):
    """The SDK's transport with one cap, ``max_message_bytes``, on JSON bodies and SSE events."""

    def __init__(self, url: str, *, max_message_bytes: int) -> None:
        super().__init__(url, max_sse_event_size=max_message_bytes)
        self.max_message_bytes = max_message_bytes

    async def _handle_json_response(
        self,
        response: httpx2.Response,
        read_stream_writer: ContextSendStream[SessionMessage | Exception],
        *,
        request_id: RequestId,
    ) -> None:
        limit = self.max_message_bytes
        body = await capped_body(response, limit)
        if body is None:
            await response.aclose()  # drop the rest unread
            await read_stream_writer.send(SessionMessage(too_large_error(request_id, limit)))
            return
        try:
            message = _adapter.validate_json(body, by_name=False)
        except ValidationError as exc:
            count = exc.error_count()
            error = ErrorData(code=-32700, message=f"invalid JSON-RPC response ({count} errors)")
            reply = JSONRPCError(jsonrpc="2.0", id=request_id, error=error)
            await read_stream_writer.send(SessionMessage(reply))
            return
        await read_stream_writer.send(SessionMessage(message))

    async def _resolve_abandoned_request(
        self,
        read_stream_writer: ContextSendStream[SessionMessage | Exception],
        request_id: RequestId,
        message: str,
        *,
        code: int = CONNECTION_CLOSED,
    ) -> None:
        # The SDK reports an oversized SSE event only as this text; no typed signal exists.
        if message.startswith("SSE stream failed") and _SSE_TOO_LARGE in message:
            reply = too_large_error(request_id, self.max_message_bytes)
            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await read_stream_writer.send(SessionMessage(reply))
            return
        await super()._resolve_abandoned_request(read_stream_writer, request_id, message, code=code)


def stamp_caller_meta(
    session: ClientSession, caller: Callable[[], tuple[dict[str, Any], str | None] | None]
) -> None:
    """Make ``session`` (adopted at 2026-07-28) declare, on each request sent while
    ``caller()`` answers ``(capabilities, log level)``, those instead of its own: the
    upstream then tailors its input requests (and its log messages) to the client it serves.
    Call after the session adopted its version (``adopt`` replaces the stamp)."""
    inner = session._stamp

    def stamp(data: dict[str, Any], opts: Any) -> None:
        inner(data, opts)
        current = caller()
        meta = (data.get("params") or {}).get("_meta")
        if current is None or not isinstance(meta, dict):
            return
        capabilities, log_level = current
        meta[CLIENT_CAPABILITIES_META_KEY] = capabilities
        if log_level is not None:
            meta[LOG_LEVEL_META_KEY] = log_level
        else:
            meta.pop(LOG_LEVEL_META_KEY, None)

    session._stamp = stamp


def request_headers(
    session: ClientSession, transport: StreamableHTTPTransport, data: dict[str, Any] | None
) -> dict[str, str]:
    """The headers the SDK's transport would send with ``data`` (a request, stamped in place
    with the session's ``_meta`` envelope) or, for ``None``, with a response or notification
    of the gateway's own."""
    headers = transport._prepare_headers()
    if data is not None:
        opts: Any = {}
        session._stamp(data, opts)
        headers.update(opts.get("headers") or {})
    return headers
