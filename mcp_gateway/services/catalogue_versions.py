"""Catalogue versions: a cheap value that changes whenever stored data that shapes a caller's
tool list changes.

What shapes a user's tool list, and how each change is seen:

- server definitions and the tool lists of live sessions: the pool holds both (every
  definition reaches it through ServerService, other replicas' through the change feed), and
  :class:`~mcp_gateway.services.catalogue.CatalogueService` compares them by identity on each
  use; nothing is counted here;
- a user's secret names (they hide injected parameters), OAuth tokens (a session of their
  own) and installs of external servers (who sees them), and toolsets: stored records,
  counted here. This process's writes are noted the moment they are made
  (:class:`~mcp_gateway.storage.write_signals.WriteSignals` around the store); other
  processes' arrive through the change feed (:func:`follow_catalogue`), as every other
  cached record does. A feed rescan (missed changes) counts as a change of everything.

A stamp is ``(shared, user)``: ``shared`` moves on a change that concerns every user (a
toolset, every user's secrets of a deleted server), ``user`` on a change of that user's records
(:meth:`~CatalogueVersions.stamp`), or of that user's records of one server
(:meth:`~CatalogueVersions.server_stamp`: only that server's inputs are read again). Counters
are kept for at most :data:`MAX_USERS` users and as many (user, server) pairs; one without a
counter has the floor, which moves past every forgotten counter: forgetting one can only cause
a re-read.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from mcp_gateway.domain.changes import Change, ChangeEvent, ChangeKind, Rescan
from mcp_gateway.services.follow import ChangeFollower

MAX_USERS = 4096

#: Stored records that shape tool lists (server definitions are read from the pool).
SHAPING = frozenset({ChangeKind.SECRET, ChangeKind.OAUTH, ChangeKind.INSTALL, ChangeKind.TOOLSET})

Stamp = tuple[int, int]


class CatalogueVersions:
    def __init__(self, max_users: int = MAX_USERS) -> None:
        self._max_users = max_users
        self._clock = 0
        self._shared = 0
        # The clock at the last change of a user's records, and of a user's records of one
        # server (most recently changed last); the floor is newer than any counter forgotten.
        self._users: OrderedDict[str, int] = OrderedDict()
        self._pairs: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._floor = 0

    def note(self, event: ChangeEvent) -> None:
        """Count ``event`` (from the store proxy or the change feed) if it shapes tool lists."""
        if isinstance(event, Rescan):
            self._clock += 1
            self._shared = self._clock
            return
        if event.kind not in SHAPING:
            return
        self._clock += 1
        if event.user is None or event.kind is ChangeKind.TOOLSET:
            self._shared = self._clock
            return
        self._bump(self._users, event.user)
        self._bump(self._pairs, (event.user, event.key))

    def _bump(self, counters: OrderedDict[Any, int], key: Any) -> None:
        counters[key] = self._clock
        counters.move_to_end(key)
        if len(counters) > self._max_users:
            counters.popitem(last=False)
            self._floor = self._clock  # newer than any counter a forgotten key had

    def stamp(self, username: str) -> Stamp:
        """Changes when anything counted here that ``username`` sees changes."""
        return self._shared, self._users.get(username, self._floor)

    def server_stamp(self, username: str, server: str) -> Stamp:
        """Changes when anything counted here about ``username`` and ``server`` changes."""
        return self._shared, self._pairs.get((username, server), self._floor)


def follow_catalogue(follower: ChangeFollower, versions: CatalogueVersions) -> None:
    """Count other processes' changes (the change feed) as this process's are counted."""

    async def changed(change: Change) -> None:
        versions.note(change)

    async def rescan() -> None:
        versions.note(Rescan("feed rescan"))

    for kind in SHAPING:
        follower.subscribe(kind, changed)
    follower.on_rescan(rescan)
