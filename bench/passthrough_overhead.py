"""What the pass-through of upstream requests costs a tool call that sends none (in process).

Every call now pays, whether or not its upstream asks anything:

- ``result parse``: the upstream's ``tools/call`` answer parsed as ``CallToolResult |
  InputRequiredResult`` (a 2026-07-28 upstream may ask for input) instead of ``CallToolResult``;
- ``relay``: the caller's relay wrapped with the session's masker and made the call's relay
  (``masked_relay`` + ``InFlight.calling``);
- ``2026 round``: the call of a 2026-07-28 client that declared sampling, elicitation or roots
  runs in the background (``Rounds``), the handler waiting for its result, instead of being
  awaited directly (a client that declared none is served directly).

Prints p50/p99 in microseconds per call of each, next to its baseline.

Run: .venv/bin/python bench/passthrough_overhead.py -n 20000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types

from mcp_gateway.api.downstream.rounds import PendingCall, Rounds
from mcp_gateway.domain.redaction import Masker
from mcp_gateway.upstream.relay import CALL_RELAY, CALL_RESULT, InFlight, masked_relay

RESULT = {"content": [{"type": "text", "text": "hello " * 20}], "isError": False}
MASKER = Masker.of(["a-secret-value-123456"])


class _Relay:
    async def ask(self, request: types.InputRequest) -> types.ErrorData:
        return types.ErrorData(code=0, message="")

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        return None


def _quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1e6, ordered[int(len(ordered) * 0.99)] * 1e6


def timed(n: int, fn: Callable[[], Any]) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return _quantiles(samples)


async def timed_async(n: int, fn: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return _quantiles(samples)


def relay_step() -> None:
    token = CALL_RELAY.set(_Relay())
    in_flight = InFlight(by_context=True)
    relay = masked_relay(lambda: MASKER)
    with in_flight.calling(relay):
        pass
    CALL_RELAY.reset(token)


async def main(n: int) -> None:
    rows: list[tuple[str, tuple[float, float]]] = [
        (
            "result parse: CallToolResult",
            timed(n, lambda: types.CallToolResult.model_validate(RESULT)),
        ),
        ("result parse: with InputRequired", timed(n, lambda: CALL_RESULT.validate_python(RESULT))),
        ("relay: none", timed(n, lambda: None)),
        ("relay: masked + in flight", timed(n, relay_step)),
    ]
    result = types.CallToolResult.model_validate(RESULT)

    async def call(pending: PendingCall | None = None) -> types.CallToolResult:
        await anyio.lowlevel.checkpoint()
        return result

    rounds = Rounds()
    async with rounds.run():

        async def in_background() -> None:
            pending = rounds.start("owner", None, call)
            await rounds.serve(pending, None)  # type: ignore[arg-type]

        rows.append(("2026 call: awaited", await timed_async(n, call)))
        rows.append(("2026 call: background round", await timed_async(n, in_background)))
    print(f"{n} calls each; microseconds per call")
    print(f"{'':36} {'p50 us':>8} {'p99 us':>8}")
    for name, (p50, p99) in rows:
        print(f"{name:36} {p50:8.1f} {p99:8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20000)
    anyio.run(main, parser.parse_args().n)
