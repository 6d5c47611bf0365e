"""StdoutReader: who gets the error when a line exceeds the cap (no process needed)."""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest
from mcp.shared.message import SessionMessage

from mcp_gateway.process.output import OutputTail
from mcp_gateway.upstream.limits import is_too_large
from mcp_gateway.upstream.stdio_reader import StdoutReader

pytestmark = pytest.mark.anyio

LIMIT = 1024


def _request(request_id: int) -> types.JSONRPCRequest:
    return types.JSONRPCRequest(jsonrpc="2.0", id=request_id, method="tools/call", params={})


def _errors(messages: list[object]) -> dict[object, bool]:
    return {
        m.id: is_too_large(m.error.code, m.error.data)
        for m in messages
        if isinstance(m, types.JSONRPCError)
    }


async def _collect(lines: list[bytes], pending: list[int]) -> tuple[list[object], OutputTail]:
    send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](100)
    ring = OutputTail()
    reader = StdoutReader(LIMIT, ring, send)
    for request_id in pending:
        reader.sent(_request(request_id))
    data = b"".join(lines)
    chunks = [data[i : i + 64] for i in range(0, len(data), 64)]

    async def receive_chunk() -> bytes:
        if not chunks:
            raise anyio.EndOfStream
        return chunks.pop(0)

    await reader.run(receive_chunk)
    send.close()
    out = []
    async with receive:
        async for item in receive:
            assert isinstance(item, SessionMessage)
            out.append(item.message)
    return out, ring


BIG = b"x" * (4 * LIMIT)


async def test_an_oversized_answer_fails_only_the_request_it_names() -> None:
    line = b'{"jsonrpc":"2.0","id":2,"result":{"t":"' + BIG + b'"}}\n'
    ok = b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
    messages, ring = await _collect([line, ok], pending=[1, 2, 3])
    assert _errors(messages) == {2: True}
    assert any(isinstance(m, types.JSONRPCResponse) and m.id == 1 for m in messages)
    assert any("discarded a" in entry for entry in ring.lines())


async def test_an_unattributable_oversized_line_fails_every_pending_request() -> None:
    line = b'{"result":{"t":"' + BIG + b'"},"id":"not-ours"}\n'
    messages, _ = await _collect([line], pending=[5, 6])
    assert _errors(messages) == {5: True, 6: True}


async def test_an_oversized_server_notification_is_dropped_without_failing_calls() -> None:
    line = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"d":"' + BIG + b'"}}\n'
    messages, ring = await _collect([line], pending=[7])
    assert messages == []
    assert any("discarded a" in entry for entry in ring.lines())
