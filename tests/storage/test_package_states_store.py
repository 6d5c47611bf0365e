"""Each replica's package states on both stores (SQLite migration 8, MongoDB
``mcpgw_package_states``), and which of them ``GET /packages`` shows (domain rule)."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.package_states import (
    ReplicaPackageState,
    ReplicaPackageStatus,
    differing,
)
from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio

INSTALLING = ReplicaPackageStatus.INSTALLING
READY = ReplicaPackageStatus.READY
FAILED = ReplicaPackageStatus.FAILED


async def test_a_state_is_kept_per_server_and_replica_and_replaced_whole(store: Store) -> None:
    first = ReplicaPackageState("My Server.v2", "b", INSTALLING, "1.9.0", "1.10.0", None, 10.0)
    await store.put_package_state(first)
    await store.put_package_state(ReplicaPackageState("My Server.v2", "a", READY, "1.10.0"))
    await store.put_package_state(ReplicaPackageState("other", "b", READY, "2.0.0"))
    failed = ReplicaPackageState("My Server.v2", "b", FAILED, "1.9.0", "1.10.0", "boom", 11.0)
    await store.put_package_state(failed)
    states = await store.list_package_states()
    assert [(s.server_name, s.replica) for s in states] == [
        ("My Server.v2", "a"),
        ("My Server.v2", "b"),
        ("other", "b"),
    ]
    assert states[1] == failed


async def test_touch_renews_every_entry_of_one_replica_and_delete_drops_a_server(
    store: Store,
) -> None:
    await store.put_package_state(ReplicaPackageState("x", "a", READY, "1", updated_at=1.0))
    await store.put_package_state(ReplicaPackageState("x", "b", FAILED, "1", "2", "e", 1.0))
    await store.put_package_state(ReplicaPackageState("y", "b", READY, "3", updated_at=1.0))
    await store.touch_package_states("b", 50.0)
    times = {(s.server_name, s.replica): s.updated_at for s in await store.list_package_states()}
    assert times == {("x", "a"): 1.0, ("x", "b"): 50.0, ("y", "b"): 50.0}
    await store.delete_package_states("x")
    assert [(s.server_name, s.replica) for s in await store.list_package_states()] == [("y", "b")]


async def test_prune_deletes_only_the_entries_untouched_since_a_time(store: Store) -> None:
    await store.put_package_state(ReplicaPackageState("x", "gone", READY, "1", updated_at=5.0))
    await store.put_package_state(ReplicaPackageState("x", "live", READY, "1", updated_at=9.0))
    assert await store.prune_package_states(before=9.0) == 1
    assert [s.replica for s in await store.list_package_states()] == ["live"]


def test_only_fresh_states_that_differ_from_the_record_are_shown() -> None:
    record = PackageRecord("fx", "pkg", PackageRuntime.NODE, "1.10.0")
    states = [
        ReplicaPackageState("fx", "c", READY, "1.10.0", updated_at=100.0),  # agrees
        ReplicaPackageState("fx", "b", INSTALLING, "1.9.0", "1.10.0", updated_at=100.0),
        ReplicaPackageState("fx", "a", READY, "1.9.0", updated_at=100.0),  # older version
        ReplicaPackageState("fx", "gone", FAILED, "1.9.0", "1.10.0", "x", updated_at=10.0),
        ReplicaPackageState("other", "b", FAILED, "1", "2", "x", updated_at=100.0),
    ]
    shown = differing(record, states, now=110.0, ttl=60.0)
    assert [(s.replica, s.status) for s in shown] == [("a", READY), ("b", INSTALLING)]
