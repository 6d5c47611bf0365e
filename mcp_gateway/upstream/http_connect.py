"""HTTP transports: Streamable HTTP that can resume a stored ``Mcp-Session-Id``, and legacy SSE.

The SDK's ``streamable_http_client`` cannot be seeded with an existing session id, so
:func:`open_streamable_http` runs the SDK's ``StreamableHTTPTransport`` the same way but sets
``session_id`` first (and starts the server-to-client GET stream itself on resume, because no
``notifications/initialized`` will be sent). An httpx2 response hook records what the SDK does
not expose: the status of the session-less opening POST (to decide on the SSE fallback) and any
404 on a request that carried a session id (the server forgot the session).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import anyio
import httpx2
from mcp.client.sse import sse_client
from mcp.shared.message import SessionMessage

from mcp_gateway.config import DEFAULT_MAX_MESSAGE_BYTES
from mcp_gateway.observability.tracing import request_hooks
from mcp_gateway.upstream.quickack import acknowledging
from mcp_gateway.upstream.sdk import (
    MCP_SESSION_ID,
    CappedStreamableHTTPTransport,
    create_context_streams,
)
from mcp_gateway.upstream.streams import Streams

CONNECT_TIMEOUT = 10.0
WRITE_TIMEOUT = 30.0
SSE_READ_TIMEOUT = 300.0  # legacy SSE: servers ping more often than this
# Connections are kept between calls (upstream/direct.py) for less than the usual 5 s idle
# timeout of servers (uvicorn, Hypercorn, Node): a request sent on a connection the server is
# closing is lost ("Server disconnected without sending a response").
KEPT = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)


def http_timeout() -> httpx2.Timeout:
    """No read timeout: the per-call deadline is enforced by the session, and the GET stream is
    idle by design. httpx2's 5 s default would kill long tools."""
    return httpx2.Timeout(
        connect=CONNECT_TIMEOUT, read=None, write=WRITE_TIMEOUT, pool=WRITE_TIMEOUT
    )


@runtime_checkable
class BringsTransport(Protocol):
    """A session auth that also decides how the session reaches the network."""

    def network_transport(self) -> httpx2.AsyncBaseTransport: ...


def network_transport(auth: httpx2.Auth | None) -> httpx2.AsyncBaseTransport:
    """The network transport of a session's HTTP client: the one its auth brings (a user's
    external server: every connection, each redirect hop included, goes through the SSRF
    guard), else a plain one."""
    if isinstance(auth, BringsTransport):
        return auth.network_transport()
    return httpx2.AsyncHTTPTransport(limits=KEPT)


@dataclass(slots=True)
class HttpObservations:
    """Facts the response hook records for the owner."""

    opening_status: int | None = None  # last status of a POST sent without a session id
    session_expired: bool = False  # a request with our session id got 404
    on_expired: Callable[[], None] | None = None

    async def hook(self, response: httpx2.Response) -> None:
        request = response.request
        if request.method != "POST" and request.method != "GET":
            return
        if MCP_SESSION_ID in request.headers:
            if response.status_code == 404 and not self.session_expired:
                self.session_expired = True
                if self.on_expired is not None:
                    self.on_expired()
        elif request.method == "POST":
            self.opening_status = response.status_code


class CappedBodies(httpx2.AsyncBaseTransport):
    """Wraps the client's transport so that no response body other than an SSE stream yields
    more than ``limit`` bytes: reading past it raises ``httpx2.StreamError``. The SDK reads
    some bodies whole (an HTTP error's JSON body, a DELETE's answer); this bounds them too.
    SSE streams are bounded per event instead (``max_sse_event_size``)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        content_type = response.headers.get("content-type", "").lower()
        if not content_type.startswith("text/event-stream"):
            response.stream = _CappedStream(response.stream, self._limit)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedStream(httpx2.AsyncByteStream):
    __slots__ = ("_inner", "_limit")

    def __init__(self, inner: object, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._inner:  # type: ignore[attr-defined]
            size += len(chunk)
            if size > self._limit:
                raise httpx2.StreamError(f"response body exceeded {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()  # type: ignore[attr-defined]


@dataclass(slots=True)
class HttpStreams(Streams):
    transport: CappedStreamableHTTPTransport | None = None
    start_get_stream: Callable[[], None] | None = None
    client: httpx2.AsyncClient | None = None  # the session's own (upstream/direct.py)


@asynccontextmanager
async def open_streamable_http(
    url: str,
    *,
    headers: Mapping[str, str],
    observations: HttpObservations,
    session_id: str | None,
    terminate: Callable[[], bool],
    on_closed: Callable[[], None],
    auth: httpx2.Auth | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> AsyncIterator[HttpStreams]:
    """Yield streams for a Streamable HTTP endpoint.

    ``terminate()`` is asked at exit whether to DELETE the session (yes when the server is
    removed; no on gateway shutdown, so the session can be resumed). ``on_closed`` runs when
    the transport's writer ends (the connection is unusable from then on). A JSON body or SSE
    event over ``max_message_bytes`` fails its call with the gateway's too-large error and is
    not read further.
    """
    client = httpx2.AsyncClient(
        headers=dict(headers),
        auth=auth,
        timeout=http_timeout(),
        event_hooks={"request": request_hooks(), "response": [observations.hook]},
        transport=CappedBodies(acknowledging(network_transport(auth)), max_message_bytes),
    )
    transport = CappedStreamableHTTPTransport(url, max_message_bytes=max_message_bytes)
    transport.session_id = session_id
    async with client:
        read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
        write_stream, write_reader = create_context_streams[SessionMessage](0)
        async with read_writer, read_stream, write_stream, write_reader:
            async with anyio.create_task_group() as tg:

                def start_get_stream() -> None:
                    tg.start_soon(transport.handle_get_stream, client, read_writer)

                async def post_writer() -> None:
                    try:
                        await transport.post_writer(
                            client, write_reader, read_writer, write_stream, start_get_stream, tg
                        )
                    finally:
                        on_closed()

                tg.start_soon(post_writer)
                try:
                    yield HttpStreams(
                        read_stream, write_stream, transport, start_get_stream, client
                    )
                finally:
                    if transport.session_id and terminate():
                        with anyio.move_on_after(WRITE_TIMEOUT, shield=True):
                            await transport.terminate_session(client)
                    tg.cancel_scope.cancel()


@asynccontextmanager
async def open_sse(
    url: str,
    *,
    headers: Mapping[str, str],
    on_closed: Callable[[], None],
    auth: httpx2.Auth | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> AsyncIterator[Streams]:
    """Legacy HTTP+SSE transport (``transportType: sse`` or the fallback).

    Its POST answers are capped like every body (:class:`CappedBodies`); its event stream keeps
    the SDK's fixed per-event limit (1 MiB, not configurable in ``sse_client``): an event over
    it ends the connection, so the calls in flight fail and the session restarts."""

    def client_factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        transport = CappedBodies(network_transport(auth), max_message_bytes)
        hooks = {"request": request_hooks()}  # traceparent headers while traces are on
        return httpx2.AsyncClient(
            headers=headers, timeout=timeout, auth=auth, transport=transport, event_hooks=hooks
        )

    async with sse_client(
        url,
        headers=dict(headers),
        auth=auth,
        timeout=CONNECT_TIMEOUT,
        sse_read_timeout=SSE_READ_TIMEOUT,
        httpx_client_factory=client_factory,
    ) as (read_stream, write_stream):
        yield Streams(_WatchedRead(read_stream, on_closed), write_stream)


class _WatchedRead:
    """Read-stream proxy that reports the end of the stream (SSE gives no other signal)."""

    __slots__ = ("_inner", "_on_end")

    def __init__(self, inner: object, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> object:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self._inner.receive()  # type: ignore[attr-defined,no-any-return]
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _WatchedRead:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> _WatchedRead:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
