"""``GET /metrics``: Prometheus text from a registry owned by the app (no global state).

Tool calls are counted and timed by server and outcome (``ok``, ``tool_error`` or an error
code); live gauges (server status, audit queue) are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain.servers import ServerStatus

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _LiveCollector(Collector):
    def __init__(self, runtime: GatewayRuntime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime
        if not runtime.is_open:
            return
        up = GaugeMetricFamily(
            "mcpgw_server_status", "1 for the server's current status", labels=["server", "status"]
        )
        restarts = CounterMetricFamily(
            "mcpgw_server_restarts", "restarts of the upstream server", labels=["server"]
        )
        for name, state in runtime.pool.statuses().items():
            for status in ServerStatus:
                up.add_metric([name, status.value], 1.0 if state.status is status else 0.0)
            restarts.add_metric([name], state.restarts)
        yield up
        yield restarts
        audit = runtime.audit
        events = CounterMetricFamily("mcpgw_audit_events", "audit events by fate", labels=["fate"])
        events.add_metric(["written"], audit.written)
        events.add_metric(["dropped"], audit.dropped)
        events.add_metric(["failed"], audit.failed)
        yield events
        yield GaugeMetricFamily(
            "mcpgw_uptime_seconds", "seconds since the runtime opened", value=runtime.uptime
        )


class ApiMetrics:
    def __init__(self, runtime: GatewayRuntime) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "mcpgw_tool_calls",
            "tool calls by server and outcome",
            ["server", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mcpgw_tool_call_duration_seconds",
            "tool call latency inside the gateway, by server and outcome",
            ["server", "outcome"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_LiveCollector(runtime))

    def observe_tool_call(self, server: str, outcome: str, seconds: float) -> None:
        self.calls.labels(server, outcome).inc()
        self.latency.labels(server, outcome).observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        """Prometheus text exposition. Unauthenticated, like /healthz: bind the listener
        accordingly (it names servers, never users or secrets)."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
