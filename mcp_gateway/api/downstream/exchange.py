"""One fast-path request's dispatch context and HTTP answer (api.downstream.fastpath).

The SDK kernel (``serve_one``) runs the gateway's handlers with this as the request's
back-channel. It carries no server-to-client requests (the fast path serves only calls that
cannot need one: ``NoBackChannelError``, as on the SDK's own single-exchange entry). A
notification the handler sends for this request (an upstream's log message) turns the answer
into an SSE stream at that moment, as the SDK's paths would have carried it; a request that
sends none (the common case) is answered with one ``application/json`` body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp.shared.message import MessageMetadata
from mcp.shared.transport_context import TransportContext
from starlette.types import Send

_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
]


def _compact(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def error_body(request_id: types.RequestId, error: types.ErrorData, legacy: bool) -> bytes:
    """A JSON-RPC error as each era's SDK path writes it (legacy keeps what was set)."""
    message = types.JSONRPCError(jsonrpc="2.0", id=request_id, error=error)
    if legacy:
        return message.model_dump_json(by_alias=True, exclude_unset=True).encode()
    return _compact(message.model_dump(mode="json", by_alias=True, exclude_none=True))


@dataclass
class Exchange:
    """``DispatchContext`` of one request answered by the fast path, and its answer."""

    transport: TransportContext
    request_id: types.RequestId
    message_metadata: MessageMetadata
    send_http: Send
    legacy: bool
    session_id: str | None = field(default=None, repr=False)  # a credential of its caller
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = field(default=False, init=False)
    streaming: bool = field(default=False, init=False)
    done: bool = field(default=False, init=False)
    _lock: anyio.Lock = field(default_factory=anyio.Lock, init=False)

    def _headers(self, base: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        if self.session_id is None:
            return base
        return [*base, (b"mcp-session-id", self.session_id.encode())]

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        return None  # the fast path serves no request that carries a progress token

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        note = types.JSONRPCNotification(
            jsonrpc="2.0", method=method, params=dict(params) if params is not None else None
        )
        if self.legacy:
            data = note.model_dump_json(by_alias=True, exclude_unset=True)
        else:
            data = _compact(note.model_dump(mode="json", by_alias=True, exclude_none=True)).decode()
        async with self._lock:
            if self.done:
                return  # after the answer: nowhere to put it (as on the SDK's streams)
            if not self.streaming:
                self.streaming = True
                headers = self._headers(_SSE_HEADERS)
                await self.send_http(
                    {"type": "http.response.start", "status": 200, "headers": headers}
                )
            event = {"type": "http.response.body", "body": _event(data), "more_body": True}
            await self.send_http(event)

    async def answer(self, result: dict[str, Any]) -> None:
        body = _compact({"jsonrpc": "2.0", "id": self.request_id, "result": result})
        await self._finish(body, 200)

    async def fail(self, error: types.ErrorData) -> None:
        # The SDK's JSON answers of 2026-07-28 map error codes to statuses; legacy and SSE: 200.
        status = 200 if self.legacy else ERROR_CODE_HTTP_STATUS.get(error.code, 200)
        await self._finish(error_body(self.request_id, error, self.legacy), status)

    async def _finish(self, body: bytes, status: int) -> None:
        async with self._lock:
            if self.done:
                return
            self.done = True
            if self.streaming:
                last = _event(body.decode())
                await self.send_http({"type": "http.response.body", "body": last})
                return
            headers = self._headers([*_JSON_HEADERS, (b"content-length", str(len(body)).encode())])
            await self.send_http(
                {"type": "http.response.start", "status": status, "headers": headers}
            )
            await self.send_http({"type": "http.response.body", "body": body})


def _event(data: str) -> bytes:
    return f"event: message\r\ndata: {data}\r\n\r\n".encode()
