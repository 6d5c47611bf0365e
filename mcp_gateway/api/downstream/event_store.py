"""Resumable response streams of the gateway's own MCP endpoint (SEP-1699): the events the SDK's
transport sends on a legacy session's SSE streams, kept so that a client whose stream broke
can ask for the rest with ``GET`` + ``Last-Event-ID``.

The SDK's ``EventStore`` is told neither the session of an event nor of a replay, and its
stream ids are the session's request ids (``"1"``, ``"2"``, the GET stream's key), equal
across sessions. So each session gets its **own** store (:class:`SessionEvents`, handed to its
transport by the session manager): a ``Last-Event-ID`` is looked up among the events of the
session whose GET presents it, and nowhere else. Another session's (or user's) event id is
unknown there and replays nothing, whatever it is; ids are also 128-bit random, so that none
can be guessed or inferred from another.

Bounded, in memory only (never logged, never stored): at most ``per_stream`` events per
stream (the oldest go first), at most ``total`` events and ``max_bytes`` (UTF-8) of them in
this process (the oldest of any session go first), and at most a quarter of each per session
(its own oldest go first: one chatty session cannot evict everyone else's). A request that
reuses the JSON-RPC id of an earlier one (ids need only be unique among requests in flight)
starts its stream afresh. A session's events are dropped when it ends
here (DELETE, idle timeout, key revocation, shutdown). An event holds its message as the JSON
the live stream carried (an upstream's content already masked): its size is what is counted,
and it holds no reference to the objects of the call. Held by the replica that served the
stream: a resume that lands on another replica finds no such id there (docs/scaling.md).
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import anyio
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCError, JSONRPCMessage, JSONRPCResponse, jsonrpc_message_adapter

__all__ = ["EventBuffer", "SessionEvents", "replays"]

SESSION_SHARE = 4  # one session holds at most 1/4 of the buffer's events and bytes

# The streams a GET's replay attached to, for the edge that serves that GET (disconnect.py):
# the SDK's replay runs in a task of the GET's request, which sees this holder.
_REPLAYED: ContextVar[list[StreamId] | None] = ContextVar("mcpgw_replayed", default=None)


@contextmanager
def replays() -> Iterator[list[StreamId]]:
    """Collects the streams the replays of the request served inside attach to."""
    holder: list[StreamId] = []
    token = _REPLAYED.set(holder)
    try:
        yield holder
    finally:
        _REPLAYED.reset(token)


@dataclass(slots=True)
class _Event:
    seq: int
    stream: StreamId
    # the message's JSON as the SDK writes it (content: kept out of reprs); None: priming
    data: str | None = field(repr=False)
    size: int = 0  # its UTF-8 bytes (what the byte bounds count)


@dataclass(slots=True)
class _Stream:
    events: OrderedDict[EventId, _Event] = field(default_factory=OrderedDict)
    answered: bool = False  # its response (or error) is among the events
    attached: int = 0  # replays of it being served (their GET still open)
    resumed: anyio.Event | None = None  # set by the next replay of it (made by a waiter)


class EventBuffer:
    """All sessions' events in this process, bounded: hands out one :class:`SessionEvents`
    per session and evicts the oldest events beyond ``total`` events or ``max_bytes``."""

    def __init__(self, *, per_stream: int, total: int, max_bytes: int) -> None:
        self.per_stream = per_stream
        self.total = total
        self.max_bytes = max_bytes
        self.bytes = 0  # the JSON held, in all
        self._sessions: dict[str, SessionEvents] = {}
        # Every held event, oldest first: its session's store (for eviction beyond ``total``).
        self._order: OrderedDict[EventId, SessionEvents] = OrderedDict()

    def for_session(self, session_id: str) -> SessionEvents:
        """The store of session ``session_id`` (new and empty the first time)."""
        events = self._sessions.get(session_id)
        if events is None:
            events = self._sessions[session_id] = SessionEvents(self)
        return events

    def of(self, session_id: str) -> SessionEvents | None:
        return self._sessions.get(session_id)

    def drop(self, session_id: str) -> None:
        """Session ``session_id`` ended here: its events go."""
        events = self._sessions.pop(session_id, None)
        if events is not None:
            for event_id, event in events.clear():
                self._removed(event_id, event)

    def __len__(self) -> int:
        """Events held in all."""
        return len(self._order)

    def _added(self, event_id: EventId, event: _Event, owner: SessionEvents) -> None:
        self._order[event_id] = owner
        self.bytes += event.size
        while self._order and (len(self._order) > self.total or self.bytes > self.max_bytes):
            oldest, store = self._order.popitem(last=False)
            gone = store._forget(oldest)
            if gone is not None:
                self.bytes -= gone.size

    def _removed(self, event_id: EventId, event: _Event) -> None:
        if self._order.pop(event_id, None) is not None:
            self.bytes -= event.size


class SessionEvents(EventStore):
    """One session's events, by stream. Given to that session's transport only."""

    def __init__(self, buffer: EventBuffer) -> None:
        self._buffer = buffer
        self._streams: dict[StreamId, _Stream] = {}
        self._where: dict[EventId, _Event] = {}  # oldest first
        self._seq = 0
        self._bytes = 0
        self._closed = False
        self._request_ids: dict[StreamId, object] = {}  # stream -> the JSON-RPC id as sent

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = secrets.token_urlsafe(16)  # 128 random bits
        if self._closed:
            return event_id  # the session ended here: what its transport still sends is not kept
        self._seq += 1
        data = message.model_dump_json(by_alias=True, exclude_unset=True) if message else None
        size = len(data.encode()) if data is not None else 0
        event = _Event(self._seq, stream_id, data, size)
        stream = self._streams.get(stream_id)
        if stream is not None and message is None and _REPLAYED.get() is None:
            # A new request's priming event on a known stream: the client reused a request id
            # (ids need only be unique among requests in flight). The old one's events go.
            self._drop_stream(stream_id)
            stream = None
        if stream is None:
            stream = self._streams[stream_id] = _Stream()
        if isinstance(message, JSONRPCResponse | JSONRPCError):
            stream.answered = True
        if event.size > self._buffer.max_bytes // SESSION_SHARE:
            return event_id  # too big to keep (it would evict everything): not resumable
        stream.events[event_id] = event
        self._where[event_id] = event
        self._bytes += event.size
        if len(stream.events) > self._buffer.per_stream:
            self._evict(next(iter(stream.events)))
        # One session holds at most a share of the buffer: its own oldest events go first, so
        # a chatty session (or a hostile upstream's fan-out) cannot evict everyone else's.
        while len(self._where) > self._buffer.total // SESSION_SHARE or (
            self._bytes > self._buffer.max_bytes // SESSION_SHARE
        ):
            self._evict(next(iter(self._where)))
        self._buffer._added(event_id, event, self)
        return event_id

    def _evict(self, event_id: EventId) -> None:
        event = self._forget(event_id)
        if event is not None:
            self._buffer._removed(event_id, event)

    def _drop_stream(self, stream_id: StreamId) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        for event_id in list(stream.events):
            self._evict(event_id)
        if (gone := self._streams.pop(stream_id, None)) is not None and gone.resumed is not None:
            gone.resumed.set()  # a waiter looks again (and finds the new request's stream)
        self._request_ids.pop(stream_id, None)

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback, upto: int | None = None
    ) -> StreamId | None:
        """Send this session's events of ``last_event_id``'s stream that came after it (and
        not after :attr:`position` ``upto``: a live stream carries those); None (nothing
        sent) for an id this session does not hold (another session's, evicted, made up)."""
        last = self._where.get(last_event_id)
        if last is None:
            return None
        stream = self._streams[last.stream]
        holder = _REPLAYED.get()
        if holder is not None:
            holder.append(last.stream)
            stream.attached += 1
        if stream.resumed is not None:
            stream.resumed.set()
            stream.resumed = None
        after = last.seq
        newest = upto if upto is not None else math.inf
        # Until nothing newer is left: events stored while the client reads are sent too.
        while pending := [e for e in list(stream.events.items()) if after < e[1].seq <= newest]:
            for event_id, event in pending:
                after = event.seq
                if event.data is not None:  # a priming event carries nothing to replay
                    message = jsonrpc_message_adapter.validate_json(event.data, by_name=False)
                    await send_callback(EventMessage(message, event_id))
        return last.stream

    @property
    def per_stream(self) -> int:
        """How many events of one stream are kept."""
        return self._buffer.per_stream

    @property
    def position(self) -> int:
        """Where the events stored so far end: a later event comes after it (replay cutoff)."""
        return self._seq

    # -- for the edge's disconnect handling (disconnect.py) ------------------------------

    def primed(self, stream_id: StreamId) -> bool:
        """Whether ``stream_id`` has events (its client was given ids: it can resume)."""
        return stream_id in self._streams

    def answered(self, stream_id: StreamId) -> bool:
        stream = self._streams.get(stream_id)
        return stream is not None and stream.answered

    def stream_of(self, event_id: EventId) -> StreamId | None:
        event = self._where.get(event_id)
        return event.stream if event is not None else None

    def remember_request(self, stream_id: StreamId, request_id: object) -> None:
        self._request_ids[stream_id] = request_id

    def request_id(self, stream_id: StreamId) -> object:
        return self._request_ids.get(stream_id)

    def detach(self, stream_id: StreamId) -> None:
        """A replay of ``stream_id`` ended (its GET closed)."""
        stream = self._streams.get(stream_id)
        if stream is not None and stream.attached > 0:
            stream.attached -= 1

    async def wait_resumed(self, stream_id: StreamId, within: float) -> bool:
        """Whether ``stream_id`` is being replayed to its client within ``within`` seconds
        (now, or by a GET that starts meanwhile); False once it is gone."""
        with anyio.move_on_after(within):
            while (stream := self._streams.get(stream_id)) is not None:
                if stream.attached:
                    return True
                if stream.resumed is None:
                    stream.resumed = anyio.Event()
                await stream.resumed.wait()
        return False

    # -- bookkeeping ---------------------------------------------------------------------

    def clear(self) -> list[tuple[EventId, _Event]]:
        """Forget everything, and keep nothing from now on; the events that were held."""
        self._closed = True
        held = list(self._where.items())
        for stream in self._streams.values():
            if stream.resumed is not None:
                stream.resumed.set()  # nothing left to wait for
        self._streams.clear()
        self._where.clear()
        self._request_ids.clear()
        return held

    def _forget(self, event_id: EventId) -> _Event | None:
        """Evicted by the buffer's bounds: the event, if it was still held."""
        event = self._where.pop(event_id, None)
        if event is not None:
            self._bytes -= event.size
            stream = self._streams.get(event.stream)
            if stream is not None:
                stream.events.pop(event_id, None)
                if not stream.events:  # all gone: so is what a resume could find
                    del self._streams[event.stream]
                    self._request_ids.pop(event.stream, None)
        return event
