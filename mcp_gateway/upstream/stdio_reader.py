"""JSON-RPC over a child's stdout: newline-delimited messages into the session's read stream,
with the message size cap (``MCPGW_MAX_MESSAGE_BYTES``).

Work per chunk is linear in the chunk (see :class:`~mcp_gateway.upstream.limits.LineSplitter`),
so one huge answer never pins the event loop: each chunk is an await, other sessions' I/O runs
between them, and a line past the cap is dropped as it arrives instead of being buffered.

Who gets the error for a dropped line: the reader tracks the ids of the requests written to the
child and not yet answered (:meth:`StdoutReader.sent`). The dropped line's id is read from its
head or tail; when it names a pending request, only that call fails (502 ``upstream_error``
naming the cap). A line that opens as a server request or notification is dropped with a note in
the server's logs. Anything else cannot be attributed: every pending call of this session fails
with the same error (the session itself stays up, so later calls work).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from mcp_gateway.process.output import OutputTail
from mcp_gateway.upstream.limits import (
    ENV_NAME,
    LineSplitter,
    Overflow,
    OverflowEnd,
    find_request_id,
    is_server_message,
    too_large_error,
)

_validate = types.jsonrpc_message_adapter.validate_json


class StdoutReader:
    """Parses one child's stdout; :meth:`sent` must see every message written to its stdin."""

    __slots__ = ("_splitter", "_pending", "_answered", "_ring", "_send")

    def __init__(
        self,
        limit: int,
        ring: OutputTail,
        send: MemoryObjectSendStream[SessionMessage | Exception],
    ) -> None:
        self._splitter = LineSplitter(limit)
        self._pending: set[types.RequestId] = set()
        self._answered = False  # the current oversized line already failed its call
        self._ring = ring
        self._send = send

    def sent(self, message: types.JSONRPCMessage) -> None:
        """Record a message written to the child (a request now waits for an answer)."""
        if isinstance(message, types.JSONRPCRequest):
            self._pending.add(message.id)
        elif (
            isinstance(message, types.JSONRPCNotification)
            and message.method == "notifications/cancelled"
            and isinstance(message.params, dict)
        ):
            self._pending.discard(message.params.get("requestId"))

    async def run(self, receive: Callable[[], Awaitable[bytes]]) -> None:
        """Read until stdout ends. Raises anyio.BrokenResourceError/ClosedResourceError when
        the session stopped reading."""
        while True:
            try:
                chunk = await receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError, OSError):
                return
            for item in self._splitter.feed(chunk):
                if isinstance(item, bytes):
                    await self._line(item)
                elif isinstance(item, Overflow):
                    await self._overflow(item.head)
                else:
                    await self._overflow_end(item)

    async def _line(self, line: bytes) -> None:
        if not line or line.isspace():
            return
        try:
            message = _validate(line, by_name=False)
        except ValueError as exc:  # a stray non-JSON line on stdout
            self._ring.append(f"[gateway] invalid JSON-RPC line on stdout: {exc}")
            return
        if isinstance(message, types.JSONRPCResponse | types.JSONRPCError):
            self._pending.discard(message.id)
        await self._send.send(SessionMessage(message))

    async def _overflow(self, head: bytes) -> None:
        self._answered = False
        request_id = find_request_id(head, None)
        if request_id is not None and request_id in self._pending:
            await self._fail(request_id)
            self._answered = True

    async def _overflow_end(self, item: OverflowEnd) -> None:
        limit = self._splitter.limit
        self._ring.append(
            f"[gateway] discarded a {item.size}-byte message on stdout: "
            f"larger than {ENV_NAME} ({limit} bytes)"
        )
        if self._answered:
            return
        request_id = find_request_id(item.head, item.tail)
        if request_id is not None and request_id in self._pending:
            await self._fail(request_id)
        elif not is_server_message(item.head):
            for pending in list(self._pending):  # cannot tell which call it answered
                await self._fail(pending)

    async def _fail(self, request_id: types.RequestId) -> None:
        self._pending.discard(request_id)
        error = too_large_error(request_id, self._splitter.limit)
        await self._send.send(SessionMessage(error))
