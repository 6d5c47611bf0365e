"""A 2025-11-25 client that goes away mid-call cancels the call, unless it resumes the stream.

In that era the SDK keeps serving a request whose POST connection closed (the client could
resume the stream), so an upstream call nobody waits for would hold its concurrency slot until
it ends on its own. The edge watches each request POST of a session: when the SDK returns
without having finished the response (the client disconnected), it hands the session the
``notifications/cancelled`` the client did not send, and the SDK cancels the handler, which
abandons the upstream call. (In 2026-07-28 closing the stream is the cancellation; the SDK
does that itself.)

A stream that is resumable (the session keeps events: event_store.py; the client was sent
event ids) is given ``grace`` seconds first, as the spec asks servers not to read a broken
stream as a cancellation: the call is cancelled only if no ``GET`` with ``Last-Event-ID``
resumes that stream meanwhile and it is still unanswered. A resumed stream whose GET closes
before the answer gets the same grace again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCNotification
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_gateway.api.downstream.event_store import SessionEvents, replays
from mcp_gateway.api.downstream.sessions import SessionManager

log = logging.getLogger("mcp_gateway.mcp")


def _request_id(body: bytes) -> Any:
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if isinstance(message, dict) and "method" in message and "id" in message:
        return message["id"]
    return None


class DisconnectWatch:
    """Cancels the calls of legacy sessions whose client left (after ``grace`` when it can
    resume). :meth:`run` holds the grace timers."""

    def __init__(self, manager: SessionManager, grace: float) -> None:
        self._manager = manager
        self._grace = grace
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            try:
                yield
            finally:
                self._tasks = None
                tg.cancel_scope.cancel()

    async def serve_post(
        self, app: ASGIApp, session_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run ``app`` for one POST of session ``session_id``; cancel its request if the
        client left before the response was complete. (A stream that did complete keeps its
        events: the last chunk may have been written to a connection already gone, and
        resuming is what the client then does.)"""
        body = bytearray()
        finished = False

        async def watched_receive() -> Message:
            # The whole body (bounded by MCPGW_MAX_BODY before it gets here): a request's id
            # may come after large arguments, and a call whose id is not found is never
            # cancelled when its client leaves.
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        try:
            await app(scope, watched_receive, watched_send)
        finally:
            if not finished:
                request_id = _request_id(bytes(body))
                if request_id is not None:
                    await self._left(session_id, str(request_id), request_id)

    async def serve_get(
        self, app: ASGIApp, session_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run ``app`` for one GET of session ``session_id``: a stream it resumed that ends
        unanswered is treated as the POST's would be."""
        with replays() as resumed:
            try:
                await app(scope, receive, send)
            finally:
                events = self._events(session_id)
                for stream in resumed if events is not None else ():
                    assert events is not None
                    events.detach(stream)
                    request_id = events.request_id(stream)
                    if request_id is not None:
                        await self._left(session_id, stream, request_id)

    def _events(self, session_id: str) -> SessionEvents | None:
        buffer = self._manager.events
        return buffer.of(session_id) if buffer is not None else None

    async def _left(self, session_id: str, stream: str, request_id: Any) -> None:
        events = self._events(session_id)
        if events is None or self._grace <= 0 or not events.primed(stream):
            await _cancel(self._manager, session_id, request_id)
            return
        if events.answered(stream):
            return
        events.remember_request(stream, request_id)
        if self._tasks is None:  # shutting down
            await _cancel(self._manager, session_id, request_id)
            return
        self._tasks.start_soon(self._cancel_unless_resumed, session_id, events, stream, request_id)

    async def _cancel_unless_resumed(
        self, session_id: str, events: SessionEvents, stream: str, request_id: Any
    ) -> None:
        if await events.wait_resumed(stream, self._grace) or events.answered(stream):
            return  # being resumed (its GET's end decides), or nothing left to cancel
        log.info("a client left a call's stream and did not resume it: the call is cancelled")
        await _cancel(self._manager, session_id, request_id)


async def _cancel(manager: SessionManager, session_id: str, request_id: Any) -> None:
    writer = manager.session_writer(session_id)
    if writer is None:
        return
    note = JSONRPCNotification(
        jsonrpc="2.0",
        method="notifications/cancelled",
        params={"requestId": request_id, "reason": "client disconnected"},
    )
    try:
        await writer.send(SessionMessage(note))
    except Exception:  # the session ended meanwhile: nothing left to cancel
        log.debug("session ended before its disconnected request could be cancelled")
