"""``GET /metrics``: Prometheus text for the runtime's :class:`GatewayMetrics` plus the gauges
that describe the present, read at scrape time (no hot-path cost): server status, uptime,
restarts, live instances, in-flight calls, audit queue, build info.

Unauthenticated by default, like ``/healthz`` (it names servers and tools, never users or
secrets). ``MCPGW_METRICS_KEY`` requires ``Authorization: Bearer <key>`` (compared in constant
time) for listeners a scraper reaches over a public network.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from mcp_gateway.api.auth import audit_unauthenticated
from mcp_gateway.api.runtime_port import GatewayRuntime
from mcp_gateway.domain.servers import ServerStatus
from mcp_gateway.errors import Unauthenticated


class _LiveCollector(Collector):
    def __init__(self, runtime: GatewayRuntime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime
        info = GaugeMetricFamily(
            "mcpgw_build_info",
            "1, labelled with version and replica",
            labels=["version", "replica"],
        )
        info.add_metric([runtime.version, runtime.replica_id], 1.0)
        yield info
        if not runtime.is_open:
            return
        yield from _server_metrics(runtime)
        audit = runtime.audit
        events = CounterMetricFamily("mcpgw_audit_events", "audit events by fate", labels=["fate"])
        events.add_metric(["written"], audit.written)
        events.add_metric(["dropped"], audit.dropped)
        events.add_metric(["failed"], audit.failed)
        yield events
        limited = CounterMetricFamily(
            "mcpgw_rate_limited_calls",
            "tool calls refused by a rate limit, by server and limit (total, perKey, perUser)",
            labels=["server", "limit"],
        )
        for (server, limit), count in runtime.tools.limiter.refusals().items():
            limited.add_metric([server, limit], count)
        yield limited
        yield GaugeMetricFamily(
            "mcpgw_audit_queue_depth", "audit events waiting to be written", value=audit.pending
        )
        yield GaugeMetricFamily(
            "mcpgw_uptime_seconds", "seconds since the runtime opened", value=runtime.uptime
        )


def _server_metrics(runtime: GatewayRuntime) -> Iterator[Metric]:
    status = GaugeMetricFamily(
        "mcpgw_server_status", "1 for the server's current status", labels=["server", "status"]
    )
    restarts = CounterMetricFamily(
        "mcpgw_server_restarts", "restarts of the upstream server", labels=["server"]
    )
    uptime = GaugeMetricFamily(
        "mcpgw_server_uptime_seconds",
        "seconds the shared session has been connected (absent when not connected)",
        labels=["server"],
    )
    instances = GaugeMetricFamily(
        "mcpgw_server_instances",
        "connected upstream sessions (1 for a shared server, the per-user count otherwise)",
        labels=["server"],
    )
    in_flight = GaugeMetricFamily(
        "mcpgw_server_in_flight", "tool calls admitted and not finished", labels=["server"]
    )
    for name, state in runtime.pool.statuses().items():
        for value in ServerStatus:
            status.add_metric([name, value.value], 1.0 if state.status is value else 0.0)
        restarts.add_metric([name], state.restarts)
        if state.uptime is not None:
            uptime.add_metric([name], state.uptime)
        instances.add_metric([name], state.instances)
        in_flight.add_metric([name], state.in_flight)
    yield from (status, restarts, uptime, instances, in_flight)


class ApiMetrics:
    """The ``/metrics`` endpoint of one app."""

    def __init__(self, runtime: GatewayRuntime) -> None:
        self._runtime = runtime
        self._live = CollectorRegistry()
        self._live.register(_LiveCollector(runtime))
        key = runtime.settings.telemetry.metrics_key
        self._key = key.get_secret_value().encode() if key is not None else None

    def _check(self, request: Request) -> None:
        if self._key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._key):
            exc = Unauthenticated("/metrics needs the metrics key: Authorization: Bearer <key>")
            audit_unauthenticated(request, exc)
            raise exc

    async def endpoint(self, request: Request) -> Response:
        """Prometheus text exposition."""
        self._check(request)
        body = generate_latest(self._runtime.metrics.registry) + generate_latest(self._live)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
