"""Review4: races of the pool's definition changes (acce2d4, d17ea77) with a call, a remove or a
second apply while an apply is suspended (the stored sessions being forgotten, old sessions
stopping)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, CallToolResult

from mcp_gateway.domain.servers import Isolation
from mcp_gateway.errors import UpstreamUnavailable
from mcp_gateway.upstream.live import LiveSession
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import TINY_SERVER, poll_until, stdio_config, text_of

pytestmark = pytest.mark.anyio


class _Gate:
    """Holds the first ``delete_server_sessions`` of the pool's store until ``release``."""

    def __init__(self, pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = anyio.Event()
        self._open = anyio.Event()
        store = pool._sessions
        real = store.delete_server_sessions

        async def held(name: str) -> int:
            if not self.entered.is_set():
                self.entered.set()
                await self._open.wait()
            return await real(name)

        monkeypatch.setattr(store, "delete_server_sessions", held)

    def release(self) -> None:
        self._open.set()


async def test_hand_over_refuses_no_new_user_while_the_old_stored_sessions_are_forgotten(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A package upgrade on another replica (hand-over, the connection key changes): "no call
    # fails because of the switch". While apply awaits the store, the replaced entry is
    # already closed but still the pool's: a user without a session there got 503.
    server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER)
    await pool.call_tool(server, "echo", {"text": "x"}, username="a")
    changed = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER, env={"NEW": "1"})
    gate = _Gate(pool, monkeypatch)
    results: list[CallToolResult] = []

    async def call() -> None:
        results.append(await pool.call_tool(changed, "print_env", {"name": "NEW"}, username="b"))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(pool.apply, changed, hand_over=True))
            await gate.entered.wait()
            try:
                tg.start_soon(call)  # arrives while apply awaits the store
                await anyio.sleep(0.1)
            finally:
                gate.release()
    assert [text_of(r) for r in results] == ["1"]


async def test_a_server_removed_during_a_hand_over_stays_removed(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ServerService.config() removes a server deleted elsewhere without its per-name lock,
    # so it can meet the feed's hand-over switch: the switch must not bring it back.
    server = stdio_config(script=TINY_SERVER)
    await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    changed = stdio_config(script=TINY_SERVER, env={"NEW": "1"})
    gate = _Gate(pool, monkeypatch)
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(pool.apply, changed, hand_over=True))
        await gate.entered.wait()
        tg.start_soon(pool.remove, "fx")
        await anyio.sleep(0.1)
        gate.release()
    assert "fx" not in pool._entries, "a removed server runs again (its process leaks)"


def _slow_exit(tmp_path: Path) -> str:
    """A tiny server that exits 1.5 s after its stdin closed (within the stop's grace)."""
    slow = tmp_path / "slow_exit.py"
    slow.write_text(
        "import atexit, runpy, sys, time\n"
        "atexit.register(time.sleep, 1.5)\n"
        f"sys.argv = [{TINY_SERVER!r}]\n"
        f"runpy.run_path({TINY_SERVER!r}, run_name='__main__')\n"
    )
    return str(slow)


async def test_remove_during_a_restarting_apply_returns_once_the_old_sessions_stopped(
    pool: UpstreamPool, tmp_path: Path
) -> None:
    # remove: "Stop every session of name" (ServerService.delete then removes the package
    # directory the old process may still run from). It returned at once when an apply was
    # still stopping the sessions it replaced.
    v1 = stdio_config(script=_slow_exit(tmp_path))
    await pool.call_tool(v1, "echo", {"text": "x"}, username="u")
    old = pool._entries["fx"].supervisors()
    v2 = dataclasses.replace(v1, env={"V": "2"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.apply, v2)
        await poll_until(lambda: pool._entries["fx"].config is v2, 5)
        await pool.remove("fx")
        stopped = all(sup.done.is_set() for sup in old)
    assert stopped, "remove returned while the replaced process still ran"


async def test_a_second_apply_does_not_start_before_the_first_ones_old_sessions_stopped(
    pool: UpstreamPool, tmp_path: Path
) -> None:
    # docs/api.md: "its old sessions stop first, and calls that arrive meanwhile wait for
    # them". A second changed apply (e.g. an operator's restart, not under the service's
    # per-name lock, during an update) replaced the still-starting entry and started its
    # session at once, while the first apply still waited for the old process to exit (and
    # then forgot the stored sessions the new ones may have saved meanwhile).
    slow = _slow_exit(tmp_path)
    v1 = stdio_config(script=slow)
    await pool.call_tool(v1, "echo", {"text": "x"}, username="u")
    old = pool._entries["fx"].supervisors()
    v2 = stdio_config(script=slow, env={"V": "2"})
    v3 = stdio_config(script=slow, env={"V": "3"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.apply, v2)
        await poll_until(lambda: pool._entries["fx"].config is v2, 5)
        await pool.apply(v3, restart=True)
        started = pool._entries["fx"].shared is not None
        old_running = not all(sup.done.is_set() for sup in old)
    assert not (started and old_running), "the new session started beside the old process"


def _hold_after_taking_the_entry(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch
) -> tuple[anyio.Event, anyio.Event]:
    """Hold the next call between taking its entry and picking a session: ``took`` is set
    then, and the call goes on once ``go_on`` is."""
    took, go_on = anyio.Event(), anyio.Event()
    era = pool._era

    async def held(*args: object) -> object:
        took.set()
        await go_on.wait()
        return await era(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "_era", held)
    return took, go_on


async def _failing(call: Awaitable[object], failures: list[Exception]) -> None:
    """Await ``call``, keeping what it fails with (that is what the tests assert)."""
    try:
        await call
    except Exception as exc:  # noqa: BLE001
        failures.append(exc)


def _named(failures: list[Exception]) -> list[tuple[str, str]]:
    return [(type(f).__name__, str(f)) for f in failures]


async def test_a_call_holding_a_removed_servers_entry_gets_server_not_found(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A call that took the entry before a remove needs a new session afterwards: the server
    # is gone (404), not "restarting: try again" (503) as for a replaced definition.
    server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER)
    await pool.call_tool(server, "echo", {"text": "x"}, username="a")
    took, go_on = _hold_after_taking_the_entry(pool, monkeypatch)
    failures: list[Exception] = []
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            call = pool.call_tool(server, "echo", {"text": "y"}, username="b")
            tg.start_soon(_failing, call, failures)
            await took.wait()
            await pool.remove("fx")
            go_on.set()
    assert _named(failures) == [("ServerNotFound", "server 'fx' not found")]
    assert "fx" not in pool._entries


@pytest.mark.parametrize("removed_first", [False, True])
async def test_a_call_holding_a_replaced_entry_is_told_to_try_again_never_not_found(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch, removed_first: bool
) -> None:
    # It needed a new session after its entry was replaced: none starts on the old entry, and
    # the caller is told to try again (503), also when the server was deleted and created
    # again meanwhile (another replica): it exists, so not 404 (review). It is not retried on
    # the new definition here: its secrets were placed for the old one (review).
    v1 = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER, env={"V": "1"})
    await pool.call_tool(v1, "echo", {"text": "x"}, username="a")
    took, go_on = _hold_after_taking_the_entry(pool, monkeypatch)
    failures: list[Exception] = []
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            call = pool.call_tool(v1, "echo", {"text": "y"}, username="b")
            tg.start_soon(_failing, call, failures)
            await took.wait()
            if removed_first:
                await pool.remove("fx")
            await pool.apply(dataclasses.replace(v1, env={"V": "2"}))
            go_on.set()
    assert _named(failures) == [("Restarting", "server 'fx' is restarting: try again")]


async def test_a_call_waiting_for_a_session_a_restart_stopped_is_told_to_try_again(
    pool: UpstreamPool, tmp_path: Path
) -> None:
    # The session the call waited for was stopped while starting (its definition replaced):
    # the call got 503 "server 'fx' is not running", which reads as if it were down for good.
    slow = tmp_path / "slow_start.py"
    slow.write_text(
        "import runpy, sys, time\n"
        "time.sleep(1.0)\n"
        f"sys.argv = [{TINY_SERVER!r}]\n"
        f"runpy.run_path({TINY_SERVER!r}, run_name='__main__')\n"
    )
    v1 = stdio_config(script=str(slow), isolation=Isolation.PER_USER, env={"V": "1"})
    failures: list[Exception] = []
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            call = pool.call_tool(v1, "echo", {"text": "y"}, username="u")
            tg.start_soon(_failing, call, failures)
            await poll_until(lambda: "u" in getattr(pool._entries.get("fx"), "users", {}), 10)
            await pool.apply(dataclasses.replace(v1, env={"V": "2"}))
    assert _named(failures) == [("Restarting", "server 'fx' is restarting: try again")]


async def test_a_call_whose_session_expired_and_was_replaced_meanwhile_is_not_told_to_try_again(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its first send reached the upstream (the tool ran), the session was found expired and
    # the definition replaced before the re-initialize: "try again" would run the tool twice.
    server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER)
    await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    real = LiveSession.call_tool

    async def ran_then_lost(self: LiveSession, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(LiveSession, "call_tool", real)  # once
        await real(self, *args, **kwargs)
        self.link.session_expired = True
        await pool.apply(dataclasses.replace(server, env={"V": "2"}))
        raise MCPError(code=CONNECTION_CLOSED, message="connection closed")

    monkeypatch.setattr(LiveSession, "call_tool", ran_then_lost)
    failures: list[Exception] = []
    with anyio.fail_after(30):
        await _failing(pool.call_tool(server, "echo", {"text": "y"}, username="u"), failures)
    assert _named(failures) == [("UpstreamUnavailable", "server 'fx' restarted during the call")]
    assert isinstance(failures[0], UpstreamUnavailable) and failures[0].status == 502


async def test_a_call_holding_the_entry_of_a_server_disabled_meanwhile_gets_server_disabled(
    pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Try again" would only lead to 409 server_disabled (review).
    server = stdio_config(script=TINY_SERVER, isolation=Isolation.PER_USER)
    await pool.call_tool(server, "echo", {"text": "x"}, username="a")
    took, go_on = _hold_after_taking_the_entry(pool, monkeypatch)
    failures: list[Exception] = []
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            call = pool.call_tool(server, "echo", {"text": "y"}, username="b")
            tg.start_soon(_failing, call, failures)
            await took.wait()
            await pool.apply(dataclasses.replace(server, enabled=False))
            go_on.set()
    assert [type(f).__name__ for f in failures] == ["ServerDisabled"]
