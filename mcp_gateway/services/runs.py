"""Runs: tool calls accepted at once (202) and executed in the background, polled or followed.

A run goes through the one tool-call path (:class:`ToolCallService.call`), so injection,
masking, audit, metrics and limits are exactly a synchronous call's. It executes in a task of
this service's task group, which the runtime's lifespan owns: the HTTP request that started it
may go away. Every change is written to the store, so any replica answers ``GET /runs/{id}``.

- **Cancel** (``DELETE /runs/{id}``): on the executing replica the run's cancel scope is
  cancelled, which cancels the upstream request as a disconnecting sync client does (the SDK
  sends ``notifications/cancelled``). Elsewhere the run is marked cancelled in the store (a
  terminal run is final); the executing replica notices within ``poll`` seconds (its progress
  writes fail, and a watcher re-reads its active runs) and cancels the upstream call.
- **Restart**: at start-up every pending/running run of this replica id is marked
  ``interrupted`` (a fixed ``MCPGW_REPLICA_ID`` makes that the predecessor's); a graceful
  shutdown marks its own runs ``interrupted`` too; runs of a replica id whose liveness lease
  lapsed (a killed process, whatever its id) are marked by any replica within
  ``MCPGW_RUN_REPLICA_TIMEOUT`` (``services/run_upkeep.py``).
- **Progress**: the upstream's progress notifications arrive through
  :data:`~mcp_gateway.upstream.progress.CALL_PROGRESS` (masked by the session); the latest one
  is written at most every ``PROGRESS_INTERVAL`` seconds (later ones coalesce).
- **Limits**: at most ``max_active`` pending/running runs per (API key, username), counted in
  the store (all replicas); results larger than ``result_max_bytes`` are not kept (the run ends
  as error ``result_too_large``); finished runs are deleted after ``retention``, in batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.abc

from mcp_gateway.config import RunsSettings
from mcp_gateway.domain.names import DEFAULT_USERNAME
from mcp_gateway.domain.records import Role
from mcp_gateway.domain.runs import (
    RunError,
    RunProgress,
    RunQuery,
    RunRecord,
    RunScope,
    RunStatus,
    new_run_id,
)
from mcp_gateway.errors import GatewayError, NotFound, StoreUnavailable, TooManyRuns
from mcp_gateway.services.principal import Principal
from mcp_gateway.services.run_upkeep import RunUpkeep, UpkeepStore
from mcp_gateway.services.tool_calls import ToolCallService
from mcp_gateway.upstream.progress import CALL_PROGRESS, ProgressSink

log = logging.getLogger("mcp_gateway.runs")

PROGRESS_INTERVAL = 0.25  # seconds between two progress writes of one run
MAX_PROGRESS_MESSAGE = 1000
CANCEL_ATTEMPTS = 5


def scope_of(principal: Principal) -> RunScope:
    """What a caller may see, as for the audit: admin everything, a service key the runs it
    started, a user key the runs of its username (whoever started them)."""
    if principal.role is Role.ADMIN:
        return RunScope()
    if principal.role is Role.USER:
        return RunScope(username=principal.username or DEFAULT_USERNAME)
    return RunScope(key_id=principal.key_id)


@dataclass(eq=False)
class _Local:
    """A run executing in this process."""

    record: RunRecord
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    progress: RunProgress | None = None
    progressed: anyio.Event = field(default_factory=anyio.Event)
    cancel_requested: bool = False
    done: anyio.Event = field(default_factory=anyio.Event)


class RunService:
    """Start, read, list, cancel and follow runs. Enter it (``async with``) to run any."""

    def __init__(
        self,
        store: UpkeepStore,
        tools: ToolCallService,
        settings: RunsSettings,
        *,
        replica: str,
        poll: float = 1.0,
    ) -> None:
        self._store = store
        self._upkeep = RunUpkeep(store, settings, replica, poll)
        self._tools = tools
        self._settings = settings
        self.replica = replica
        self.poll = poll
        self._local: dict[str, _Local] = {}
        self._changed: dict[str, anyio.Event] = {}
        self._admission: dict[tuple[str, str], anyio.Lock] = {}
        self._tasks: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Self:
        count = await self._store.interrupt_runs(
            self.replica,
            "interrupted",
            f"the gateway (replica {self.replica!r}) restarted before this run finished",
            time.time(),
        )
        if count:
            log.warning(
                "marked %d unfinished run(s) of replica %r interrupted", count, self.replica
            )
        await self._upkeep.liveness.tick()  # our lease first: no peer takes us for gone
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._tasks.start_soon(self._upkeep.run, self._local_scopes)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tasks, self._tasks = self._tasks, None
        if tasks is not None:
            tasks.cancel_scope.cancel()  # running runs end as interrupted (see _execute)
            await tasks.__aexit__(None, None, None)

    # -- starting and executing ------------------------------------------------------------

    async def start(
        self,
        principal: Principal,
        username: str,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        request_id: str = "",
    ) -> RunRecord:
        """Record a pending run and start it. Raises TooManyRuns, StoreUnavailable."""
        if self._tasks is None:
            raise StoreUnavailable("the run service is not running (the gateway is stopping)")
        # Count and insert as one step per (key, username) within this replica.
        admission = self._admission.setdefault((principal.key_id, username), anyio.Lock())
        try:
            async with admission:
                run = await self._admit(principal, username, server, tool, request_id)
        finally:
            if not admission.locked() and not admission.statistics().tasks_waiting:
                self._admission.pop((principal.key_id, username), None)
        if self._tasks is None:  # stopped meanwhile: the next start marks the run interrupted
            raise StoreUnavailable("the run service is not running (the gateway is stopping)")
        local = _Local(run)
        self._local[run.id] = local
        self._tasks.start_soon(self._execute, local, principal, arguments)
        return run

    async def _admit(
        self, principal: Principal, username: str, server: str, tool: str, request_id: str
    ) -> RunRecord:
        """Check the cap, then record the pending run (under the caller's admission lock)."""
        active = await self._store.count_active_runs(principal.key_id, username)
        if active >= self._settings.max_active:
            raise TooManyRuns(
                f"this API key already has {active} unfinished runs for this username "
                f"(MCPGW_RUN_MAX_ACTIVE={self._settings.max_active}); wait for one to end"
            )
        run = RunRecord(
            id=new_run_id(),
            key_id=principal.key_id,
            role=principal.role.value,
            username=username,
            server=server,
            tool=tool[:256],
            replica=self.replica,
            created_at=time.time(),
            request_id=request_id,
        )
        await self._store.create_run(run)
        return run

    async def _execute(
        self, local: _Local, principal: Principal, arguments: dict[str, Any]
    ) -> None:
        final: RunRecord | None = None
        try:
            with local.scope:
                final = await self._call(local, principal, arguments)
        except GatewayError as exc:  # the store failed while saving a state: the run still ends
            final = self._ended(
                local.record, RunStatus.ERROR, RunError(exc.code, str(exc), exc.status)
            )
        except Exception as exc:  # never let one run take the service's task group down
            log.error("run failed with %s", type(exc).__name__)
            error = RunError("internal_error", f"internal error ({type(exc).__name__})", 500)
            final = self._ended(local.record, RunStatus.ERROR, error)
        finally:
            run = local.record
            if final is None and local.cancel_requested:  # DELETE
                final = self._ended(run, RunStatus.CANCELLED)
            elif final is None:  # shutdown (or ended elsewhere: then this write is refused)
                error = RunError("interrupted", "the gateway shut down during this run", 503)
                final = self._ended(run, RunStatus.INTERRUPTED, error)
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                try:
                    await self._write(local, final)
                except GatewayError as exc:  # restart marks it interrupted later
                    log.error("final state of a run not saved: %s", exc)
            # Only now: until the final state is stored, followers wait for its write.
            del self._local[run.id]
            local.done.set()

    async def _call(
        self, local: _Local, principal: Principal, arguments: dict[str, Any]
    ) -> RunRecord | None:
        run = local.record
        if not await self._write(
            local, replace(run, status=RunStatus.RUNNING, started_at=time.time())
        ):
            return None  # cancelled before it started
        run = local.record
        token = CALL_PROGRESS.set(self._sink(local))
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._write_progress, local)
                try:
                    result = await self._tools.call(
                        principal,
                        run.username,
                        run.server,
                        run.tool,
                        arguments,
                        request_id=run.request_id,
                    )
                except GatewayError as exc:  # messages are masked where they are raised
                    return self._ended(
                        local.record, RunStatus.ERROR, RunError(exc.code, str(exc), exc.status)
                    )
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            CALL_PROGRESS.reset(token)
        data = type(result).__pydantic_serializer__.to_json(
            result, by_alias=True, exclude_none=True
        )
        limit = self._settings.result_max_bytes
        if len(data) > limit:
            message = (
                f"the tool's result has {len(data)} bytes, more than this gateway keeps for a "
                f"run (MCPGW_RUN_RESULT_MAX_BYTES={limit}); call the tool synchronously"
            )
            error = RunError("result_too_large", message, 413)
            return self._ended(local.record, RunStatus.ERROR, error)
        finished = self._ended(local.record, RunStatus.SUCCESS)
        return replace(finished, result=data.decode())

    @staticmethod
    def _ended(run: RunRecord, status: RunStatus, error: RunError | None = None) -> RunRecord:
        return replace(run, status=status, finished_at=time.time(), error=error)

    def _sink(self, local: _Local) -> ProgressSink:
        # Called from the upstream session's receive loop: never block it, just hand over.
        async def report(progress: float, total: float | None, message: str | None) -> None:
            text = message[:MAX_PROGRESS_MESSAGE] if message else None
            local.progress = RunProgress(float(progress), total, text)
            local.progressed.set()

        return report

    async def _write_progress(self, local: _Local) -> None:
        while True:
            await local.progressed.wait()
            local.progressed = anyio.Event()
            run = replace(local.record, progress=local.progress)
            try:
                if not await self._write(local, run):
                    local.scope.cancel()  # cancelled (or purged) elsewhere: stop the call
                    return
            except GatewayError as exc:
                log.warning("progress of run not saved: %s", exc)
            await anyio.sleep(PROGRESS_INTERVAL)  # later notifications coalesce meanwhile

    async def _write(self, local: _Local, run: RunRecord) -> bool:
        """Save ``run`` (seq + 1) unless the stored run is already terminal.

        Shielded: a write cancelled half-way (MongoDB's driver can be) might still land while
        ``local.record`` kept the old seq, and the next state would reuse that seq (a follower
        holding it would never see the next one). Store timeouts bound the wait.
        """
        # The latest notification, not the one last written: writes coalesce (PROGRESS_INTERVAL),
        # so the final state would otherwise keep a stale step under load.
        run = replace(run, seq=local.record.seq + 1, progress=local.progress or run.progress)
        with anyio.CancelScope(shield=True):
            stored = await self._store.update_run(run)
        if not stored:
            return False
        local.record = run
        self._notify(run.id)
        return True

    # -- reading ---------------------------------------------------------------------------

    async def get(self, principal: Principal, run_id: str) -> RunRecord:
        """The run if this caller may see it; NotFound otherwise (never revealing it exists)."""
        run = await self._store.get_run(run_id) if run_id.startswith("run_") else None
        if run is None or not scope_of(principal).allows(run):
            raise NotFound("run not found")
        return run

    async def list(
        self,
        principal: Principal,
        *,
        status: RunStatus | None = None,
        server: str | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        query = RunQuery(scope_of(principal), status, server, before, limit)
        return await self._store.list_runs(query)

    async def cancel(self, principal: Principal, run_id: str) -> RunRecord:
        """Cancel an unfinished run (the upstream call with it); a finished one is returned
        as it is (idempotent). Raises NotFound."""
        run = await self.get(principal, run_id)
        if not run.active:
            return run
        local = self._local.get(run_id)
        if local is not None:
            local.cancel_requested = True
            local.scope.cancel()
            with anyio.move_on_after(10):
                await local.done.wait()
        else:  # executing on another replica (or on none): its watcher stops the call
            for _ in range(CANCEL_ATTEMPTS):  # it may write progress meanwhile: re-read, retry
                ended = replace(self._ended(run, RunStatus.CANCELLED), seq=run.seq + 1)
                if await self._store.update_run(ended):
                    break
                run = await self.get(principal, run_id)
                if not run.active:
                    break
        return await self.get(principal, run_id)

    async def follow(
        self, run: RunRecord, after: int, heartbeat: float = 15.0
    ) -> AsyncIterator[RunRecord | None]:
        """Each state of ``run`` with ``seq > after``, in order, until a terminal one, and
        ``None`` after ``heartbeat`` seconds without one. States that changed faster than they
        are read are skipped (the latest one is given)."""
        quiet_since = time.monotonic()
        recheck = True  # the run may have ended here since ``run`` was read
        while True:
            if run.seq > after:
                yield run
                after = run.seq
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= heartbeat:
                yield None
                quiet_since = time.monotonic()
            if not run.active:
                return
            # No await between checking the local state and waiting: no write goes unseen.
            local = self._local.get(run.id)
            if local is not None:
                recheck = True  # when it leaves, its final state is in the store: read it
                if local.record.seq <= after:  # nothing newer yet: wait for the next write
                    event = self._changed.setdefault(run.id, anyio.Event())
                    with anyio.move_on_after(self.poll):
                        await event.wait()
            elif recheck:
                recheck = False
            else:  # executed by another replica: read the store every ``poll`` seconds
                await anyio.sleep(self.poll)
            latest = await self._store.get_run(run.id)
            if latest is None:
                return
            run = latest

    def _local_scopes(self) -> dict[str, anyio.CancelScope]:
        return {run_id: local.scope for run_id, local in self._local.items()}

    async def purge(self) -> int:
        """Delete finished runs older than the retention now (also done periodically)."""
        return await self._upkeep.purge()

    def _notify(self, run_id: str) -> None:
        event = self._changed.pop(run_id, None)
        if event is not None:
            event.set()
