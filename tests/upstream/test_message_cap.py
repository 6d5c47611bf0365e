"""The upstream message size cap (MCPGW_MAX_MESSAGE_BYTES): stdio framing, HTTP bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.errors import UpstreamError
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.limits import (
    LineSplitter,
    Overflow,
    OverflowEnd,
    find_request_id,
    is_server_message,
)
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import TINY_SERVER, HttpFixture, in_flight, poll_until, stdio_config
from tests.upstream.conftest import text_of as _text

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
GUARD = 60  # seconds: the old quadratic reader took minutes here, the test must not hang


# -- framing (pure) -------------------------------------------------------------------------


def test_lines_split_across_chunks_are_joined_whole() -> None:
    splitter = LineSplitter(limit=100)
    assert splitter.feed(b'{"a"') == []
    assert splitter.feed(b":1}\n{") == [b'{"a":1}']
    assert splitter.feed(b"}\n\n") == [b"{}", b""]


def test_an_oversized_line_is_reported_once_and_the_next_line_is_intact() -> None:
    splitter = LineSplitter(limit=10)
    out = splitter.feed(b'{"id":3,"result":"') + splitter.feed(b"y" * 1000)
    assert out == [Overflow(b'{"id":3,"result":"')]
    end = splitter.feed(b'"}\n{"ok":1}\n')
    assert isinstance(end[0], OverflowEnd) and end[0].size == 18 + 1000 + 2
    assert end[0].tail.endswith(b'y"}') and len(end[0].tail) <= 256
    assert end[1] == b'{"ok":1}'


def test_the_request_id_is_read_from_the_head_or_the_tail_of_a_discarded_line() -> None:
    assert find_request_id(b'{"jsonrpc":"2.0","id":7,"result":{"x', None) == 7
    assert find_request_id(b'{"id": "a\\"b", "result"', None) == 'a"b'
    assert find_request_id(b'{"result":{"content', b'xx"}]},"jsonrpc":"2.0","id":12}') == 12
    assert find_request_id(b'{"result":{"content', b'"text":"\\"id\\":5}"}') is None
    assert find_request_id(b'{"result":{"content', b'"inner":{"id":5}}}') is None
    assert is_server_message(b'{"jsonrpc":"2.0","method":"notifications/message"')
    assert not is_server_message(b'{"jsonrpc":"2.0","id":1,"result"')


# -- stdio ----------------------------------------------------------------------------------


@pytest.fixture
async def capped_pool(sqlite_store: Store) -> AsyncIterator[UpstreamPool]:
    settings = UpstreamSettings(busy_wait=0.2, max_message_bytes=8 * MiB)
    async with UpstreamPool(sessions=sqlite_store, settings=settings) as opened:
        yield opened


@pytest.mark.slow
async def test_a_50_mb_answer_fails_its_call_with_502_while_another_server_answers(
    capped_pool: UpstreamPool,
) -> None:
    big = stdio_config("big", script=TINY_SERVER)
    other = stdio_config("other", script=TINY_SERVER)
    await capped_pool.call_tool(other, "echo", {"text": "warm"}, username="bob")
    failure: list[UpstreamError] = []

    async def huge() -> None:
        with pytest.raises(UpstreamError) as info:
            await capped_pool.call_tool(big, "big", {"size": 50 * MiB}, username="alice")
        failure.append(info.value)

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(huge)
            await poll_until(lambda: in_flight(capped_pool, "big") == 1)
            answer = await capped_pool.call_tool(other, "echo", {"text": "hi"}, username="bob")
            assert _text(answer) == "hi"
    error = failure[0]
    assert type(error) is UpstreamError and error.status == 502 and error.code == "upstream_error"
    assert "'big'" in error.message and "MCPGW_MAX_MESSAGE_BYTES" in error.message
    assert str(8 * MiB) in error.message
    assert _text(await capped_pool.call_tool(big, "echo", {"text": "ok"}, username="a")) == "ok"
    assert any("discarded a" in line for line in capped_pool.status("big").logs)


async def test_an_oversized_answer_with_the_id_last_fails_only_that_call(
    sqlite_store: Store,
) -> None:
    settings = UpstreamSettings(busy_wait=0.2, max_message_bytes=64 * 1024)
    server = stdio_config("ts", script=TINY_SERVER, args=("--result-first",))
    async with UpstreamPool(sessions=sqlite_store, settings=settings) as pool:
        await pool.call_tool(server, "echo", {"text": "warm"}, username="u")
        slow: list[str] = []

        async def sleeper() -> None:
            slow.append(_text(await pool.call_tool(server, "sleep", {"seconds": 1}, username="u")))

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tg:
                tg.start_soon(sleeper)
                await poll_until(lambda: in_flight(pool, "ts") == 1)
                with pytest.raises(UpstreamError) as info:
                    await pool.call_tool(server, "big", {"size": 1 * MiB}, username="u")
        assert "MCPGW_MAX_MESSAGE_BYTES" in info.value.message
        assert slow == ["slept"]  # the concurrent call on the same session was not failed


async def test_a_5_mb_answer_under_the_cap_is_returned_whole(capped_pool: UpstreamPool) -> None:
    server = stdio_config("big", script=TINY_SERVER)
    result = await capped_pool.call_tool(server, "big", {"size": 5 * MiB}, username="u")
    assert len(_text(result)) == 5 * MiB


# -- HTTP -----------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [(), ("--json-response",)], ids=["sse", "json"])
async def test_an_oversized_http_answer_fails_its_call_with_502(
    sqlite_store: Store,
    http_fixture: Callable[..., HttpFixture],
    flags: tuple[str, ...],
) -> None:
    fx = http_fixture("--legacy", *flags)
    server = ServerConfig(name="web", transport_type=TransportType.STREAMABLE_HTTP, url=fx.url)
    settings = UpstreamSettings(busy_wait=0.2, max_message_bytes=256 * 1024)
    async with UpstreamPool(sessions=sqlite_store, settings=settings) as pool:
        with anyio.fail_after(GUARD), pytest.raises(UpstreamError) as info:
            await pool.call_tool(server, "big", {"size": 4 * MiB}, username="u")
        assert type(info.value) is UpstreamError and info.value.status == 502
        assert "'web'" in info.value.message and "MCPGW_MAX_MESSAGE_BYTES" in info.value.message
        result = await pool.call_tool(server, "echo", {"text": "small"}, username="u")
        assert _text(result) == "small"


async def test_an_oversized_http_error_body_is_not_read_whole(
    sqlite_store: Store, http_fixture: Callable[..., HttpFixture]
) -> None:
    fx = http_fixture("--legacy")
    server = ServerConfig(name="web", transport_type=TransportType.STREAMABLE_HTTP, url=fx.url)
    settings = UpstreamSettings(busy_wait=0.2, max_message_bytes=256 * 1024)
    async with UpstreamPool(sessions=sqlite_store, settings=settings) as pool:
        small = 1000
        with pytest.raises(UpstreamError) as info:
            await pool.call_tool(server, "http_error_body", {"size": small}, username="u")
        assert "e" * small in info.value.message  # under the cap: the upstream's own error
        with anyio.fail_after(GUARD), pytest.raises(UpstreamError) as info:
            await pool.call_tool(server, "http_error_body", {"size": 4 * MiB}, username="u")
        assert info.value.status == 502 and len(info.value.message) < 1000
        assert _text(await pool.call_tool(server, "echo", {"text": "ok"}, username="u")) == "ok"
