"""upstream/direct.py behaves as the SDK's client path where an upstream misbehaves: the same
scripted upstream answers one tools/call through the SDK (``ClientSession.send_request``) and
through ``DirectCalls``, and each test holds for both.

The upstream is scripted behind ``httpx2.MockTransport`` (the session's real
``open_streamable_http`` and client around it): these shapes (a connection broken after the
answer, an answer a few ms before the deadline on a stream kept open, an upstream withdrawing
its own request) cannot be produced on demand by a real server here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError

from mcp_gateway.upstream import http_connect
from mcp_gateway.upstream.direct import DirectCalls
from mcp_gateway.upstream.http_connect import HttpObservations, open_streamable_http
from mcp_gateway.upstream.relay import CALL_RESULT

pytestmark = pytest.mark.anyio

URL = "http://upstream.test/mcp"
Step = bytes | float | Callable[[], Awaitable[None]]


def sse_response(*steps: Step) -> httpx2.Response:
    """An SSE answer that plays ``steps``: bytes are written, floats slept, callables awaited."""

    async def body() -> AsyncIterator[bytes]:
        for step in steps:
            if isinstance(step, bytes):
                yield step
            elif isinstance(step, float):
                await anyio.sleep(step)
            else:
                await step()

    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body())


def event(message: dict[str, Any], event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: message\ndata: {json.dumps(message)}\n\n".encode()


def answer(request_id: Any, text: str = "ok") -> dict[str, Any]:
    result = {"content": [{"type": "text", "text": text}]}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


class Upstream:
    """A scripted Streamable HTTP server behind httpx2.MockTransport."""

    def __init__(
        self,
        call: Callable[[dict[str, Any], Upstream], Awaitable[httpx2.Response]],
        resume: Callable[[httpx2.Request, Upstream], Awaitable[httpx2.Response]] | None = None,
    ) -> None:
        self.call = call
        self.resume = resume
        self.posted: list[dict[str, Any]] = []  # responses and notifications from the client
        self.got_post = anyio.Event()
        self.call_id: Any = None

    async def wait_for_post(self) -> None:
        with anyio.fail_after(5):
            await self.got_post.wait()

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            if self.resume is not None and "last-event-id" in request.headers:
                return await self.resume(request, self)
            return httpx2.Response(405)
        if request.method == "DELETE":
            return httpx2.Response(200)
        message = json.loads(await request.aread())
        method = message.get("method")
        if method == "initialize":
            result = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "scripted", "version": "1"},
            }
            return httpx2.Response(
                200,
                json={"jsonrpc": "2.0", "id": message["id"], "result": result},
                headers={"mcp-session-id": "sid-1"},
            )
        if method is None or method.startswith("notifications/"):
            self.posted.append(message)
            if method is None:  # a response to the upstream's own request
                self.got_post.set()
            return httpx2.Response(202)
        self.call_id = message["id"]
        return await self.call(message, self)


@asynccontextmanager
async def connected(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, **callbacks: Any
) -> AsyncIterator[tuple[ClientSession, DirectCalls]]:
    monkeypatch.setattr(
        http_connect, "network_transport", lambda auth: httpx2.MockTransport(upstream)
    )
    async with open_streamable_http(
        URL,
        headers={},
        observations=HttpObservations(),
        session_id=None,
        terminate=lambda: False,
        on_closed=lambda: None,
    ) as streams:
        async with ClientSession(streams.read_stream, streams.write_stream, **callbacks) as s:
            await s.initialize()
            assert streams.client is not None and streams.transport is not None

            async def handler(message: object) -> None:
                return None

            log = callbacks.get("logging_callback")

            async def no_log(params: object) -> None:
                return None

            yield s, DirectCalls(streams.client, streams.transport, s, handler, log or no_log)


async def call(
    path: str,
    session: ClientSession,
    direct: DirectCalls,
    timeout: float,  # noqa: ASYNC109 (the call's upstream deadline, as the pool passes it)
) -> Any:
    params = {"name": "t", "arguments": {}}
    if path == "direct":
        return CALL_RESULT.validate_python(await direct.call_tool(params, timeout), by_name=False)
    request = types.CallToolRequest(params=types.CallToolRequestParams(**params))
    return await session.send_request(request, CALL_RESULT, request_read_timeout_seconds=timeout)


PATHS = ["sdk", "direct"]


@pytest.mark.parametrize("path", PATHS)
async def test_a_resumable_stream_closed_before_the_answer_is_resumed(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2025-11-25 'SSE polling': the server primes the call's stream with an event id, closes
    it, and answers on the GET the client reopens with Last-Event-ID."""

    async def on_call(message: dict[str, Any], up: Upstream) -> httpx2.Response:
        return sse_response(b"id: e1\nretry: 10\ndata: \n\n")

    async def on_resume(request: httpx2.Request, up: Upstream) -> httpx2.Response:
        assert request.headers["last-event-id"] == "e1"
        return sse_response(event(answer(up.call_id, "resumed"), "e2"))

    upstream = Upstream(on_call, on_resume)
    async with connected(upstream, monkeypatch) as (session, direct):
        result = await call(path, session, direct, 5.0)
    assert result.content[0].text == "resumed"


@pytest.mark.parametrize("path", PATHS)
async def test_an_answer_received_before_the_deadline_is_not_a_timeout(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer arrives 30 ms before the deadline and the server keeps the stream open: the
    50 ms drain runs into the call's deadline."""

    async def on_call(message: dict[str, Any], up: Upstream) -> httpx2.Response:
        return sse_response(0.27, event(answer(message["id"])), 10.0)

    upstream = Upstream(on_call)
    async with connected(upstream, monkeypatch) as (session, direct):
        result = await call(path, session, direct, 0.3)
        cancels = [m for m in upstream.posted if m.get("method") == "notifications/cancelled"]
    assert result.content[0].text == "ok"
    assert cancels == []


@pytest.mark.parametrize("path", PATHS)
async def test_an_unknown_server_request_is_answered_method_not_found(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def on_call(message: dict[str, Any], up: Upstream) -> httpx2.Response:
        ask = {"jsonrpc": "2.0", "id": "s1", "method": "vendor/thing", "params": {}}
        return sse_response(event(ask), up.wait_for_post, event(answer(message["id"])))

    upstream = Upstream(on_call)
    async with connected(upstream, monkeypatch) as (session, direct):
        await call(path, session, direct, 5.0)
    (reply,) = [m for m in upstream.posted if "method" not in m]
    assert reply["id"] == "s1"
    assert reply["error"]["code"] == types.METHOD_NOT_FOUND


@pytest.mark.parametrize("path", PATHS)
async def test_a_failing_client_callback_is_answered_as_an_error_and_the_call_goes_on(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. the downstream client went away while the upstream's elicitation was relayed
    (SessionRelay.ask does not catch ClosedResourceError)."""

    async def elicit(context: Any, params: Any) -> types.ElicitResult:
        raise anyio.ClosedResourceError

    async def on_call(message: dict[str, Any], up: Upstream) -> httpx2.Response:
        ask = {
            "jsonrpc": "2.0",
            "id": "s1",
            "method": "elicitation/create",
            "params": {"message": "name?", "requestedSchema": {"type": "object", "properties": {}}},
        }
        return sse_response(event(ask), up.wait_for_post, event(answer(message["id"], "fallback")))

    upstream = Upstream(on_call)
    async with connected(upstream, monkeypatch, elicitation_callback=elicit) as (session, direct):
        result = await call(path, session, direct, 5.0)
    assert result.content[0].text == "fallback"
    (reply,) = [m for m in upstream.posted if "method" not in m]
    assert reply["id"] == "s1" and "error" in reply


@pytest.mark.parametrize("path", PATHS)
async def test_a_failing_logging_callback_does_not_fail_the_call(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def log(params: Any) -> None:
        raise RuntimeError("relay gone")

    async def on_call(message: dict[str, Any], up: Upstream) -> httpx2.Response:
        note = {
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": {"level": "info", "data": "hi"},
        }
        return sse_response(event(note), event(answer(message["id"])))

    upstream = Upstream(on_call)
    async with connected(upstream, monkeypatch, logging_callback=log) as (session, direct):
        result = await call(path, session, direct, 5.0)
    assert result.content[0].text == "ok"


@pytest.mark.parametrize("path", PATHS)
async def test_the_upstream_cancelling_its_own_request_frees_the_call(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream gives up on its elicitation (notifications/cancelled) and answers the call
    without it; the client's callback must be interrupted, not waited for."""
    never = anyio.Event()

    async def elicit(context: Any, params: Any) -> types.ElicitResult:
        await never.wait()  # a human who never answers
        raise AssertionError

    async def on_call(message: dict[str, Any], up: Upstream) -> httpx2.Response:
        ask = {
            "jsonrpc": "2.0",
            "id": "s1",
            "method": "elicitation/create",
            "params": {"message": "name?", "requestedSchema": {"type": "object", "properties": {}}},
        }
        cancel = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": "s1", "reason": "elicitation timed out"},
        }
        return sse_response(
            event(ask), 0.1, event(cancel), event(answer(message["id"], "no answer")), 5.0
        )

    upstream = Upstream(on_call)
    async with connected(upstream, monkeypatch, elicitation_callback=elicit) as (session, direct):
        result = await call(path, session, direct, 2.0)
    assert result.content[0].text == "no answer"


@pytest.mark.parametrize("path", PATHS)
async def test_a_call_on_a_session_closed_meanwhile_fails_as_connection_closed(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """calls.admitted takes ``sup.live`` before waiting for a slot; a 404 on another call
    replaces the session meanwhile. retry_once retries only CALL_ERRORS (MCPError, ...)."""

    async def on_call(message: dict[str, Any], up: Upstream) -> httpx2.Response:
        return sse_response(event(answer(message["id"])))

    upstream = Upstream(on_call)
    async with connected(upstream, monkeypatch) as (session, direct):
        pass
    with pytest.raises(MCPError) as caught:
        await call(path, session, direct, 5.0)
    assert caught.value.error.code == types.CONNECTION_CLOSED


@pytest.mark.parametrize("path", PATHS)
async def test_a_connection_broken_after_the_answer_does_not_lose_the_answer(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server (or a proxy) drops the connection right after the answer's event, before
    the chunked body's end: the drain hits httpx2.RemoteProtocolError, not an SSEError."""

    async def broken() -> None:
        raise httpx2.RemoteProtocolError("peer closed connection (incomplete chunked read)")

    async def on_call(message: dict[str, Any], up: Upstream) -> httpx2.Response:
        return sse_response(event(answer(message["id"])), broken)

    upstream = Upstream(on_call)
    async with connected(upstream, monkeypatch) as (session, direct):
        result = await call(path, session, direct, 5.0)
    assert result.content[0].text == "ok"
