"""``MCPGW_LOG_FORMAT=json``: one JSON object per line with the request's context and the
replica id, masked by the same filter as text lines (canaries searched); text lines name the
replica too."""

from __future__ import annotations

import io
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_gateway import logcontext
from mcp_gateway.cli.logformat import JsonFormatter, text_formatter
from mcp_gateway.cli.logsafe import SafeRecords
from tests.gateway_process import GatewayProcess, gateway_env

PASSWORD = "json-log-password-canary-58"
ADMIN_KEY = "mcpgw_test-admin-key-0123456789abcdefghijklmnopqrstuv"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SafeRecords())
    handler.setFormatter(JsonFormatter("gw-test"))
    logger = logging.getLogger("mcp_gateway.test_log_format")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_json_line_carries_context_and_is_masked_by_the_log_filter(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    tokens = [
        logcontext.REQUEST_ID.set("req-1"),
        logcontext.SERVER.set(f"http://u:{PASSWORD}@host/x"),
        logcontext.TOOL.set("echo\nFAKE"),
        logcontext.OUTCOME.set("upstream_error"),
    ]
    try:
        logger.warning("calling http://svc:%s@example.test/mcp\nFAKE LINE", PASSWORD)
    finally:
        for var, token in zip(
            (logcontext.REQUEST_ID, logcontext.SERVER, logcontext.TOOL, logcontext.OUTCOME),
            tokens,
            strict=True,
        ):
            var.reset(token)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and PASSWORD not in stream.getvalue()
    line = json.loads(lines[0])
    assert line["level"] == "WARNING" and line["logger"] == "mcp_gateway.test_log_format"
    assert line["message"].startswith("calling http://***:***@example.test/mcp")
    assert line["replica"] == "gw-test" and line["requestId"] == "req-1"
    assert line["outcome"] == "upstream_error" and line["tool"] == "echo\\nFAKE"
    assert line["time"].endswith("Z")


def test_outside_a_request_there_are_no_context_fields(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise ValueError(f"boom http://a:{PASSWORD}@h/ \u202e\u2028\x9b")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    assert text.isascii() and len(text.splitlines()) == 1  # one line, no raw bidi/C1
    line = json.loads(text)
    assert "\u202e" in line["exception"]  # kept, escaped, for the reader to see
    assert not {"requestId", "server", "tool", "outcome"} & set(line)
    assert "ValueError" in line["exception"] and PASSWORD not in line["exception"]


def test_text_lines_name_the_replica() -> None:
    record = logging.LogRecord("mcp_gateway", logging.INFO, __file__, 1, "hello", None, None)
    assert " gw-7 INFO mcp_gateway: hello" in text_formatter("gw-7").format(record)


def _request(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {ADMIN_KEY}")
    req.add_header("X-Request-Id", "json-log-req-1")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.slow
def test_serve_with_json_format_writes_only_json_lines_with_request_context(
    tmp_path: Path,
) -> None:
    env = gateway_env(
        tmp_path / "data",
        MCPGW_ADMIN_API_KEY=ADMIN_KEY,
        MCPGW_LOG_FORMAT="json",
        MCPGW_REPLICA_ID="gw-json-1",
    )
    with GatewayProcess(env) as gateway:
        # An unreachable upstream URL with a password: the failed call is logged as a warning.
        url = f"http://svc:{PASSWORD}@127.0.0.1:1/mcp"
        body = {"name": "remote", "transportType": "streamable_http", "url": url}
        status, answer = _request(f"{gateway.url}/mcp/servers", body)
        assert status == 200, answer
        call = {"serverName": "remote", "methodName": "echo", "args": {"text": "hi"}}
        status, answer = _request(f"{gateway.url}/mcp/tool/call", call)
        assert status >= 500, answer
        deadline = time.monotonic() + 20
        while "json-log-req-1" not in gateway.stderr:
            assert time.monotonic() < deadline, gateway.stderr
            time.sleep(0.05)
        log = gateway.stderr
    assert PASSWORD not in log
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert lines and all(line["replica"] == "gw-json-1" for line in lines)
    in_request = [line for line in lines if line.get("requestId") == "json-log-req-1"]
    assert any(line.get("server") == "remote" and line.get("tool") == "echo"
               and line.get("outcome") for line in in_request), in_request  # fmt: skip
