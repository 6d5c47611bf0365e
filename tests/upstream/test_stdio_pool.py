"""The pool over stdio: calls, crashes, restarts, timeouts, back-pressure, list_changed."""

from __future__ import annotations

import dataclasses
import gc
import os
import signal
import time
import tracemalloc
from collections.abc import Awaitable

import anyio
import anyio.lowlevel
import pytest

from mcp_gateway.domain.servers import ReconnectionOptions, ServerConfig, ServerStatus
from mcp_gateway.errors import (
    GatewayError,
    ServerDisabled,
    ServerNotFound,
    UpstreamBusy,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import (
    TINY_SERVER,
    in_flight,
    poll_until,
    stdio_config,
    text_of,
    wait_status,
)

pytestmark = pytest.mark.anyio

FAST_RESTART = ReconnectionOptions(initial_delay=0.05, max_delay=0.2)


async def test_call_waits_for_a_starting_server_then_returns_the_tool_result(
    pool: UpstreamPool,
) -> None:
    server = stdio_config()
    await pool.apply(server)
    assert pool.status("fx").status in (ServerStatus.CONNECTING, ServerStatus.CONNECTED)
    result = await pool.call_tool(server, "echo", {"text": "hello"}, username="alice")
    assert text_of(result) == "hello"
    state = pool.status("fx")
    assert state.status is ServerStatus.CONNECTED
    assert state.pid is not None and state.instances == 1
    assert state.tools is not None and "echo" in {t.name for t in state.tools}


async def test_tool_error_result_is_returned_and_protocol_error_raises_upstream_error(
    pool: UpstreamPool,
) -> None:
    server = stdio_config()
    result = await pool.call_tool(
        server, "fail_with_args", {"token": "t0k", "mode": "tool"}, username="u"
    )
    assert result.is_error and "t0k" in text_of(result)
    with pytest.raises(UpstreamError) as info:
        await pool.call_tool(
            server, "fail_with_args", {"token": "t0k", "mode": "protocol"}, username="u"
        )
    assert type(info.value) is UpstreamError and info.value.status == 502
    assert "t0k" in info.value.message  # nothing was declared secret: passed on as is


async def test_values_declared_secret_are_masked_in_results_errors_and_logs_of_the_session(
    pool: UpstreamPool,
) -> None:
    server = stdio_config()
    secret = {"token": "t0k-declared-secret"}
    result = await pool.call_tool(
        server,
        "fail_with_args",
        {**secret, "mode": "tool"},
        username="u",
        secrets=["t0k-declared-secret"],
    )
    assert result.is_error and "t0k-declared-secret" not in text_of(result)
    assert "token=***" in text_of(result)
    # Remembered by the session: a later call that does not declare it is still masked.
    with pytest.raises(UpstreamError) as info:
        await pool.call_tool(server, "fail_with_args", {**secret, "mode": "protocol"}, username="u")
    assert "t0k-declared-secret" not in info.value.message and "***" in info.value.message
    await pool.call_tool(server, "log_args", secret, username="u")
    await poll_until(lambda: any("***" in line for line in pool.status(server.name).logs))
    assert all("t0k-declared-secret" not in line for line in pool.status(server.name).logs)


async def test_crash_fails_in_flight_call_with_502_then_restarts_and_next_call_succeeds(
    pool: UpstreamPool,
) -> None:
    server = stdio_config(script=TINY_SERVER, reconnection=FAST_RESTART)
    await pool.call_tool(server, "echo", {"text": "up"}, username="u")
    first_pid = pool.status("fx").pid

    async def slow_call() -> BaseException | None:
        try:
            await pool.call_tool(server, "sleep", {"seconds": 5}, username="u")
        except UpstreamUnavailable as exc:
            return exc
        return None

    async with anyio.create_task_group() as tg:
        outcome: list[BaseException | None] = []

        async def run_slow() -> None:
            outcome.append(await slow_call())

        tg.start_soon(run_slow)
        await poll_until(lambda: in_flight(pool, "fx") == 1)
        with pytest.raises(UpstreamUnavailable):
            await pool.call_tool(server, "crash", {}, username="u")
    assert isinstance(outcome[0], UpstreamUnavailable)
    assert outcome[0].during_call and outcome[0].status == 502

    result = await pool.call_tool(server, "echo", {"text": "again"}, username="u")
    assert text_of(result) == "again"
    state = pool.status("fx")
    assert state.pid != first_pid and state.restarts >= 1


async def test_crash_is_detected_without_a_call_within_a_second(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER, reconnection=ReconnectionOptions(initial_delay=5.0))
    await pool.call_tool(server, "echo", {"text": "up"}, username="u")
    pid = pool.status("fx").pid
    assert pid is not None
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    await wait_status(pool, "fx", ServerStatus.DISCONNECTED, ServerStatus.ERROR, within=1.0)
    assert time.monotonic() - started < 1.0
    state = pool.status("fx")
    assert state.next_restart_at is not None and state.next_restart_at > time.time()


async def test_crash_loop_reports_error_with_stderr_and_next_restart(pool: UpstreamPool) -> None:
    server = stdio_config(
        script=TINY_SERVER,
        args=("--fail-start", "boom: missing API_TOKEN"),
        reconnection=ReconnectionOptions(initial_delay=0.05, max_delay=0.1, max_retries=None),
    )
    await pool.apply(server)
    await poll_until(lambda: pool.status("fx").restarts >= 2, within=10)
    state = pool.status("fx")
    assert "boom: missing API_TOKEN" in state.logs
    assert state.last_error
    await wait_status(pool, "fx", ServerStatus.ERROR)
    assert pool.status("fx").next_restart_at is not None
    with pytest.raises(UpstreamUnavailable) as info:
        await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    assert info.value.status in (502, 503)


async def test_timeout_raises_504_and_the_session_stays_usable(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER)
    pid = None
    with pytest.raises(UpstreamTimeout) as info:
        await pool.call_tool(server, "sleep", {"seconds": 3}, username="u", timeout=0.3)
    assert info.value.status == 504
    pid = pool.status("fx").pid
    result = await pool.call_tool(server, "echo", {"text": "still here"}, username="u")
    assert text_of(result) == "still here"
    assert pool.status("fx").pid == pid


async def test_cancelled_caller_cancels_upstream_call_and_session_survives(
    pool: UpstreamPool,
) -> None:
    server = stdio_config(script=TINY_SERVER)
    await pool.call_tool(server, "echo", {"text": "warm"}, username="u")
    with anyio.move_on_after(0.2):
        await pool.call_tool(server, "sleep", {"seconds": 5}, username="u")
    result = await pool.call_tool(server, "echo", {"text": "ok"}, username="u")
    assert text_of(result) == "ok"


async def test_hundred_concurrent_calls_all_succeed(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER, max_concurrency=100, max_concurrency_per_user=100)
    results: dict[int, str] = {}

    async def one(i: int) -> None:
        result = await pool.call_tool(server, "echo", {"text": f"m{i}"}, username="u")
        results[i] = text_of(result)

    async with anyio.create_task_group() as tg:
        for i in range(100):
            tg.start_soon(one, i)
    assert results == {i: f"m{i}" for i in range(100)}


async def test_calls_beyond_max_concurrency_get_upstream_busy(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER, max_concurrency=2)
    await pool.call_tool(server, "echo", {"text": "warm"}, username="u")
    busy: list[UpstreamBusy] = []

    async def sleeper() -> None:
        await pool.call_tool(server, "sleep", {"seconds": 1.0}, username="u")

    async def extra() -> None:
        try:
            await pool.call_tool(server, "echo", {"text": "x"}, username="u")
        except UpstreamBusy as exc:
            busy.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        tg.start_soon(sleeper)
        await poll_until(lambda: in_flight(pool, "fx") == 2)
        for _ in range(5):
            tg.start_soon(extra)
    assert len(busy) == 5
    assert busy[0].status == 503 and busy[0].headers() == {"Retry-After": "1"}


async def test_list_changed_notification_refreshes_cached_tools(pool: UpstreamPool) -> None:
    server = stdio_config()
    before = {t.name for t in await pool.list_tools(server, username="u")}
    added = text_of(await pool.call_tool(server, "trigger_list_changed", {}, username="u"))
    assert added not in before
    await poll_until(lambda: added in {t.name for t in pool.status("fx").tools or ()}, within=5)
    assert added in {t.name for t in await pool.list_tools(server, username="u")}


async def test_disabled_server_reports_disabled_and_refuses_calls(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER, enabled=False)
    await pool.apply(server)
    assert pool.status("fx").status is ServerStatus.DISABLED
    with pytest.raises(ServerDisabled):
        await pool.call_tool(server, "echo", {"text": "x"}, username="u")


async def test_apply_with_same_connection_key_keeps_the_process(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER)
    await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    pid = pool.status("fx").pid
    await pool.apply(stdio_config(script=TINY_SERVER, call_timeout=5.0, max_concurrency=4))
    assert pool.status("fx").pid == pid
    await pool.apply(stdio_config(script=TINY_SERVER, env={"NEW": "1"}))
    await wait_status(pool, "fx", ServerStatus.CONNECTED)
    assert pool.status("fx").pid != pid


async def _calling_across(
    pool: UpstreamPool, server: ServerConfig, change: Awaitable[None]
) -> list[str]:
    """The outcomes ("ok" or an error code) of ``echo`` calls made back to back while
    ``change`` runs."""
    done = False
    outcomes: list[str] = []

    async def calls() -> None:
        while not done:
            try:
                await pool.call_tool(server, "echo", {"text": "y"}, username="u")
                outcomes.append("ok")
            except GatewayError as exc:
                outcomes.append(exc.code)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(calls)
        await anyio.sleep(0.05)
        await change
        done = True
    return outcomes


async def test_calls_during_a_restarting_apply_leave_no_session_on_the_replaced_definition(
    pool: UpstreamPool,
) -> None:
    # The old sessions stop before the new ones start; a call in between must not start a
    # session of the old definition that nothing would ever stop (a leaked process).
    server = stdio_config(script=TINY_SERVER)
    await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    old = pool._entries["fx"]
    changed = stdio_config(script=TINY_SERVER, env={"NEW": "1"})
    outcomes = await _calling_across(pool, changed, pool.apply(changed))
    assert old.shared is None and not old.users and not old.modern, outcomes
    assert all(sup.done.is_set() for sup in old.supervisors())
    result = await pool.call_tool(changed, "print_env", {"name": "NEW"}, username="u")
    assert text_of(result) == "1"


async def test_calls_during_a_restart_wait_for_the_new_session_and_never_get_not_found(
    pool: UpstreamPool,
) -> None:
    server = stdio_config(script=TINY_SERVER)
    await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    pid = pool.status("fx").pid
    outcomes = await _calling_across(pool, server, pool.apply(server, restart=True))
    await wait_status(pool, "fx", ServerStatus.CONNECTED)
    assert "server_not_found" not in outcomes, outcomes
    assert pool.status("fx").pid not in (None, pid)


@pytest.mark.slow
async def test_overload_is_refused_and_memory_stays_flat_across_waves(pool: UpstreamPool) -> None:
    server = stdio_config(script=TINY_SERVER, max_concurrency=2)
    await pool.call_tool(server, "echo", {"text": "warm"}, username="u")

    async def wave() -> int:
        refused = 0

        async def one() -> None:
            nonlocal refused
            try:
                await pool.call_tool(server, "sleep", {"seconds": 0.3}, username="u")
            except UpstreamBusy:
                refused += 1

        async with anyio.create_task_group() as tg:
            for _ in range(400):
                tg.start_soon(one)
        return refused

    tracemalloc.start()
    try:
        await wave()  # first wave warms caches and allocators
        gc.collect()
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            refused = await wave()
            assert refused >= 390  # 2 slots: nearly every call is turned away, none queued
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    # Nothing accumulates per refused call (no queue, no retained waiter or exception).
    assert grown < 256 * 1024, grown


async def test_a_definitions_env_values_are_masked_in_what_its_session_reports(
    pool: UpstreamPool,
) -> None:
    server = stdio_config(env={"FX_API_KEY": "definition-env-canary"})
    result = await pool.call_tool(
        server, "fail_with_args", {"text": "definition-env-canary", "mode": "tool"}, username="u"
    )
    assert result.is_error and "definition-env-canary" not in text_of(result)


async def test_a_call_holding_a_replaced_definition_does_not_bring_the_old_one_back(
    pool: UpstreamPool,
) -> None:
    # A tool call took the definition before an update landed; the pool keeps running the
    # update instead of restarting the server with the old definition.
    old = stdio_config()
    await pool.apply(old)
    new = dataclasses.replace(old, env={"MARK": "new"})
    await pool.apply(new)
    result = await pool.call_tool(old, "print_env", {"name": "MARK"}, username="u")
    assert text_of(result) == "new"
    assert pool.status("fx").restarts == 0


async def test_a_call_holding_a_removed_definition_does_not_start_it_again(
    pool: UpstreamPool,
) -> None:
    server = stdio_config()
    await pool.apply(server)
    await pool.remove("fx")
    with pytest.raises(ServerNotFound):
        await pool.call_tool(server, "echo", {"text": "x"}, username="u")
    assert "fx" not in pool.statuses()
