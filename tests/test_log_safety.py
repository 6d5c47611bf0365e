"""What ``serve`` writes to its log: no URL credentials, one line per record. A real gateway
subprocess calls a real Streamable HTTP fixture server; its stderr is searched."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_gateway.cli.logsafe import SafeRecords, escape_controls
from tests.api.conftest import FIXTURE_SERVER
from tests.gateway_process import GatewayProcess, gateway_env
from tests.upstream.conftest import HttpFixture

ADMIN_KEY = "mcpgw_test-admin-key-0123456789abcdefghijklmnopqrstuv"
PASSWORD = "url-password-canary-31"
QUERY = "query-key-canary-47"


def _request(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {ADMIN_KEY}")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def upstream() -> Iterator[HttpFixture]:
    fixture = HttpFixture(FIXTURE_SERVER, ())
    fixture.start()
    yield fixture
    fixture.stop()


@pytest.mark.slow
def test_serve_logs_no_url_credentials_and_caller_text_cannot_forge_a_line(
    tmp_path: Path, upstream: HttpFixture
) -> None:
    env = gateway_env(tmp_path / "data", MCPGW_ADMIN_API_KEY=ADMIN_KEY)
    url = f"http://svc:{PASSWORD}@127.0.0.1:{upstream.port}/mcp?api_key={QUERY}"
    with GatewayProcess(env) as gateway:
        body = {"name": "remote", "transportType": "streamable_http", "url": url}
        status, answer = _request(f"{gateway.url}/mcp/servers", body)
        assert status == 200, answer
        deadline = time.monotonic() + 20
        while True:  # poll the gateway until the server is connected
            status, answer = _request(f"{gateway.url}/mcp/servers/remote")
            if answer["server"]["status"] == "connected" and answer["server"]["toolsList"]:
                break
            assert time.monotonic() < deadline, answer
            time.sleep(0.05)
        call = {"serverName": "remote", "methodName": "echo", "args": {"text": "hi"}}
        status, answer = _request(f"{gateway.url}/mcp/tool/call", call)
        assert status == 200, answer
        # An upstream error carrying caller-chosen text is logged (api/errors.py) as a warning.
        text = "nope\nFAKE LINE forged\x1b[2J"
        forged = {"serverName": "remote", "methodName": "fail_with_args",
                  "args": {"text": text, "mode": "protocol"}}  # fmt: skip
        status, answer = _request(f"{gateway.url}/mcp/tool/call", forged)
        assert status == 502, answer
        named = {**call, "methodName": "nope\nFAKE LINE from a tool name"}
        status, answer = _request(f"{gateway.url}/mcp/tool/call", named)
        assert status in (200, 502), answer  # the upstream's "unknown tool", however it says it
        log = gateway.stderr
    assert "HTTP Request: POST http://***:***@127.0.0.1" in log  # the client's INFO line
    assert PASSWORD not in log and QUERY not in log
    assert not any(line.startswith("FAKE LINE") for line in log.splitlines())
    assert "\x1b" not in log
    assert "text=nope\\nFAKE LINE forged\\x1b[2J" in log


def test_the_filter_escapes_controls_in_messages_and_masks_urls_in_tracebacks() -> None:
    # e.g. tool_calls' "tool call %s/%s failed" with a methodName holding a newline
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "got %s\r\n%s", ("a\u2028b",
                               "http://u:p@h/?k=v"), None)  # fmt: skip
    try:
        raise RuntimeError("fetching https://u:secret-pw@h/x?token=abc")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert SafeRecords().filter(record)
    text = logging.Formatter().format(record)
    assert text.splitlines()[0] == "got a\\u2028b\\r\\nhttp://***:***@h/?k=***"
    assert "secret-pw" not in text and "token=***" in text
    assert escape_controls("tab\tkept\x85\x00") == "tab\tkept\\x85\\x00"


def test_bidirectional_overrides_are_escaped_so_a_line_reads_as_it_is_stored() -> None:
    # U+202E (RIGHT-TO-LEFT OVERRIDE) and friends reorder what a terminal or log viewer shows.
    shown = escape_controls("upstream 'x': ok \u202edeliaf\u202c \u2066y\u2069 \u200f")
    assert shown == "upstream 'x': ok \\u202edeliaf\\u202c \\u2066y\\u2069 \\u200f"


def test_mcp_session_ids_in_the_sdks_session_records_are_cut_to_a_prefix() -> None:
    session_id = "0123456789abcdef" * 3  # the gateway's 48 hex digits
    for name, msg in [
        ("mcp.server.streamable_http_manager", "Created new transport with session ID: %s"),
        ("mcp.server.streamable_http", "Terminating session: %s"),
    ]:
        record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, (session_id,), None)
        assert SafeRecords().filter(record)
        text = logging.Formatter().format(record)
        assert session_id[:24] not in text and text.endswith("01234567...")
    # other loggers' hex (a digest in a gateway message) is left as it is
    other = logging.LogRecord("mcp_gateway.x", logging.INFO, __file__, 1, session_id, (), None)
    assert SafeRecords().filter(other) and other.getMessage() == session_id
