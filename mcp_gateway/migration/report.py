"""What an import did (or, in a dry run, would do): one entry per source record.

Entries name records by kind and key (server name, ``username key`` of a secret...) and give a
reason in words; they never hold a secret value, so a report is safe to print and to log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    CREATE = "create"  # written (or, in a dry run, would be)
    UNCHANGED = "unchanged"  # already in the gateway with the same content
    CONFLICT = "conflict"  # the gateway holds something different: kept the gateway's
    NOT_CARRIED = "not_carried"  # the gateway cannot hold this (yet); reason says why
    FAILED = "failed"  # a broken source record (undecryptable, invalid): skipped


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str  # server | secret | oauth_tokens | session | package | user_install | dcr_client
    subject: str  # what the record is: a server name, "username key" of a secret...
    action: Action
    reason: str | None = None

    def line(self, dry_run: bool) -> str:
        verb = "would create" if dry_run and self.action is Action.CREATE else self.action.value
        text = f"{verb:<12} {self.kind:<12} {self.subject}"
        return f"{text}: {self.reason}" if self.reason else text


@dataclass(slots=True)
class MigrationReport:
    dry_run: bool
    entries: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, kind: str, subject: str, action: Action, reason: str | None = None) -> None:
        self.entries.append(Entry(kind, subject, action, reason))

    def counts(self) -> dict[str, int]:
        found = Counter(e.action.value for e in self.entries)
        return {a.value: found.get(a.value, 0) for a in Action}

    @property
    def ok(self) -> bool:
        """No broken source record (not-carried-yet kinds do not count as failures)."""
        return not any(e.action is Action.FAILED for e in self.entries)

    def to_json(self) -> dict[str, Any]:
        return {
            "dryRun": self.dry_run,
            "counts": self.counts(),
            "warnings": list(self.warnings),
            "entries": [
                {"kind": e.kind, "key": e.subject, "action": e.action.value, "reason": e.reason}
                for e in self.entries
            ],
        }

    def lines(self) -> list[str]:
        out = [f"warning: {w}" for w in self.warnings]
        out += [e.line(self.dry_run) for e in self.entries]
        counts = ", ".join(f"{n} {a}" for a, n in self.counts().items() if n)
        prefix = "dry run, nothing written: " if self.dry_run else ""
        out.append(f"{prefix}{counts or 'nothing to import'}")
        return out
