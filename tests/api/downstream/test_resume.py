"""Resumable response streams of a legacy session (SEP-1699): a call's SSE stream that breaks
is resumed with ``Last-Event-ID`` and delivers the rest once; nobody else's GET can replay it;
its events end with the session. Raw HTTP: the point is what is on the wire."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest

from mcp_gateway.api.downstream.event_store import SessionEvents
from tests.api.downstream.conftest import LiveGateway, MakeLive
from tests.api.downstream.test_cancellation import _in_flight
from tests.api.downstream.test_edge import _in_session
from tests.api.downstream.test_fastpath import _session
from tests.api.downstream.test_shared_sessions import manager


@dataclass
class Event:
    id: str | None = None
    data: str = ""
    retry: int | None = None
    fields: list[str] = field(default_factory=list)

    @property
    def message(self) -> dict[str, Any] | None:
        return json.loads(self.data) if self.data.strip() else None


async def _events(resp: httpx2.Response) -> AsyncIterator[Event]:
    event = Event()
    async for line in resp.aiter_lines():
        if not line:
            if event.fields:
                yield event
            event = Event()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        event.fields.append(name)
        if name == "id":
            event.id = value
        elif name == "data":
            event.data += value
        elif name == "retry":
            event.retry = int(value)


def _progress_call(request_id: int, hold: float) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {
            "name": "progress",
            "arguments": {"steps": 1, "hold": hold},
            "_meta": {"progressToken": "p"},
        },
    }


def _resume(key: str, session: str, last_event_id: str) -> dict[str, str]:
    headers = _in_session(key, session, **{"Last-Event-ID": last_event_id})
    headers["Accept"] = "text/event-stream"
    return headers


async def _broken_after_progress(
    live: LiveGateway, key: str, session: str, request_id: int, hold: float
) -> list[Event]:
    """POST the call on a connection of its own and drop it after the progress notification:
    the events read until then."""
    seen: list[Event] = []
    async with httpx2.AsyncClient(base_url=live.url, timeout=30) as own:
        body = _progress_call(request_id, hold)
        async with own.stream("POST", "/mcp/fx", json=body, headers=_in_session(key, session)) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith(
                "text/event-stream"
            )
            async for event in _events(r):
                seen.append(event)
                message = event.message
                if message is not None and message.get("method") == "notifications/progress":
                    break
    return seen


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_broken_call_stream_resumed_with_last_event_id_gets_the_rest_exactly_once(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    session = await _session(live, "/mcp/fx", alice)
    seen = await _broken_after_progress(live, alice, session, 5, hold=1.0)
    priming, progress = seen[0], seen[-1]
    # The priming event comes first: an id, empty data, and the retry field.
    assert priming.id and priming.message is None and priming.retry == 1000
    assert progress.id and len(seen) == 2
    # The client comes back with the last id it saw and gets the rest: the result, once.
    rest: list[dict[str, Any]] = []
    async with live.client.stream(
        "GET", "/mcp/fx", headers=_resume(alice, session, progress.id)
    ) as resp:
        assert resp.status_code == 200
        with anyio.fail_after(60):
            async for event in _events(resp):
                if event.message is not None:
                    assert event.id  # resumable again from here
                    rest.append(event.message)
                    if event.message.get("id") == 5:
                        break
    assert rest == [{"jsonrpc": "2.0", "id": 5, "result": rest[-1]["result"]}], (
        "only the result: the progress notification is not sent again"
    )
    assert rest[-1]["result"]["content"][0]["text"] == "done 1"
    # The gateway did not read the broken stream as a cancellation: the call completed.
    with anyio.fail_after(30):
        while True:
            events = [e for e in await live.runtime.store.list_audit(50) if e.tool == "progress"]
            if events:
                break
            await anyio.sleep(0.05)
    assert [e.outcome for e in events] == ["ok"]


@pytest.mark.anyio
@pytest.mark.slow
async def test_an_answer_routed_while_a_stream_is_replayed_reaches_it_and_every_later_resume(
    live: LiveGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK attached a resumed stream only after its replay (and its new priming event): an
    # answer routed meanwhile was stored but sent nowhere, and the GET waited until the client
    # gave up. Then (review) the priming event was stored after such an answer, so a second
    # resume from its id, the newest the client had, skipped the answer. Here the answer is
    # routed while the replay runs; the client reads up to the priming event, breaks off, and
    # resumes from it.
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    session = await _session(live, "/mcp/fx", alice)
    seen = await _broken_after_progress(live, alice, session, 7, hold=2.0)
    progress = seen[-1].id
    assert progress is not None
    replay = SessionEvents.replay_events_after

    async def slow(self: SessionEvents, *args: Any) -> Any:
        monkeypatch.setattr(SessionEvents, "replay_events_after", replay)  # the first only
        stream = await replay(self, *args)
        with anyio.fail_after(30):
            while stream is not None and not self.answered(stream):  # noqa: ASYNC110
                await anyio.sleep(0.02)
        return stream

    monkeypatch.setattr(SessionEvents, "replay_events_after", slow)
    primed: str | None = None
    async with live.client.stream("GET", "/mcp/fx", headers=_resume(alice, session, progress)) as r:
        assert r.status_code == 200
        with anyio.fail_after(30):
            async for event in _events(r):
                assert event.message is None, "the answer came before the priming event"
                primed = event.id
                break
    assert primed is not None
    rest: list[dict[str, Any]] = []
    async with live.client.stream("GET", "/mcp/fx", headers=_resume(alice, session, primed)) as r:
        assert r.status_code == 200
        with anyio.fail_after(30):
            async for event in _events(r):
                if event.message is not None:
                    rest.append(event.message)
                    if event.message.get("id") == 7:
                        break
    assert [m.get("id") for m in rest] == [7]
    assert rest[0]["result"]["content"][0]["text"] == "done 1"


@pytest.mark.anyio
@pytest.mark.slow
async def test_no_other_session_or_user_replays_a_streams_events_and_delete_drops_them(
    live: LiveGateway,
) -> None:
    await live.add_server("fx")
    alice = await live.new_key("user", "alice")
    bob = await live.new_key("user", "bob")
    session = await _session(live, "/mcp/fx", alice)
    seen = await _broken_after_progress(live, alice, session, 6, hold=0.0)
    last = seen[-1].id
    assert last is not None
    events = manager(live).events
    assert events is not None and events.of(session) is not None
    with anyio.fail_after(60):  # the result is kept for a resume
        while True:
            held_here = events.of(session)
            if held_here is not None and held_here.answered("6"):
                break
            await anyio.sleep(0.05)
    for key in (alice, bob):  # alice's other session, bob's: the id is unknown there
        other = await _session(live, "/mcp/fx", key)
        resp = await live.client.get("/mcp/fx", headers=_resume(key, other, last))
        assert resp.status_code == 200
        assert "done" not in resp.text and "data:" not in resp.text, resp.text
    # Bob with alice's session id: 404, as for any foreign session.
    stolen = await live.client.get("/mcp/fx", headers=_resume(bob, session, last))
    assert stolen.status_code == 404 and "done" not in stolen.text
    held = len(events)
    ended = await live.client.delete("/mcp/fx", headers=_in_session(alice, session))
    assert ended.status_code == 200
    assert events.of(session) is None and len(events) < held
    again = await live.client.get("/mcp/fx", headers=_resume(alice, session, last))
    assert again.status_code == 404 and "done" not in again.text


@pytest.mark.anyio
@pytest.mark.slow
@pytest.mark.parametrize("padding", [0, 200_000])
async def test_a_broken_call_stream_not_resumed_within_the_grace_cancels_the_call(
    make_live: MakeLive, padding: int
) -> None:
    """Whatever the size of the request (its id read past large arguments too)."""
    async with make_live(endpoint={"resume_grace": 0.5}) as live:
        await live.add_server("fx")
        alice = await live.new_key("user", "alice")
        session = await _session(live, "/mcp/fx", alice)
        call = {
            "jsonrpc": "2.0",
            "id": 9,
            "method": "tools/call",
            "params": {
                "name": "sleep",
                "arguments": {"seconds": 120, "tag": "x" * padding},
                "_meta": {"progressToken": "p"},  # the SDK path: a resumable stream
            },
        }
        data = json.dumps(call).encode()

        async def pieces() -> AsyncIterator[bytes]:  # a large body arrives in many parts
            for start in range(0, len(data), 16 * 1024):
                yield data[start : start + 16 * 1024]
                await anyio.lowlevel.checkpoint()

        async with httpx2.AsyncClient(base_url=live.url, timeout=30) as own:
            headers = {**_in_session(alice, session), "Content-Type": "application/json"}
            body = pieces() if padding else data
            async with own.stream("POST", "/mcp/fx", content=body, headers=headers) as resp:
                async for event in _events(resp):
                    assert event.id and event.message is None  # primed: it could resume
                    break
                await _in_flight(live, "fx", 1)
        # Nobody came back for it: the upstream call is abandoned after the grace.
        await _in_flight(live, "fx", 0)
