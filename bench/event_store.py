"""The MCP endpoint's event store (resumable SSE streams, api/downstream/event_store.py):
what keeping each event costs the SDK path, what a replay costs, and what a session holds.

Measures, in process (no server: the store is all this adds to a legacy SDK-path request):
``store_event`` per event (the message serialized to the JSON kept, id drawn, bounds kept)
for a progress notification and a ~1 KiB tool result; a replay of a 100-event stream; and
the memory (tracemalloc) ``--sessions`` sessions hold with what each keeps after its
``initialize`` (a priming event and the initialize result), per session.

Run: .venv/bin/python bench/event_store.py [--repeat 20000] [--sessions 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import anyio
from mcp.server.streamable_http import EventMessage
from mcp_types import JSONRPCMessage, JSONRPCNotification, JSONRPCResponse

from mcp_gateway.api.downstream.event_store import EventBuffer

_PROGRESS = JSONRPCNotification(
    jsonrpc="2.0",
    method="notifications/progress",
    params={"progressToken": "p1", "progress": 1, "total": 3, "message": "step 1"},
)
_RESULT = JSONRPCResponse(
    jsonrpc="2.0",
    id=7,
    result={"content": [{"type": "text", "text": "x" * 1000}], "isError": False},
)
_INIT = JSONRPCResponse(  # the shape of the gateway's initialize result
    jsonrpc="2.0",
    id=1,
    result={
        "protocolVersion": "2025-11-25",
        "capabilities": {
            "logging": {},
            "completions": {},
            "prompts": {"listChanged": True},
            "resources": {"subscribe": True, "listChanged": True},
            "tools": {"listChanged": True},
        },
        "serverInfo": {"name": "mcp-gateway", "version": "0.1.0"},
    },
)


def _pcts(samples: list[float]) -> str:
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    return f"p50 {p50 * 1e6:6.2f} µs  p99 {p99 * 1e6:6.2f} µs"


async def _store_cost(message: JSONRPCMessage, repeat: int) -> str:
    buffer = EventBuffer(per_stream=256, total=10_000, max_bytes=32 << 20)
    events = buffer.for_session("s")
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        await events.store_event(str(i % 64), message)
        samples.append(time.perf_counter() - start)
    return _pcts(samples)


async def _replay_cost(repeat: int) -> str:
    buffer = EventBuffer(per_stream=256, total=10_000, max_bytes=32 << 20)
    events = buffer.for_session("s")
    first = await events.store_event("1", None)
    for _ in range(99):
        await events.store_event("1", _PROGRESS)
    await events.store_event("1", _RESULT)

    async def drop(_: EventMessage) -> None:
        return None

    samples = []
    for _ in range(max(1, repeat // 100)):
        start = time.perf_counter()
        await events.replay_events_after(first, drop)
        samples.append(time.perf_counter() - start)
    return _pcts(samples)


async def _per_session(count: int) -> float:
    buffer = EventBuffer(per_stream=256, total=10_000, max_bytes=32 << 20)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(count):
        events = buffer.for_session(f"{n:048x}")
        await events.store_event("1", None)
        await events.store_event("1", _INIT)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / count


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=1000)
    args = parser.parse_args()
    print(f"store_event, progress notification: {await _store_cost(_PROGRESS, args.repeat)}")
    print(f"store_event, 1 KiB tool result:     {await _store_cost(_RESULT, args.repeat)}")
    print(f"replay of a 101-event stream:       {await _replay_cost(args.repeat)}")
    per = await _per_session(args.sessions)
    print(f"{args.sessions} sessions after initialize: {per / 1024:.2f} KiB each (tracemalloc)")


if __name__ == "__main__":
    anyio.run(main)
