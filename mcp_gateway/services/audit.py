"""The audit trail, written off the request path.

``record()`` puts an event on a bounded in-memory queue and returns at once; a background task
drains it into the store in batches. When the queue is full (the store is slow or down) events
are dropped and counted, never allowed to slow or fail a tool call. Leaving the context flushes
what is queued (bounded by ``flush_timeout``). Each event is stamped with this process's
``replica`` id as it is written. Reading the trail: :mod:`mcp_gateway.services.audit_reader`.

Refused requests without a valid key (:meth:`AuditLog.record_anonymous`) cost their sender
nothing, so they are recorded at most ``ANONYMOUS_RATE`` per second after a burst of
``ANONYMOUS_BURST``; the next one recorded says how many were left out. Without that budget
anyone could flood the trail with 401s and, through the ``max_events`` retention, push every
real event out of it (~1,300 refused requests a second on one core: a million in 13 minutes).

Retention: every ``prune_every`` seconds (and once at start) a second task deletes events
older than ``retention_days`` or beyond the newest ``max_events``, in batches of
``prune_batch`` events (the store never runs one large delete that would hold its write lock).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from types import TracebackType
from typing import Self

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mcp_gateway.domain.records import AuditEvent
from mcp_gateway.errors import GatewayError
from mcp_gateway.services.background import close_writer
from mcp_gateway.storage.ports import AuditStore

log = logging.getLogger("mcp_gateway.audit")

QUEUE_SIZE = 10_000
BATCH = 256
LINGER = 0.05  # seconds the drain waits to fill a batch after its first event
PRUNE_BATCH = 1000
PRUNE_EVERY = 3600.0
_DAY = 86400.0
# Refusals without a valid key: a burst, then 0.1/s (8,640 a day; the default max_events of a
# million would take 115 days to fill, longer than the default 90-day retention).
ANONYMOUS_BURST = 100
ANONYMOUS_RATE = 0.1


class AuditLog:
    """Async context manager owning the drain task. Counters: ``written``, ``dropped``,
    ``failed`` (store errors)."""

    def __init__(
        self,
        store: AuditStore,
        *,
        queue_size: int = QUEUE_SIZE,
        flush_timeout: float = 5.0,
        retention_days: float = 0.0,
        max_events: int = 0,
        prune_every: float = PRUNE_EVERY,
        prune_batch: int = PRUNE_BATCH,
        replica: str | None = None,
    ) -> None:
        self._prune_batch = prune_batch
        self._replica = replica
        self._store = store
        self._retention_days = retention_days
        self._max_events = max_events
        self._prune_every = prune_every
        self._queue_size = queue_size
        self._flush_timeout = flush_timeout
        self._send: MemoryObjectSendStream[AuditEvent] | None = None
        self._receive: MemoryObjectReceiveStream[AuditEvent] | None = None
        self._tg: TaskGroup | None = None
        self._drained = anyio.Event()
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.anonymous_left_out = 0
        self._anonymous_budget = float(ANONYMOUS_BURST)
        self._anonymous_at = time.monotonic()
        self._anonymous_pending = 0  # left out since the last one recorded

    async def __aenter__(self) -> Self:
        send, receive = anyio.create_memory_object_stream[AuditEvent](self._queue_size)
        self._drained = anyio.Event()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._receive = receive
        self._tg.start_soon(self._drain, receive)
        if self._retention_days > 0 or self._max_events > 0:
            self._tg.start_soon(self._prune_periodically)
        self._send = send
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        send, self._send = self._send, None
        tg, self._tg = self._tg, None
        await close_writer(send, tg, self._drained, self._flush_timeout, self._flush_timed_out)

    def _flush_timed_out(self) -> None:
        log.warning("audit: flush timed out; %d queued events not written", self.pending)

    async def prune(self) -> int:
        """Apply the retention now, batch by batch; returns how many events were deleted."""
        before = time.time() - self._retention_days * _DAY if self._retention_days > 0 else 0.0
        total = 0
        while True:
            deleted = await self._store.prune_audit(before, self._max_events, self._prune_batch)
            total += deleted
            if deleted < self._prune_batch:
                return total
            await anyio.sleep(0.01)  # let the audit drain and other writers in between batches

    async def _prune_periodically(self) -> None:
        while True:
            try:
                deleted = await self.prune()
            except GatewayError as exc:  # the store is down: try again next time
                log.warning("audit: retention not applied (%s)", exc.code)
            else:
                if deleted:
                    log.info("audit: %d events past retention deleted", deleted)
            await anyio.sleep(self._prune_every)

    def record(self, event: AuditEvent) -> None:
        """Queue ``event``; never blocks, never raises (drops and counts when full or closed)."""
        send = self._send
        if send is None:
            self.dropped += 1
            return
        try:
            send.send_nowait(event)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.dropped += 1

    def record_anonymous(self, event: AuditEvent) -> None:
        """:meth:`record` for a request refused without a valid key, within the anonymous
        budget (see the module docstring); beyond it the event is counted, not recorded."""
        now = time.monotonic()
        budget = self._anonymous_budget + (now - self._anonymous_at) * ANONYMOUS_RATE
        self._anonymous_budget = min(budget, float(ANONYMOUS_BURST))
        self._anonymous_at = now
        if self._anonymous_budget < 1.0:
            self.anonymous_left_out += 1
            if self._anonymous_pending == 0:
                log.warning("audit: refused requests without a valid key are being rate-limited")
            self._anonymous_pending += 1
            return
        self._anonymous_budget -= 1.0
        if self._anonymous_pending:
            note = f" (+{self._anonymous_pending} more refused without a key, not recorded)"
            event = replace(event, detail=f"{event.detail or ''}{note}")
            self._anonymous_pending = 0
        self.record(event)

    @property
    def pending(self) -> int:
        receive = self._receive
        return 0 if receive is None else receive.statistics().current_buffer_used

    async def _drain(self, receive: MemoryObjectReceiveStream[AuditEvent]) -> None:
        async with receive:
            async for first in receive:
                batch = [first]
                # Linger briefly so a busy gateway writes one transaction per batch, not one
                # per call (a write per event cost ~0.5 ms of CPU per tool call).
                with anyio.move_on_after(LINGER):
                    try:
                        while len(batch) < BATCH:
                            batch.append(await receive.receive())
                    except anyio.EndOfStream:
                        pass
                await self._write(batch)
        self._drained.set()

    async def _write(self, batch: list[AuditEvent]) -> None:
        if self._replica is not None:  # stamped here, off the request path
            batch = [e if e.replica else replace(e, replica=self._replica) for e in batch]
        try:
            await self._store.append_audits(batch)
        except GatewayError as exc:  # the store is down: count, never crash the drain
            before = self.failed
            self.failed += len(batch)
            if before == 0 or before // 1000 != self.failed // 1000:
                log.warning("audit: %d events not written (%s)", self.failed, exc.code)
        else:
            self.written += len(batch)
