"""Work a request starts but does not own (a server's supervisor, which outlives the request
that added it) runs without that request's log context and trace: its lines are not
attributed to the admin's request, and its upstream messages do not join that trace."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import anyio
import pytest

from mcp_gateway import logcontext
from tests.api.conftest import Gateway

pytestmark = pytest.mark.anyio


class _Grab(logging.Handler):
    """Each record with the log context current where it was emitted."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, str]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), logcontext.current()))


@pytest.fixture
def supervisor_lines() -> Iterator[_Grab]:
    logger = logging.getLogger("mcp_gateway.upstream.supervisor")
    grab = _Grab()
    logger.addHandler(grab)
    try:
        yield grab
    finally:
        logger.removeHandler(grab)


async def test_a_supervisor_does_not_log_under_the_request_that_added_its_server(
    gateway: Gateway, supervisor_lines: _Grab
) -> None:
    body = {
        "name": "broken",
        "command": sys.executable,
        "args": ["-c", "import sys; sys.exit(3)"],
    }
    headers = {"X-Request-Id": "req-create-canary", **gateway.admin}
    resp = await gateway.client.post("/mcp/servers", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    with anyio.fail_after(20):
        while True:
            if any("broken" in message for message, _ in supervisor_lines.seen):
                break
            await anyio.sleep(0.05)
    for message, context in supervisor_lines.seen:
        assert context.get("requestId") != "req-create-canary", (message, context)
