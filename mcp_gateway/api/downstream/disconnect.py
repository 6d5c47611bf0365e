"""A 2025-11-25 client that goes away mid-call cancels the call.

In that era the SDK keeps serving a request whose POST connection closed (the client could
resume the stream), so an upstream call nobody waits for would hold its concurrency slot until
it ends on its own. The edge watches each request POST of a session: when the SDK returns
without having finished the response (the client disconnected), it hands the session the
``notifications/cancelled`` the client did not send, and the SDK cancels the handler, which
abandons the upstream call. (In 2026-07-28 closing the stream is the cancellation; the SDK
does that itself.)
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCNotification
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_gateway.api.downstream.sessions import SessionManager

log = logging.getLogger("mcp_gateway.mcp")

_MAX_WATCHED_BODY = 64 * 1024  # enough for any request's id; bigger bodies are not parsed


def _request_id(body: bytes) -> Any:
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if isinstance(message, dict) and "method" in message and "id" in message:
        return message["id"]
    return None


async def serve_cancelling_on_disconnect(
    app: ASGIApp,
    manager: SessionManager,
    session_id: str,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Run ``app`` for one POST of session ``session_id``; cancel its request if the client
    left before the response was complete."""
    body = bytearray()
    finished = False

    async def watched_receive() -> Message:
        message = await receive()
        if message["type"] == "http.request" and len(body) <= _MAX_WATCHED_BODY:
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
                await _cancel(manager, session_id, request_id)


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
