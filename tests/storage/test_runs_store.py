"""The runs port, on both stores: round trip, terminal runs are final, scoped newest-first
pages, active counts, interrupting a replica's runs and purging in batches."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mcp_gateway.domain.runs import (
    RunError,
    RunProgress,
    RunQuery,
    RunRecord,
    RunScope,
    RunStatus,
    new_run_id,
)
from mcp_gateway.errors import Conflict
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio


def run(created_at: float, **fields: object) -> RunRecord:
    base = RunRecord(
        id=new_run_id(),
        key_id="k1",
        role="service",
        username="alice",
        server="fx",
        tool="echo",
        replica="r1",
        created_at=created_at,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


async def test_a_run_round_trips_with_progress_result_and_error(store: Store) -> None:
    full = run(
        100.5,
        status=RunStatus.RUNNING,
        started_at=101.0,
        progress=RunProgress(2, 3, "half"),
        result='{"content":[]}',
        error=RunError("x", "y", 502),
        seq=4,
        request_id="req",
    )
    await store.create_run(full)
    assert await store.get_run(full.id) == full
    assert await store.get_run("run_missing") is None
    with pytest.raises(Conflict):
        await store.create_run(full)


async def test_only_active_runs_are_updated_so_a_terminal_state_is_final(store: Store) -> None:
    pending = run(1.0)
    await store.create_run(pending)
    running = replace(pending, status=RunStatus.RUNNING, seq=1)
    assert await store.update_run(running)
    cancelled = replace(running, status=RunStatus.CANCELLED, finished_at=2.0, seq=2)
    assert await store.update_run(cancelled)
    late = replace(running, status=RunStatus.SUCCESS, result="{}", seq=3)
    assert not await store.update_run(late)  # e.g. the completion lost to a cancel
    assert await store.get_run(pending.id) == cancelled
    assert not await store.update_run(run(3.0))  # never created


async def test_an_update_applies_only_to_the_state_just_before_it(store: Store) -> None:
    """Two writers that read the same state (a replica's progress, another's cancel): the
    second one's update fails instead of reusing the seq a follower has already seen."""
    pending = run(1.0)
    await store.create_run(pending)
    progress = replace(pending, status=RunStatus.RUNNING, progress=RunProgress(1), seq=1)
    cancel = replace(pending, status=RunStatus.CANCELLED, finished_at=2.0, seq=1)
    assert await store.update_run(progress)
    assert not await store.update_run(cancel)
    assert not await store.update_run(replace(progress, seq=3))  # skipping a state
    assert await store.update_run(replace(cancel, seq=2))
    assert await store.get_run(pending.id) == replace(cancel, seq=2)


async def test_list_is_scoped_filtered_and_paged_newest_first(store: Store) -> None:
    runs = [
        run(10.0),
        run(20.0, key_id="k2", username="bob", server="gh"),
        run(20.0, status=RunStatus.SUCCESS),
        run(30.0, key_id="k2"),
    ]
    for item in runs:
        await store.create_run(item)
    ordered = sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)
    assert await store.list_runs(RunQuery(limit=10)) == ordered
    page = await store.list_runs(RunQuery(limit=2))
    rest = await store.list_runs(RunQuery(before=(page[-1].created_at, page[-1].id), limit=10))
    assert page + rest == ordered
    assert {r.id for r in await store.list_runs(RunQuery(RunScope(key_id="k2")))} == {
        runs[1].id,
        runs[3].id,
    }
    assert {r.id for r in await store.list_runs(RunQuery(RunScope(username="alice")))} == {
        runs[0].id,
        runs[2].id,
        runs[3].id,
    }
    done = await store.list_runs(RunQuery(status=RunStatus.SUCCESS))
    assert [r.id for r in done] == [runs[2].id]
    assert [r.id for r in await store.list_runs(RunQuery(server="gh"))] == [runs[1].id]
    assert await store.list_runs(RunQuery(limit=0)) == []


async def test_active_runs_are_counted_per_key_and_username(store: Store) -> None:
    for item in (
        run(1.0),
        run(2.0, status=RunStatus.RUNNING),
        run(3.0, status=RunStatus.ERROR),
        run(4.0, username="bob"),
        run(5.0, key_id="k2"),
    ):
        await store.create_run(item)
    assert await store.count_active_runs("k1", "alice") == 2
    assert await store.count_active_runs("k1", "bob") == 1
    assert await store.count_active_runs("k3", "alice") == 0


async def test_interrupting_a_replica_marks_only_its_unfinished_runs(store: Store) -> None:
    mine = run(1.0, status=RunStatus.RUNNING, seq=3, progress=RunProgress(1))
    pending = run(2.0)
    done = run(3.0, status=RunStatus.SUCCESS, finished_at=4.0, result="{}")
    other = run(4.0, replica="r2", status=RunStatus.RUNNING)
    for item in (mine, pending, done, other):
        await store.create_run(item)
    assert await store.interrupt_runs("r1", "interrupted", "restarted", 50.0) == 2
    stopped = await store.get_run(mine.id)
    assert stopped == replace(
        mine,
        status=RunStatus.INTERRUPTED,
        finished_at=50.0,
        error=RunError("interrupted", "restarted", 503),
        seq=4,
    )
    assert (await store.get_run(pending.id)).status is RunStatus.INTERRUPTED  # type: ignore[union-attr]
    assert await store.get_run(done.id) == done
    assert await store.get_run(other.id) == other
    assert await store.count_active_runs("k1", "alice") == 1  # r2's
    assert await store.interrupt_runs("r1", "interrupted", "again", 60.0) == 0


async def test_purge_deletes_old_finished_runs_in_bounded_batches(store: Store) -> None:
    old = [run(float(i), status=RunStatus.SUCCESS, finished_at=float(i)) for i in range(5)]
    recent = run(1.0, status=RunStatus.ERROR, finished_at=100.0)
    active = run(0.0, status=RunStatus.RUNNING)
    for item in (*old, recent, active):
        await store.create_run(item)
    assert await store.purge_runs(before=50.0, limit=2) == 2
    assert await store.purge_runs(before=50.0, limit=2) == 2
    assert await store.purge_runs(before=50.0, limit=2) == 1
    assert await store.purge_runs(before=50.0, limit=2) == 0
    left = {r.id for r in await store.list_runs(RunQuery(limit=10))}
    assert left == {recent.id, active.id}


async def test_replicas_with_unfinished_runs_are_listed_once(store: Store) -> None:
    for item in (
        run(1.0, replica="r2"),
        run(2.0, replica="r1", status=RunStatus.RUNNING),
        run(3.0, replica="r2", status=RunStatus.RUNNING),
        run(4.0, replica="r3", status=RunStatus.SUCCESS),
    ):
        await store.create_run(item)
    assert await store.list_run_replicas() == ["r1", "r2"]
