"""The cluster-wide install lease (services/install_lock.py) on both stores: two replicas'
InstallLocks on one store behave as two gateways would."""

from __future__ import annotations

import time

import anyio
import pytest

from mcp_gateway.errors import InstallInProgress
from mcp_gateway.services.install_lock import InstallLocks
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio


async def test_one_operation_per_server_across_replicas_the_other_gets_install_in_progress(
    store: Store,
) -> None:
    a, b = InstallLocks(store, "replica-a", 30.0), InstallLocks(store, "replica-b", 30.0)
    async with a.hold("fx"):
        with pytest.raises(InstallInProgress) as caught:
            async with b.hold("fx"):
                pass
        assert caught.value.status == 409 and caught.value.code == "install_in_progress"
        async with b.hold("other"):  # another server is not blocked
            pass
    async with b.hold("fx"):  # released: the other replica may go
        pass


async def test_a_dead_holder_blocks_only_until_its_lease_expires(store: Store) -> None:
    # A replica killed (-9) while holding the lease never renews nor releases it.
    assert await store.acquire_fenced_lease("install:fx", "dead-replica:1", 0.5) is not None
    b = InstallLocks(store, "replica-b", 30.0)
    with pytest.raises(InstallInProgress):
        async with b.hold("fx"):
            pass
    deadline = time.monotonic() + 20
    while True:
        try:
            async with b.hold("fx") as lease:
                assert lease.token >= 2  # fenced: higher than the dead holder's
                break
        except InstallInProgress:
            assert time.monotonic() < deadline, "the dead holder's lease never expired"
            await anyio.sleep(0.05)


async def test_an_operation_that_lost_its_lease_is_cancelled_and_cannot_commit(
    store: Store,
) -> None:
    a = InstallLocks(store, "replica-a", 0.6)  # renewed every 0.2 s
    reached_end = False
    with pytest.raises(InstallInProgress):
        async with a.hold("fx") as lease:
            # As if this process had paused past the TTL: the lease is taken over meanwhile.
            await store.release_fenced_lease(lease.key, lease.holder, lease.token)
            assert await store.acquire_fenced_lease(lease.key, "replica-b:1", 30.0) is not None
            with pytest.raises(InstallInProgress):
                await lease.check()  # the fencing check before a commit refuses
            with anyio.fail_after(20):
                await anyio.sleep_forever()  # the renewal task cancels the operation
            reached_end = True
    assert not reached_end


async def test_an_error_raised_under_the_lease_comes_out_as_itself(store: Store) -> None:
    a = InstallLocks(store, "replica-a", 30.0)
    with pytest.raises(ValueError, match="the operation's own error"):
        async with a.hold("fx"):
            raise ValueError("the operation's own error")
    async with a.hold("fx"):  # and the lease was released
        pass
