"""Hot-path cost of metrics and traces, on vs off.

Two parts, in one invocation so they share the same minute of a noisy machine:

- ``hooks``: what one tool call adds, measured alone (loops of 1000, p50/p99 of the per-call
  mean over the loops): the metrics observer (``observe_tool_call``: counter + histogram +
  tool label), one store call through the ``TimedStore`` proxy vs the bare store method, and
  the tracing calls of one tool call (``start_tool_call`` + ``upstream_span`` + ``end``) with
  traces off (shared no-ops) and on (OpenTelemetry SDK, batch processor, an exporter that
  drops the spans).
- ``e2e``: ``POST /mcp/tool/call`` of ``echo`` on the stdio fixture server through an
  in-process gateway (real Runtime, SQLite, httpx2 ASGI transport), traces off vs on
  (exporting to an in-process OTLP/HTTP sink), alternating rounds; p50/p99 per round.

Run: .venv/bin/python bench/observability_overhead.py [--loops 200] [-n 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp_gateway.api.app import create_app  # noqa: E402
from mcp_gateway.config import load_settings  # noqa: E402
from mcp_gateway.observability import tracing  # noqa: E402
from mcp_gateway.observability.metrics import GatewayMetrics  # noqa: E402
from mcp_gateway.observability.store_timing import TimedStore  # noqa: E402
from mcp_gateway.runtime import Runtime  # noqa: E402

FIXTURE = str(ROOT / "tests" / "fixtures" / "mcp_fixture_server.py")
INNER = 1000
KEY = "mcpgw_bench-admin-key-0123456789abcdefghijkl"


def pcts(samples: Sequence[float]) -> tuple[float, float, float]:
    """min, p50, p99."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return ordered[0], ordered[len(ordered) // 2], p99


def loop_ns(body: Callable[[], None], loops: int) -> tuple[float, float, float]:
    """min/p50/p99 of the mean ns per call over ``loops`` loops of INNER calls."""
    for _ in range(INNER):
        body()
    means = []
    for _ in range(loops):
        start = time.perf_counter_ns()
        for _ in range(INNER):
            body()
        means.append((time.perf_counter_ns() - start) / INNER)
    return pcts(means)


async def aloop_ns(body: Callable[[], Any], loops: int) -> tuple[float, float, float]:
    means = []
    for _ in range(loops):
        start = time.perf_counter_ns()
        for _ in range(INNER):
            await body()
        means.append((time.perf_counter_ns() - start) / INNER)
    return pcts(means)


class _Store:
    async def get_secrets(self, username: str, server: str) -> list[str]:
        return []


def tracing_calls() -> None:
    span = tracing.start_tool_call("fx", "echo")
    with tracing.upstream_span("tools/call", "echo"):
        pass
    span.end("ok")


def otel_on() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from mcp_gateway.observability.otel import OtelTracer

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    # Drained every 10 ms into a large queue: every span is recorded and handed to the
    # exporter (the defaults would drop most of them at this rate, which costs less).
    processor = BatchSpanProcessor(Drop(), max_queue_size=1 << 20, schedule_delay_millis=10)
    provider.add_span_processor(processor)
    tracing.install(OtelTracer(provider))
    return provider


async def hooks(loops: int) -> None:
    metrics = GatewayMetrics()
    metrics.tools.listed = lambda server: ["echo"]
    rows = [("metrics observe_tool_call", loop_ns(lambda: metrics.observe_tool_call(
        "fx", "echo", "ok", 0.0123), loops))]  # fmt: skip
    bare = _Store()
    timed: Any = TimedStore(bare, metrics.observe_store)
    rows.append(("store call, bare", await aloop_ns(lambda: bare.get_secrets("u", "fx"), loops)))
    rows.append(("store call, TimedStore", await aloop_ns(lambda: timed.get_secrets("u", "fx"),
                                                          loops)))  # fmt: skip
    tracing.install(None)
    rows.append(("tracing calls, off", loop_ns(tracing_calls, loops)))
    provider = otel_on()
    rows.append(("tracing calls, on", loop_ns(tracing_calls, loops)))
    tracing.install(None)
    provider.shutdown()
    print(f"{'hooks (ns per call, loop means)':34} {'min':>9} {'p50':>9} {'p99':>9}")
    for name, (low, p50, p99) in rows:
        print(f"{name:34} {low:9.0f} {p50:9.0f} {p99:9.0f}")


class Sink:
    """Accepts OTLP/HTTP posts and drops them."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


async def e2e_round(data: Path, n: int, traced: bool, sink: Sink) -> tuple[float, float, float]:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        os.environ.pop(name, None)
    if traced:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
    settings = load_settings(
        environ={},
        store={"data_dir": data},
        installer={"packages_dir": data / "packages"},
        http={
            "admin_api_key": "mcpgw_bench-admin-key-0123456789abcdefghijkl",
            "log_level": "warning",
        },
    )
    runtime = Runtime(settings, announce=lambda _: None, reconcile_packages=False)
    app = create_app(runtime)
    auth = {"Authorization": f"Bearer {KEY}"}
    async with app.router.lifespan_context(app):
        assert tracing.enabled() is traced
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://gw", headers=auth) as c:
            server = {"name": "fx", "command": sys.executable, "args": [FIXTURE]}
            assert (await c.post("/mcp/servers", json=server)).status_code == 200
            call = {"serverName": "fx", "methodName": "echo", "args": {"text": "hello"}}
            with anyio.fail_after(30):
                while (await c.post("/mcp/tool/call", json=call)).status_code != 200:  # noqa: ASYNC110
                    await anyio.sleep(0.05)
            samples = []
            for i in range(n + 50):
                start = time.perf_counter()
                resp = await c.post("/mcp/tool/call", json=call)
                if i >= 50:  # warm-up
                    samples.append((time.perf_counter() - start) * 1000)
                assert resp.status_code == 200
    return pcts(samples)


async def e2e(n: int, rounds: int) -> None:
    sink = Sink()
    results: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for traced in (False, True):
                data = Path(tmp) / f"round-{i}-{traced}"
                results[traced].append(await e2e_round(data, n, traced, sink))
    print(f"\n{'e2e POST /mcp/tool/call (ms)':34} {'p50':>9} {'p99':>9}   (median of rounds)")
    for traced, label in ((False, "traces off"), (True, "traces on (OTLP/HTTP)")):
        p50 = statistics.median(r[1] for r in results[traced])
        p99 = statistics.median(r[2] for r in results[traced])
        print(f"{label:34} {p50:9.3f} {p99:9.3f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=200, help="loops of 1000 hook calls")
    parser.add_argument("-n", type=int, default=500, help="tool calls per e2e round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-e2e", action="store_true")
    args = parser.parse_args()
    await hooks(args.loops)
    if not args.no_e2e:
        await e2e(args.n, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
