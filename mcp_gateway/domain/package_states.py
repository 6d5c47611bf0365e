"""What one replica holds of a package on its own disk (docs/scaling.md, "Packages").

The package record is the desired state, shared by every replica; each replica also records
its own state of each package (``installing`` the recorded version, ``ready`` at a version,
``failed`` with the error) and touches its entries while it runs. ``GET /packages`` shows the
entries that differ from the record; entries not touched within a TTL belong to a replica that
is gone (killed, scaled down) and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mcp_gateway.domain.records import PackageRecord

#: Longest error text kept in a state (an installer's message; its log is not kept).
ERROR_CHARS = 500


class ReplicaPackageStatus(StrEnum):
    INSTALLING = "installing"  # installing the recorded version; still serving ``version``
    READY = "ready"  # serving ``version`` from its own directory
    FAILED = "failed"  # the recorded version could not be installed here; serving ``version``


@dataclass(frozen=True, slots=True)
class ReplicaPackageState:
    """Replica ``replica``'s state of ``server_name``'s package: the version it serves (empty
    when it serves none yet), the version it is installing or failed to install (``target``),
    and when it last touched the entry (wall clock, epoch seconds)."""

    server_name: str
    replica: str
    status: ReplicaPackageStatus
    version: str = ""
    target: str = ""
    error: str | None = None
    updated_at: float = 0.0


def differing(
    record: PackageRecord, states: Iterable[ReplicaPackageState], *, now: float, ttl: float
) -> list[ReplicaPackageState]:
    """The states of ``record``'s package that differ from it (not ready at its version),
    touched within ``ttl`` seconds of ``now``, by replica id."""
    return sorted(
        (
            s
            for s in states
            if s.server_name == record.server_name
            and now - s.updated_at <= ttl
            and (s.status is not ReplicaPackageStatus.READY or s.version != record.version)
        ),
        key=lambda s: s.replica,
    )
