"""The endpoint's event store (resumable SSE streams): each session replays only its own
events, ids are unguessable, bounds evict the oldest, a session's events go with it."""

from __future__ import annotations

import re

import anyio
import pytest
from mcp.server.streamable_http import EventMessage
from mcp_types import JSONRPCNotification, JSONRPCResponse

from mcp_gateway.api.downstream.event_store import EventBuffer, SessionEvents, replays


def _note(n: int) -> JSONRPCNotification:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"n": n})


def _result(request_id: int) -> JSONRPCResponse:
    return JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"ok": True})


async def _replay(events: SessionEvents, last: str) -> tuple[str | None, list[EventMessage]]:
    sent: list[EventMessage] = []

    async def collect(message: EventMessage) -> None:
        sent.append(message)

    return await events.replay_events_after(last, collect), sent


@pytest.mark.anyio
async def test_replay_sends_each_later_event_of_the_same_stream_once_without_priming() -> None:
    buffer = EventBuffer(per_stream=10, total=100, max_bytes=1 << 20)
    alice = buffer.for_session("a")
    priming = await alice.store_event("7", None)
    first = await alice.store_event("7", _note(1))
    await alice.store_event("8", _note(99))  # another request's stream
    second = await alice.store_event("7", _note(2))
    answer = await alice.store_event("7", _result(7))
    stream, sent = await _replay(alice, priming)
    assert stream == "7"
    assert [m.event_id for m in sent] == [first, second, answer]
    stream, sent = await _replay(alice, second)
    assert [(m.event_id, m.message) for m in sent] == [(answer, _result(7))]
    assert alice.answered("7") and not alice.answered("8")


@pytest.mark.anyio
async def test_a_replay_up_to_a_position_leaves_every_later_event_to_the_live_stream() -> None:
    # sdk_replay.py attaches the live stream at `position`: the replay sends what was stored
    # until then, the live stream the rest, so each event goes once and in order.
    buffer = EventBuffer(per_stream=10, total=100, max_bytes=1 << 20)
    alice = buffer.for_session("a")
    last = await alice.store_event("7", _note(1))
    before = await alice.store_event("7", _note(2))
    attached = alice.position
    sent: list[EventMessage] = []

    async def collect(message: EventMessage) -> None:
        sent.append(message)
        await alice.store_event("7", _note(3))  # routed while the client reads the replay

    assert await alice.replay_events_after(last, collect, attached) == "7"
    assert [m.event_id for m in sent] == [before]
    _, everything = await _replay(alice, last)  # without a cutoff (the SDK's own replay)
    assert [m.event_id for m in everything][0] == before and len(everything) == 2


@pytest.mark.anyio
async def test_another_sessions_event_id_replays_nothing_of_it() -> None:
    buffer = EventBuffer(per_stream=10, total=100, max_bytes=1 << 20)
    alice, bob = buffer.for_session("a"), buffer.for_session("b")
    primed = await alice.store_event("1", None)
    await alice.store_event("1", _note(1))
    await bob.store_event("1", None)  # the same stream id in bob's session
    for stranger in (bob, buffer.for_session("c")):
        assert await _replay(stranger, primed) == (None, [])
    assert await _replay(alice, "made-up") == (None, [])


@pytest.mark.anyio
async def test_event_ids_are_random_128_bit_tokens() -> None:
    events = EventBuffer(per_stream=1000, total=1000, max_bytes=1 << 20).for_session("a")
    ids = [await events.store_event("1", None) for _ in range(200)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)  # 16 bytes, base64url


@pytest.mark.anyio
async def test_bounds_per_stream_and_in_total_evict_the_oldest_events() -> None:
    buffer = EventBuffer(per_stream=3, total=20, max_bytes=1 << 20)  # a session: 5 at most
    alice = buffer.for_session("a")
    ids = [await alice.store_event("1", _note(n)) for n in range(5)]
    assert len(buffer) == 3  # per stream: the two oldest went
    assert await _replay(alice, ids[0]) == (None, [])  # evicted: unknown
    _, sent = await _replay(alice, ids[2])
    assert [m.event_id for m in sent] == ids[3:]
    for name in "bcde":
        other = buffer.for_session(name)
        for n in range(4):
            await other.store_event(str(n % 2), _note(n))
    assert len(buffer) == 19
    late = buffer.for_session("f")
    later = [await late.store_event("1", _note(n)) for n in range(2)]
    assert len(buffer) == 20  # in total: the oldest of any session (alice's) went first
    assert await _replay(alice, ids[2]) == (None, [])
    _, sent = await _replay(alice, ids[3])
    assert [m.event_id for m in sent] == ids[4:]
    _, sent = await _replay(late, later[0])
    assert [m.event_id for m in sent] == later[1:]


@pytest.mark.anyio
async def test_one_session_holds_at_most_a_quarter_and_evicts_its_own_oldest_first() -> None:
    buffer = EventBuffer(per_stream=100, total=40, max_bytes=1 << 20)
    alice = buffer.for_session("a")
    kept = await alice.store_event("1", None)
    await alice.store_event("1", _result(1))
    bob = buffer.for_session("b")  # a chatty session, or an upstream's fan-out to it
    for n in range(100):
        await bob.store_event(str(n % 7), _note(n))
    assert len(buffer) == 2 + 40 // 4
    stream, sent = await _replay(alice, kept)  # alice's answer is still there
    assert stream == "1" and [m.message for m in sent] == [_result(1)]


@pytest.mark.anyio
async def test_a_reused_request_id_starts_its_stream_afresh() -> None:
    buffer = EventBuffer(per_stream=10, total=100, max_bytes=1 << 20)
    alice = buffer.for_session("a")
    first = await alice.store_event("1", None)
    await alice.store_event("1", _result(1))
    assert alice.answered("1")
    again = await alice.store_event("1", None)  # a new request that reuses id 1
    assert not alice.answered("1")  # its client's disconnect cancels it again
    assert await _replay(alice, first) == (None, [])
    with replays():  # a resume's own priming event keeps the stream it resumes
        stream, _ = await _replay(alice, again)
        await alice.store_event("1", None)
    assert stream == "1"
    assert (await _replay(alice, again))[0] == "1"


@pytest.mark.anyio
async def test_events_stored_after_a_session_is_dropped_are_not_held() -> None:
    buffer = EventBuffer(per_stream=10, total=100, max_bytes=1 << 20)
    alice = buffer.for_session("a")
    buffer.drop("a")
    await alice.store_event("1", _note(1))  # its transport, still shutting down
    assert len(buffer) == 0 and buffer.bytes == 0


@pytest.mark.anyio
async def test_the_byte_bound_counts_utf8_bytes() -> None:
    buffer = EventBuffer(per_stream=10, total=100, max_bytes=1 << 20)
    note = JSONRPCNotification(
        jsonrpc="2.0", method="notifications/message", params={"t": "é" * 1000}
    )
    await buffer.for_session("a").store_event("1", note)
    assert buffer.bytes >= 2000


@pytest.mark.anyio
async def test_a_dropped_sessions_events_are_gone_and_free_the_total() -> None:
    buffer = EventBuffer(per_stream=10, total=100, max_bytes=1 << 20)
    alice = buffer.for_session("a")
    primed = await alice.store_event("1", None)
    await alice.store_event("1", _note(1))
    buffer.drop("a")
    assert len(buffer) == 0 and buffer.of("a") is None
    assert await _replay(alice, primed) == (None, [])  # even through a store still held


@pytest.mark.anyio
async def test_a_waiter_hears_of_a_resume_and_gives_up_after_its_grace() -> None:
    buffer = EventBuffer(per_stream=10, total=100, max_bytes=1 << 20)
    alice = buffer.for_session("a")
    primed = await alice.store_event("1", None)
    assert await alice.wait_resumed("1", 0.01) is False  # nobody came back
    heard: list[bool] = []
    async with anyio.create_task_group() as tg:

        async def wait() -> None:
            heard.append(await alice.wait_resumed("1", 60))

        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        with replays() as attached:
            await _replay(alice, primed)
        assert attached == ["1"]
    assert heard == [True]
    alice.detach("1")
    assert await alice.wait_resumed("1", 0.01) is False


@pytest.mark.anyio
async def test_the_byte_bound_evicts_the_oldest_and_an_event_too_big_is_not_kept() -> None:
    size = len(_note(1).model_dump_json(by_alias=True, exclude_unset=True))
    buffer = EventBuffer(per_stream=100, total=100, max_bytes=4 * 3 * size)  # a session: 3
    alice = buffer.for_session("a")
    ids = [await alice.store_event("1", _note(n)) for n in range(1, 5)]
    assert len(buffer) == 3 and buffer.bytes == 3 * size
    assert await _replay(alice, ids[0]) == (None, [])
    big = JSONRPCResponse(jsonrpc="2.0", id=1, result={"text": "x" * 4 * size})
    too_big = await alice.store_event("1", big)
    assert len(buffer) == 3  # nothing evicted for it, and it is not kept
    _, sent = await _replay(alice, ids[1])
    assert [m.event_id for m in sent] == ids[2:] and too_big not in [m.event_id for m in sent]
    assert alice.answered("1")  # its disconnect is no reason to cancel the call
