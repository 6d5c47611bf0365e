"""The pool over HTTP: session ids persisted and resumed, 404 recovery, SSE fallback, 2026."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import anyio
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import ServerConfig, ServerStatus, TransportType
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import SSE_ONLY_SERVER, HttpFixture, text_of

pytestmark = pytest.mark.anyio


def http_config(url: str, name: str = "web", **kw: object) -> ServerConfig:
    return ServerConfig(
        name=name,
        transport_type=TransportType.STREAMABLE_HTTP,
        url=url,
        **kw,  # type: ignore[arg-type]
    )


async def test_session_is_persisted_and_resumed_after_a_gateway_restart_without_initialize(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        result = await pool.call_tool(server, "echo", {"text": "one"}, username="u")
        assert text_of(result) == "one"
    stored = await sqlite_store.get_session("web", "")
    assert stored is not None and stored.session_id
    assert (await fx.stats())["initialize"] == 1

    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        result = await pool.call_tool(server, "echo", {"text": "two"}, username="u")
        assert text_of(result) == "two"
    stats = await fx.stats()
    assert stats["initialize"] == 1  # resumed, not re-initialized
    assert stats["deletes"] == 0  # a gateway shutdown keeps the session for the next start


async def test_stale_stored_session_gets_404_then_reinitializes_once(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        await pool.call_tool(server, "echo", {"text": "one"}, username="u")
        old = await sqlite_store.get_session("web", "")
        await anyio.to_thread.run_sync(fx.restart)  # the upstream forgets every session
        result = await pool.call_tool(server, "echo", {"text": "after"}, username="u")
        assert text_of(result) == "after"
        new = await sqlite_store.get_session("web", "")
    assert old is not None and new is not None and new.session_id != old.session_id
    assert (await fx.stats())["initialize"] == 1  # one re-initialize on the new process


async def test_stale_session_at_gateway_start_is_replaced(
    sqlite_store: Store,
    upstream_settings: UpstreamSettings,
    http_fixture: Callable[..., HttpFixture],
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        await pool.call_tool(server, "echo", {"text": "one"}, username="u")
    await anyio.to_thread.run_sync(fx.restart)
    async with UpstreamPool(sessions=sqlite_store, settings=upstream_settings) as pool:
        result = await pool.call_tool(server, "echo", {"text": "two"}, username="u")
        assert text_of(result) == "two"
        assert pool.status("web").status is ServerStatus.CONNECTED
    assert (await fx.stats())["initialize"] == 1


async def test_removing_a_server_ends_its_http_session_and_forgets_it(
    pool: UpstreamPool, sqlite_store: Store, http_fixture: Callable[..., HttpFixture]
) -> None:
    fx = http_fixture("--legacy")
    server = http_config(fx.url)
    await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    await pool.remove("web")
    assert await sqlite_store.get_session("web", "") is None
    assert (await fx.stats())["deletes"] == 1


async def test_sse_only_server_is_reached_through_the_legacy_fallback(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture]
) -> None:
    fx = http_fixture(script=SSE_ONLY_SERVER)
    server = http_config(f"{fx.base}/sse")
    result = await pool.call_tool(server, "echo", {"text": "via sse"}, username="u")
    assert text_of(result) == "via sse"
    assert pool.status("web").protocol_version is not None


async def test_explicit_sse_transport(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture]
) -> None:
    fx = http_fixture(script=SSE_ONLY_SERVER)
    server = ServerConfig(name="old", transport_type=TransportType.SSE, url=f"{fx.base}/sse")
    result = await pool.call_tool(server, "echo", {"text": "sse"}, username="u")
    assert text_of(result) == "sse"


async def test_sessionless_2026_server_works(
    pool: UpstreamPool, sqlite_store: Store, http_fixture: Callable[..., HttpFixture]
) -> None:
    fx = http_fixture("--modern-only")
    server = http_config(fx.url)
    result = await pool.call_tool(server, "add", {"a": 2, "b": 3}, username="u")
    assert not result.is_error and "5" in text_of(result)
    assert pool.status("web").protocol_version == "2026-07-28"
    assert await sqlite_store.get_session("web", "") is None  # nothing to persist
    assert (await fx.stats())["discover"] >= 1


async def test_bearer_header_reaches_the_upstream(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture]
) -> None:
    fx = http_fixture("--legacy", "--require-bearer", "s3cret")
    server = http_config(fx.url, headers={"Authorization": "Bearer s3cret"})
    result = await pool.call_tool(server, "echo", {"text": "authed"}, username="u")
    assert text_of(result) == "authed"


async def test_a_shared_session_started_again_still_masks_values_its_predecessor_was_given(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture]
) -> None:
    # The upstream process outlives the gateway's session: it kept alice's token, and the
    # session that replaces the stopped one (disable/enable, or a revive after the restart
    # policy gave up) must still mask it in what it reports to bob.
    fx = http_fixture()
    server = http_config(fx.url)
    canary = "canary-kept-across-restart-7c1e"
    await pool.call_tool(server, "log_args", {"token": canary}, username="alice", secrets=(canary,))
    await pool.apply(dataclasses.replace(server, enabled=False))
    enabled = dataclasses.replace(server, enabled=True)
    await pool.apply(enabled)
    result = await pool.call_tool(enabled, "fail_first_token", {}, username="bob")
    assert result.is_error
    assert text_of(result).endswith("first token: ***")
