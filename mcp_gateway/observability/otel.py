"""OpenTelemetry traces (the optional ``otel`` extra): when to turn them on, and the tracer.

On when ``MCPGW_OTEL=true``, or when ``MCPGW_OTEL`` is ``auto`` (the default) and the
standard variables name an exporter: ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER`` (``otlp`` or ``console``;
``none`` means off). ``OTEL_SDK_DISABLED=true`` and ``MCPGW_OTEL=false`` turn it off. Everything
else (endpoint, headers, timeout, compression, sampler, batch sizes, ``OTEL_SERVICE_NAME``,
resource attributes) is read by the OpenTelemetry SDK from its own ``OTEL_*`` variables. The
exporter is OTLP over HTTP/protobuf.

The gateway keeps its own ``TracerProvider`` (it does not replace the process's global one), so
spans it makes are exported and flushed with the runtime's lifetime.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from mcp_gateway.errors import ConfigError
from mcp_gateway.observability import tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

log = logging.getLogger("mcp_gateway.otel")

EXPORTER_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
SCOPE = "mcp_gateway"


def wanted(mode: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether traces are asked for (``mode`` is ``MCPGW_OTEL``: auto, true or false)."""
    env = os.environ if environ is None else environ
    if mode == "false" or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return mode == "true" or bool(exporter) or any(env.get(name) for name in EXPORTER_VARS)


def start(mode: str) -> TracerProvider | None:
    """Install the gateway's tracer when traces are wanted; returns its provider (shut it down
    to flush) or None. ``MCPGW_OTEL=true`` without the extra installed is a ConfigError; with
    ``auto`` it is a warning and traces stay off."""
    if not wanted(mode):
        return None
    try:
        provider = _provider()
    except ImportError:
        message = "OpenTelemetry traces need the extra: pip install 'mcp-gateway[otel]'"
        if mode == "true":
            raise ConfigError(f"MCPGW_OTEL=true but {message}") from None
        log.warning("OTEL_* variables are set but traces are off: %s", message)
        return None
    tracing.install(OtelTracer(provider))
    log.info("OpenTelemetry traces on")
    return provider


def stop(provider: TracerProvider) -> None:
    """Uninstall the tracer and flush what is left (bounded by the SDK's export timeout)."""
    tracing.install(None)
    provider.shutdown()


def _provider() -> TracerProvider:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    from mcp_gateway import __version__

    resource = Resource.create({"service.version": __version__})
    if not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        resource = resource.merge(Resource({SERVICE_NAME: "mcp-gateway"}))
    exporter: SpanExporter
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class _ToolCallSpan:
    __slots__ = ("_span", "_token")

    def __init__(self, span: Span, token: object) -> None:
        self._span = span
        self._token = token

    def end(self, outcome: str) -> None:
        from opentelemetry import context
        from opentelemetry.trace import StatusCode

        span = self._span
        span.set_attribute("mcpgw.outcome", outcome)
        if outcome not in ("ok", "tool_error"):
            span.set_status(StatusCode.ERROR, outcome)
        context.detach(self._token)  # type: ignore[arg-type]
        span.end()


class OtelTracer:
    """:class:`tracing.Tracer` on an OpenTelemetry SDK provider."""

    def __init__(self, provider: TracerProvider) -> None:
        from mcp_gateway import __version__

        self._tracer = provider.get_tracer(SCOPE, __version__)

    def start_tool_call(self, server: str, tool: str) -> tracing.SpanHandle:
        from opentelemetry import context, trace

        # One span name for every call: a caller chooses the server name (unknown ones too),
        # and span names are meant to be few; the server is an attribute.
        span = self._tracer.start_span(
            "tool_call",
            attributes={"mcpgw.server": server[:200], "mcp.tool.name": tool[:200]},
        )
        token = context.attach(trace.set_span_in_context(span))
        return _ToolCallSpan(span, token)

    @contextmanager
    def upstream_span(self, method: str, tool: str) -> Iterator[Any]:
        """A client span around one round trip. A failure is recorded by its type only: the
        exception's text is the upstream's, which may quote the call's arguments and the
        secrets injected into them (the SDK's exception event would export it unmasked)."""
        from opentelemetry.trace import SpanKind, StatusCode

        attributes = {"mcp.method.name": method}
        if tool:
            attributes["mcp.tool.name"] = tool[:200]
        # Typed local: without opentelemetry-sdk installed the API's stubs leave this Any.
        span: AbstractContextManager[Any] = self._tracer.start_as_current_span(
            f"upstream {method}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        with span as current:
            try:
                yield current
            except Exception as exc:
                current.set_status(StatusCode.ERROR, type(exc).__name__)
                raise

    @contextmanager
    def http_span(
        self, method: str, path: str, headers: Mapping[str, str]
    ) -> Iterator[dict[str, Any]]:
        """A server span for one HTTP request, continuing the caller's ``traceparent``. The
        caller fills the yielded dict with ``route`` and ``status`` before it closes."""
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind, StatusCode

        parent = extract(headers) if tracing.TRACEPARENT in headers else None
        result: dict[str, Any] = {}
        with self._tracer.start_as_current_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path[:500]},
        ) as span:
            yield result
            route = result.get("route")
            if route:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            status = result.get("status")
            if isinstance(status, int):
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
