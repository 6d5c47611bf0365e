"""Changes to shared records, as every replica's change feed reports them.

A change names *what* changed (the kind and the record's key), never the new value: a replica
reads the value from the store when it applies the change, so a feed that reports a change
twice, or late, is harmless (applying is idempotent), and a feed never carries a secret.

``Rescan`` says that changes may have been missed (a change stream's history is gone, a
polled log was pruned past this replica's position, or the feed just started): the follower
reloads everything it keeps in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ChangeKind(StrEnum):
    SERVER = "server"  # key: server name
    API_KEY = "api_key"  # key: key id
    PACKAGE = "package"  # key: server name of the package
    OAUTH = "oauth"  # key: server name, user: username
    SECRET = "secret"  # key: server name, user: username (None: every user of the server)
    TOOLSET = "toolset"  # key: toolset name
    INSTALL = "install"  # key: server name, user: username (None: every user of the server)
    MCP_SESSION = "mcp_session"  # key: the session id's hash (domain/mcp_sessions.py)


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    key: str
    user: str | None = None
    # When the writer logged it (its wall clock, unix seconds), if the store says.
    at: float | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Rescan:
    """Changes may have been missed: reload everything. ``reason`` is for the log."""

    reason: str


ChangeEvent = Change | Rescan


def parse_change(kind: str, key: str, user: str | None, at: float | None = None) -> Change | None:
    """A change read back from a store, or None for a kind this version does not know (a
    newer replica wrote it; the rescan of an upgraded replica covers it)."""
    try:
        return Change(ChangeKind(kind), key, user, at)
    except ValueError:
        return None
