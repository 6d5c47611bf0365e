"""Schema of the SQLite change feed (migration 4): the ``changes`` log and its triggers.

Triggers write the log inside the transaction that changes the record, so every writer (this
process, another ``serve`` on the same file, an offline CLI command, an import) is seen and a
change can never be committed without its log row. ``seq`` is ``AUTOINCREMENT``: never reused,
assigned under the database's single write lock, so rows become visible in ``seq`` order with
no gaps; a follower that finds a gap knows the log was pruned past it.
"""

from __future__ import annotations

NOW_SQL = "(julianday('now') - 2440587.5) * 86400.0"  # unix time; unixepoch() needs SQLite 3.42


def _trigger(
    table: str, event: str, kind: str, key: str, user: str = "NULL", when: str = ""
) -> str:
    row = "old" if event == "DELETE" else "new"
    name = f"{table}_{event.split()[0].lower()}_change"
    condition = f" WHEN {when}" if when else ""
    return (
        f"CREATE TRIGGER {name} AFTER {event} ON {table}{condition} BEGIN "
        f"INSERT INTO changes (kind, key, user, ts) VALUES "
        f"('{kind}', {row}.{key}, {user.replace('ROW', row)}, {NOW_SQL}); END"
    )


def _triggers(
    table: str, kind: str, key: str, user: str = "NULL", update: str = "UPDATE"
) -> list[str]:
    return [
        _trigger(table, "INSERT", kind, key, user),
        _trigger(table, update, kind, key, user),
        _trigger(table, "DELETE", kind, key, user),
    ]


# An API key's last-use time changes on use: not a change anyone follows.
_KEY_EDITED = "json_remove(old.doc, '$.last_used_at') IS NOT json_remove(new.doc, '$.last_used_at')"

CHANGE_FEED_MIGRATION: tuple[str, ...] = (
    """CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        user TEXT,
        ts REAL NOT NULL
    )""",
    "CREATE INDEX changes_by_ts ON changes (ts)",
    *_triggers("servers", "server", "name"),
    *_triggers("packages", "package", "server_name"),
    *_triggers("toolsets", "toolset", "name"),  # the table of migration 4
    *_triggers("oauth_tokens", "oauth", "server", "ROW.username"),
    # Key rotation rewrites ciphertexts only (same values): not a change; a set or delete is.
    *_triggers("secrets", "secret", "server", "ROW.username", update="UPDATE OF updated_at"),
    _trigger("api_keys", "INSERT", "api_key", "id"),
    _trigger("api_keys", "UPDATE", "api_key", "id", when=_KEY_EDITED),
    _trigger("api_keys", "DELETE", "api_key", "id"),
    "ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 0",
)
