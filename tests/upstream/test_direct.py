"""Plain tool calls on a Streamable HTTP upstream session without the SDK's client machinery
(upstream/direct.py): same results and errors, connections kept, the call's stream passed on."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import mcp_types as types
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import ServerStatus
from mcp_gateway.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from mcp_gateway.upstream.relay import CALL_RELAY, InputAnswer
from tests.conformance.tools import conformance_upstream
from tests.upstream.conftest import HttpFixture, poll_until, text_of
from tests.upstream.test_http_pool import http_config

pytestmark = pytest.mark.anyio

ERAS = [("--legacy",), ("--modern-only",)]


class Relay:
    """A downstream client of one call: answers elicitations with a name, keeps log lines."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.logged: list[object] = []

    async def ask(self, request: types.InputRequest) -> InputAnswer:
        self.asked.append(request.method)
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logged.append(params.data)


async def upstream_cancelled(fx: HttpFixture) -> None:
    """Poll the fixture until one of its ``sleep`` calls was cancelled by the client."""
    with anyio.fail_after(15):
        while (await fx.stats())["cancelled"] < 1:  # noqa: ASYNC110 (another process)
            await anyio.sleep(0.05)


@pytest.mark.parametrize("flags", [(), ("--json-response",), ("--legacy",)])
async def test_plain_calls_reuse_one_upstream_connection(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
    flags: tuple[str, ...],
) -> None:
    fx = http_fixture(*flags)
    server = http_config(fx.url)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        await pool.call_tool(server, "echo", {"text": "warm"}, username="u")
        before = (await fx.stats())["connections"]
        for n in range(20):
            result = await pool.call_tool(server, "echo", {"text": f"n{n}"}, username="u")
            assert text_of(result) == f"n{n}"
        after = (await fx.stats())["connections"]
    # The SDK's client closed each call's SSE response early: one new connection per call.
    assert after - before <= 1


@pytest.mark.parametrize("flags", ERAS)
async def test_a_log_message_of_the_call_reaches_that_calls_client(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
    flags: tuple[str, ...],
) -> None:
    fx = http_fixture(*flags)
    server = http_config(fx.url)
    relay = Relay()
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        token = CALL_RELAY.set(relay)
        try:
            result = await pool.call_tool(
                server, "log_message", {"message": "hello log"}, username="u"
            )
        finally:
            CALL_RELAY.reset(token)
    assert text_of(result) == "logged"
    if flags == ("--legacy",):  # 2026-07-28 logging is opt-in per request: none asked here
        assert relay.logged == ["hello log"]


async def test_an_upstream_request_on_the_calls_stream_is_answered_by_that_calls_client(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url)
    relay = Relay()
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        token = CALL_RELAY.set(relay)
        try:
            result = await pool.call_tool(server, "ask_name", {}, username="u")
        finally:
            CALL_RELAY.reset(token)
        # Without a client that can answer, the upstream hears why and the call still ends.
        refused = await pool.call_tool(server, "ask_name", {}, username="u")
    assert text_of(result) == "accept Ada"
    assert relay.asked == ["elicitation/create"]
    assert "no MCP client" in text_of(refused)


async def test_a_timed_out_call_is_cancelled_upstream_and_reported_as_a_timeout(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url, call_timeout=0.5)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        with pytest.raises(UpstreamTimeout, match="did not answer within 0.5s"):
            await pool.call_tool(server, "sleep", {"seconds": 60}, username="u")
        await upstream_cancelled(fx)
        result = await pool.call_tool(server, "echo", {"text": "after"}, username="u")
    assert text_of(result) == "after"


async def test_a_cancelled_caller_cancels_the_upstream_call(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        await pool.call_tool(server, "echo", {"text": "warm"}, username="u")
        with anyio.move_on_after(0.5):
            await pool.call_tool(server, "sleep", {"seconds": 60}, username="u")
        await upstream_cancelled(fx)
        await poll_until(lambda: pool.status("web").in_flight == 0)


async def test_an_upstreams_json_rpc_error_is_passed_on_as_the_sdk_path_did(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        with pytest.raises(UpstreamError, match="answered with an error") as caught:
            await pool.call_tool(server, "http_error_body", {"size": 10}, username="u")
    assert caught.value.rpc_code == -32000


@pytest.mark.slow
async def test_a_call_stream_the_upstream_closes_mid_call_is_resumed_with_last_event_id(
    sqlite_store: Store, upstream_settings: UpstreamSettings
) -> None:
    # The conformance fixture's test_reconnection closes its response stream before the
    # result (SEP-1699 polling); its event store replays the rest on GET + Last-Event-ID.
    with conformance_upstream() as url:
        async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
            result = await pool.call_tool(http_config(url), "test_reconnection", {}, username="u")
    assert not result.is_error, result
    assert text_of(result) == "Reconnection test completed"


async def test_an_upstream_that_cannot_be_reached_any_more_restarts_its_session(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        await pool.call_tool(server, "echo", {"text": "warm"}, username="u")
        fx.stop()
        with pytest.raises(UpstreamUnavailable):
            await pool.call_tool(server, "echo", {"text": "gone"}, username="u")
        # As when the SDK transport's writer died of it: the owner notices and reconnects
        # (fails, backs off) instead of showing a connected session every call waits on.
        await poll_until(lambda: pool.status("web").status is not ServerStatus.CONNECTED)
