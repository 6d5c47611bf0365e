"""The ``subscriptions/listen`` streams of the pool's 2026-07-28 sessions (upstream/listen.py)
and the idle stop of its shared 2026-07-28 companion: list changes and resource updates of a
2026-07-28 upstream reach the pool (re-listed tools, notices), a resource subscription
becomes the stream's filter, a dropped stream is reopened, an idle companion stops and
starts again on its next use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
import mcp_types as types
import pytest

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import SHARED_SCOPE, Isolation, ServerConfig, TransportType
from mcp_gateway.errors import UpstreamBusy, UpstreamError
from mcp_gateway.storage.ports import Store
from mcp_gateway.upstream.entry import ServerEntry
from mcp_gateway.upstream.eras import CALL_ERA, ModernCaller
from mcp_gateway.upstream.notices import (
    PROMPTS_CHANGED,
    RESOURCE_UPDATED,
    RESOURCES_CHANGED,
    Notice,
)
from mcp_gateway.upstream.pool import UpstreamPool
from mcp_gateway.upstream.supervisor import Supervisor
from tests.upstream.conftest import HttpFixture, poll_until, stdio_config, text_of

pytestmark = pytest.mark.anyio


@contextmanager
def modern() -> Iterator[None]:
    token = CALL_ERA.set(ModernCaller({}))
    try:
        yield
    finally:
        CALL_ERA.reset(token)


def _http(url: str) -> ServerConfig:
    return ServerConfig(name="fx", transport_type=TransportType.STREAMABLE_HTTP, url=url)


def _names(tools: tuple[types.Tool, ...] | None) -> set[str]:
    return {tool.name for tool in tools or ()}


def _companion_tools(pool: UpstreamPool) -> tuple[types.Tool, ...] | None:
    sup = pool._entries["fx"].modern.get(SHARED_SCOPE)
    return sup.live.tools if sup is not None and sup.live is not None else None


async def _until_listed(name: str, tools: Callable[[], tuple[types.Tool, ...] | None]) -> None:
    await poll_until(lambda: name in _names(tools()))


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_tool_added_on_the_2026_companion_session_is_listed_afterwards(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture], transport: str
) -> None:
    # A dual-era upstream: its primary session is 2025-11-25, a 2026-07-28 caller's call
    # takes the companion (over stdio another process, which alone gets the new tool).
    server = stdio_config("fx") if transport == "stdio" else _http(http_fixture().url)
    # Twice: the first tool may be listed by the re-listing that follows the stream's first
    # acknowledgment; the second is listed only because the stream carried the change.
    for _ in range(2):
        with modern():
            added = await pool.call_tool(server, "trigger_list_changed", {}, username="u")
        name = text_of(added)
        await _until_listed(name, lambda: _companion_tools(pool))
    with modern():
        assert text_of(await pool.call_tool(server, name, {}, username="u")) == name


@pytest.mark.slow
async def test_a_2026_only_upstreams_list_changes_and_updates_reach_the_pool(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture]
) -> None:
    fx = http_fixture("--modern-only")
    server = _http(fx.url)
    heard: list[Notice] = []
    forget = pool.notices.observe(heard.append)
    try:
        for _ in range(2):  # the second is listed only because the stream carried it
            added = text_of(await pool.call_tool(server, "trigger_list_changed", {}, username="u"))
            await _until_listed(added, lambda: pool.session_tools("fx", SHARED_SCOPE))
        await pool.call_tool(server, "trigger_resources_changed", {}, username="u")
        await pool.call_tool(server, "trigger_prompts_changed", {}, username="u")
        await poll_until(lambda: {RESOURCES_CHANGED, PROMPTS_CHANGED} <= {n.method for n in heard})

        # A resource subscription (removed in 2026-07-28) is the listen stream's filter: an
        # update of that URI is heard, of another one not.
        readme = "fixture://readme"
        subscribe = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=readme))
        await pool.request(server, subscribe, types.EmptyResult, username="u")
        await pool.call_tool(server, "touch_resource", {"uri": "fixture://kept"}, username="u")
        await pool.call_tool(server, "touch_resource", {"uri": readme}, username="u")
        await poll_until(lambda: any(n.method == RESOURCE_UPDATED for n in heard))
        updated = [n for n in heard if n.method == RESOURCE_UPDATED]
        assert updated == [Notice("fx", SHARED_SCOPE, RESOURCE_UPDATED, readme)]
        entry = pool._entries["fx"]
        assert entry.shared is not None and entry.shared.listener.uris == {readme}
        await pool.unsubscribe(server, readme, scope=SHARED_SCOPE, username="u")
        assert not entry.shared.listener.uris

        # The upstream restarts (same port): the dropped stream is reopened, changes are
        # heard again.
        fx.restart()

        def resources_changed() -> int:  # not the session's own SESSION_STARTED notices
            return sum(n.method == RESOURCES_CHANGED for n in heard)

        before = resources_changed()

        async def changed() -> bool:
            await pool.call_tool(server, "trigger_resources_changed", {}, username="u")
            return resources_changed() > before

        with anyio.fail_after(30):
            while True:
                if await changed():
                    break
                await anyio.sleep(0.2)

        # An unsubscribe while the session is down (stopped here) still empties the filter.
        await pool.request(server, subscribe, types.EmptyResult, username="u")
        await entry.shared.aclose()
        await pool.unsubscribe(server, readme, scope=SHARED_SCOPE, username="u")
        assert not entry.shared.listener.uris
    finally:
        forget()


@pytest.mark.slow
async def test_an_idle_shared_2026_companion_stops_and_starts_again_on_its_next_use(
    sqlite_store: Store,
) -> None:
    settings = UpstreamSettings(user_session_idle=1.0, busy_wait=0.2)
    server = stdio_config("fx")
    async with UpstreamPool(sessions=sqlite_store, settings=settings) as pool:
        with modern():
            echoed = await pool.call_tool(server, "echo", {"text": "a"}, username="u")
        assert text_of(echoed) == "a"
        entry = pool._entries["fx"]
        first = entry.modern[SHARED_SCOPE]
        await poll_until(lambda: first.done.is_set())
        assert SHARED_SCOPE not in entry.modern
        assert entry.shared is not None and not entry.shared.done.is_set()  # the primary stays
        with modern():
            echoed = await pool.call_tool(server, "echo", {"text": "b"}, username="u")
        assert text_of(echoed) == "b"
        second = entry.modern[SHARED_SCOPE]
        assert second is not first and second.live is not None and second.live.modern


async def test_an_idle_session_whose_listen_stream_holds_subscriptions_is_kept(
    sqlite_store: Store,
) -> None:
    # Bookkeeping only (no process): a 2026-07-28-only server's per-user session whose
    # listen filter holds a subscribed URI would leave its subscriber deaf if stopped.
    server = stdio_config("fx", isolation=Isolation.PER_USER)
    entry = ServerEntry.of(server)
    for user in ("ann", "bob"):
        entry.users[user] = Supervisor(server, scope=user, sessions=sqlite_store)
    entry.users["ann"].listener._uris.add("fixture://readme")  # as subscribe() holds it
    entry.stop_idle_users(time.monotonic() + 60, idle=1.0)
    assert set(entry.users) == {"ann"}


async def test_an_upstream_without_listen_refuses_subscriptions_and_still_serves_calls(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture]
) -> None:
    server = _http(http_fixture("--modern-only", "--no-listen").url)
    assert text_of(await pool.call_tool(server, "echo", {"text": "a"}, username="u")) == "a"
    shared = pool._entries["fx"].shared
    assert shared is not None
    await poll_until(lambda: shared.listener.refused)
    readme = "fixture://readme"
    subscribe = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=readme))
    with pytest.raises(UpstreamError):
        await pool.request(server, subscribe, types.EmptyResult, username="u")
    assert not shared.listener.uris  # nothing held
    assert text_of(await pool.call_tool(server, "echo", {"text": "b"}, username="u")) == "b"


async def test_another_users_session_does_not_evict_one_holding_subscriptions(
    pool: UpstreamPool,
) -> None:
    """At the instance cap, a session whose listen stream holds resource subscriptions is not
    the one stopped for another user's (the idle reaper keeps it too): Bob waits (busy)."""
    server = stdio_config("fx", isolation=Isolation.PER_USER, max_instances=1)
    entry = ServerEntry.of(server)
    ann = Supervisor(server, scope="ann", sessions=pool._sessions)
    entry.users["ann"] = ann
    ann.listener._uris.add("fixture://readme")  # as subscribe() holds it
    with pytest.raises(UpstreamBusy):
        pool._supervisor(entry, "bob", None, None)
    assert entry.users.get("ann") is ann
