"""OpenTelemetry traces end to end: a real gateway exports over OTLP/HTTP to an in-process
collector; the spans link request -> tool call -> upstream round trip, continue the caller's
``traceparent``, and the HTTP fixture upstream receives that context as a header and in
``_meta``. Without the ``OTEL_*`` variables nothing is traced or sent."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from mcp_gateway.errors import ConfigError
from mcp_gateway.observability import otel, tracing
from tests.api.conftest import Gateway, MakeGateway
from tests.upstream.conftest import FIXTURE_SERVER, HttpFixture

trace_service = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="the otel extra (pip install 'mcp-gateway[otel]') is not installed",
)

OTEL_VARS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Collector:
    """An OTLP/HTTP trace receiver on a free port (protobuf on POST /v1/traces)."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = trace_service.ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.requests.append(request)
                collector.paths.append(self.path)
                reply = trace_service.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> dict[str, Any]:
        """Every exported span by name (names are unique in these tests)."""
        found: dict[str, Any] = {}
        for request in self.requests:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found[span.name] = span
        return found

    def service_names(self) -> set[str]:
        return {
            attr.value.string_value
            for request in self.requests
            for rs in request.resource_spans
            for attr in rs.resource.attributes
            if attr.key == "service.name"
        }


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    yield c
    c.server.shutdown()
    c.server.server_close()


@pytest.fixture
def upstream() -> Iterator[HttpFixture]:
    fx = HttpFixture(FIXTURE_SERVER, ())
    fx.start()
    yield fx
    fx.stop()


@pytest.fixture
def no_otel_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in OTEL_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def add_http_server(gw: Gateway, url: str) -> None:
    body = {"name": "remote", "transportType": "streamable_http", "url": url}
    resp = await gw.client.post("/mcp/servers", json=body, headers=gw.admin)
    assert resp.status_code == 200, resp.text
    await gw.wait_status("remote", "connected")


async def seen_by_upstream(fx: HttpFixture) -> dict[str, str | None]:
    async with httpx2.AsyncClient(timeout=5.0) as client:
        seen: dict[str, str | None] = (await client.get(f"{fx.base}/trace")).json()
        return seen


@pytest.mark.anyio
async def test_a_tool_call_is_traced_from_request_to_upstream_and_exported_over_otlp(
    make_gateway: MakeGateway,
    collector: Collector,
    upstream: HttpFixture,
    no_otel_env: pytest.MonkeyPatch,
) -> None:
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    no_otel_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    async with make_gateway() as gw:
        assert tracing.enabled()
        await add_http_server(gw, upstream.url)
        caller = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01", **gw.admin}
        body = {"serverName": "remote", "methodName": "echo", "args": {"text": "hi"}}
        resp = await gw.client.post("/mcp/tool/call", json=body, headers=caller)
        assert resp.status_code == 200, resp.text
        seen = await seen_by_upstream(upstream)
    assert not tracing.enabled()  # closing the runtime uninstalled (and flushed) the tracer

    assert set(collector.paths) == {"/v1/traces"}
    assert collector.service_names() == {"mcp-gateway"}
    spans = collector.spans()
    request = spans["POST /mcp/tool/call"]
    call = spans["tool_call"]  # one name for every call: the caller chooses the server name
    assert {a.key: a.value.string_value for a in call.attributes}["mcpgw.server"] == "remote"
    round_trip = spans["upstream tools/call"]
    for span in (request, call, round_trip):
        assert span.trace_id.hex() == TRACE_ID  # the caller's trace is continued
    assert request.parent_span_id.hex() == CALLER_SPAN
    assert call.parent_span_id == request.span_id
    assert round_trip.parent_span_id == call.span_id
    attrs = {a.key: a.value for a in round_trip.attributes}
    assert attrs["mcp.tool.name"].string_value == "echo"
    call_attrs = {a.key: a.value for a in call.attributes}
    assert call_attrs["mcpgw.outcome"].string_value == "ok"
    # The upstream got the round trip's context in _meta and as the HTTP header.
    expected = f"00-{TRACE_ID}-{round_trip.span_id.hex()}-01"
    assert seen == {"header": expected, "meta": expected}


@pytest.mark.anyio
async def test_without_otel_variables_nothing_is_traced_or_propagated(
    make_gateway: MakeGateway,
    collector: Collector,
    upstream: HttpFixture,
    no_otel_env: pytest.MonkeyPatch,
) -> None:
    async with make_gateway() as gw:
        assert not tracing.enabled()
        assert tracing.start_tool_call("s", "t") is tracing.NO_SPAN
        await add_http_server(gw, upstream.url)
        caller = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01", **gw.admin}
        body = {"serverName": "remote", "methodName": "echo", "args": {"text": "hi"}}
        resp = await gw.client.post("/mcp/tool/call", json=body, headers=caller)
        assert resp.status_code == 200, resp.text
        seen = await seen_by_upstream(upstream)
    assert seen == {"header": None, "meta": None}
    assert collector.requests == []


@pytest.mark.anyio
async def test_otel_false_wins_over_otel_variables(
    make_gateway: MakeGateway, collector: Collector, no_otel_env: pytest.MonkeyPatch
) -> None:
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    async with make_gateway(telemetry={"otel": "false"}):
        assert not tracing.enabled()


def test_traceparent_is_read_from_the_end_of_a_message_only() -> None:
    parent = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
    tail = f'"_meta":{{"traceparent":"{parent}"}}}}}}'.encode()
    assert tracing.traceparent_of(b'{"params":{"arguments":{"x":"' + b"a" * 5000 + b'"},' + tail)
    assert tracing.traceparent_of(tail) == parent
    assert tracing.traceparent_of(b'{"traceparent":"not-a-traceparent"}') is None
    # A value planted early in a large argument is not taken for the message's own context.
    planted = f'{{"arguments":{{"x":"\\"traceparent\\":\\"{parent}\\"{"a" * 5000}"}}}}'
    assert tracing.traceparent_of(planted.encode()) is None


def test_without_the_extra_true_refuses_to_start_and_auto_warns(
    no_otel_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for module in ("opentelemetry.sdk.resources", "opentelemetry.sdk.trace"):
        no_otel_env.setitem(sys.modules, module, None)  # what an install without the extra has
    with pytest.raises(ConfigError, match=r"pip install 'mcp-gateway\[otel\]'"):
        otel.start("true")
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    with caplog.at_level(logging.WARNING, logger="mcp_gateway.otel"):
        assert otel.start("auto") is None
    assert "mcp-gateway[otel]" in caplog.text
    assert not tracing.enabled()


@pytest.mark.anyio
async def test_an_upstream_error_quoting_arguments_and_secrets_is_not_exported(
    make_gateway: MakeGateway,
    collector: Collector,
    upstream: HttpFixture,
    no_otel_env: pytest.MonkeyPatch,
) -> None:
    """The upstream's error text may quote the call's arguments and injected secrets: the
    round trip's span records only the error's type, never its message or traceback."""
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    no_otel_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    secret, argument = "SECRET-CANARY-5d1e", "ARG-CANARY-93b0"
    async with make_gateway() as gw:
        await add_http_server(gw, upstream.url)
        await gw.set_secret(gw.admin_key, "remote", "token", secret)
        args = {"text": argument, "mode": "protocol"}
        resp = await gw.call(gw.admin_key, "remote", "fail_with_args", args)
        assert resp.status_code == 502, resp.text
    exported = "".join(str(request) for request in collector.requests)
    assert "upstream tools/call" in exported
    assert argument not in exported and secret not in exported
    round_trip = collector.spans()["upstream tools/call"]
    assert round_trip.status.code == 2  # STATUS_CODE_ERROR
    assert round_trip.status.message == "MCPError"


@pytest.mark.anyio
async def test_only_the_w3c_trace_context_reaches_an_upstream(
    make_gateway: MakeGateway,
    collector: Collector,
    upstream: HttpFixture,
    no_otel_env: pytest.MonkeyPatch,
) -> None:
    """A caller's ``baggage`` is not forwarded to a shared upstream (a trust boundary), and a
    ``traceparent`` planted in the arguments does not become the upstream's HTTP header."""
    no_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    planted = f"00-{'1' * 32}-{'2' * 16}-01"
    async with make_gateway() as gw:
        await add_http_server(gw, upstream.url)
        caller = {
            "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
            "baggage": "tenant=BAGGAGE-CANARY",
            **gw.admin,
        }
        args = {"text": "x", "extra": "y", "traceparent": planted}
        body = {"serverName": "remote", "methodName": "echo_args", "args": args}
        resp = await gw.client.post("/mcp/tool/call", json=body, headers=caller)
        assert resp.status_code == 200, resp.text
        seen = await seen_by_upstream(upstream)
        async with httpx2.AsyncClient(timeout=5.0) as client:
            meta = (await client.get(f"{upstream.base}/meta")).json()
    assert "BAGGAGE-CANARY" not in json.dumps(meta)
    assert seen["meta"] is not None and seen["meta"].split("-")[1] == TRACE_ID
    assert seen["header"] == seen["meta"]
