"""SQLite schema and its migrations.

``MIGRATIONS[i]`` brings the schema from version ``i`` to ``i + 1``; the applied versions are
recorded in ``schema_version``. Append new migrations, never edit a released one.

Records are stored as one JSON document per row (encoded by :mod:`mcp_gateway.storage.codec`)
next to the key columns that are indexed or constrained. Secrets are the exception: their
ciphertext is a BLOB column so the per-call fetch never parses JSON.

No FOREIGN KEY constraints are declared although ``foreign_keys`` is on: the ports let callers
set a secret or session for a server before or after its definition exists (callers purge with
``delete_server_*``), and MongoDB could not enforce them, so the contract stays identical.
"""

from __future__ import annotations

from mcp_gateway.storage.sqlite.change_schema import CHANGE_FEED_MIGRATION, NOW_SQL

# Version 7: legacy /mcp sessions shared by every replica (storage/sqlite/mcp_sessions.py).
MCP_SESSIONS_MIGRATION: tuple[str, ...] = (
    """CREATE TABLE mcp_sessions (
        id_hash TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        username TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        last_seen REAL NOT NULL,
        log_level TEXT,
        doc TEXT NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX mcp_sessions_by_owner ON mcp_sessions (key_id, username, endpoint, last_seen)",
    "CREATE INDEX mcp_sessions_by_last_seen ON mcp_sessions (last_seen)",
    "CREATE TRIGGER mcp_sessions_delete_change AFTER DELETE ON mcp_sessions BEGIN "
    "INSERT INTO changes (kind, key, user, ts) VALUES "
    f"('mcp_session', old.id_hash, NULL, {NOW_SQL}); END",
    "CREATE TRIGGER mcp_sessions_update_change AFTER UPDATE OF log_level ON mcp_sessions "
    "BEGIN INSERT INTO changes (kind, key, user, ts) VALUES "
    f"('mcp_session', new.id_hash, NULL, {NOW_SQL}); END",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE servers (
            name TEXT PRIMARY KEY,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        # The primary key is the unique (username, server, name) constraint, ordered so that
        # its prefixes serve both the per-call (server, username) fetch and the per-server
        # purge; a WITHOUT ROWID table keeps the ciphertext in that same B-tree, so a fetch is
        # one index search with no second lookup.
        """CREATE TABLE secrets (
            server TEXT NOT NULL,
            username TEXT NOT NULL,
            name TEXT NOT NULL,
            ciphertext BLOB NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (server, username, name)
        ) WITHOUT ROWID""",
        """CREATE TABLE oauth_tokens (
            server TEXT NOT NULL,
            username TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (server, username)
        ) WITHOUT ROWID""",
        """CREATE TABLE sessions (
            server TEXT NOT NULL,
            scope TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (server, scope)
        ) WITHOUT ROWID""",
        """CREATE TABLE packages (
            server_name TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX packages_by_name ON packages (name)",
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX audit_by_ts ON audit (ts DESC, seq DESC)",
        """CREATE TABLE leases (
            key TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at REAL NOT NULL
        ) WITHOUT ROWID""",
    ),
    # 2: reading the audit trail (GET /audit). The filtered fields become virtual columns
    # computed from the JSON document (no backfill, no second copy), each indexed with the
    # newest-first order so a filtered page is one index range scan.
    (
        *(
            f"ALTER TABLE audit ADD COLUMN {name} TEXT"
            f" GENERATED ALWAYS AS (json_extract(doc, '$.{name}')) VIRTUAL"
            for name in ("actor", "username", "server", "tool", "outcome")
        ),
        *(
            f"CREATE INDEX audit_by_{name} ON audit ({name}, ts DESC, seq DESC)"
            for name in ("actor", "username", "server", "outcome")
        ),
    ),
    # 3: runs (background tool calls): the columns are the ones queried, the doc the record.
    (
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            key_id TEXT NOT NULL,
            username TEXT NOT NULL,
            server TEXT NOT NULL,
            status TEXT NOT NULL,
            replica TEXT NOT NULL,
            finished_at REAL,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC)",
        "CREATE INDEX runs_by_username ON runs (username, created_at DESC, id DESC)",
        "CREATE INDEX runs_by_key ON runs (key_id, username, status)",
        "CREATE INDEX runs_by_replica ON runs (replica, status)",
        "CREATE INDEX runs_by_finished ON runs (status, finished_at)",
    ),
    # 4: toolsets (/mcp/toolsets/{name}): few, small, read whole by name.
    (
        """CREATE TABLE toolsets (
            name TEXT PRIMARY KEY,
            doc TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    # 5: per-user installs of servers (mcp-api's mcpUserServerInstalls).
    (
        """CREATE TABLE user_installs (
            server TEXT NOT NULL,
            username TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (server, username)
        ) WITHOUT ROWID""",
        "CREATE INDEX user_installs_by_username ON user_installs (username, server)",
    ),
    # 6: the change feed (storage/sqlite/changes.py: triggers log every change to a shared
    # record in the writer's own transaction) and fencing tokens on leases.
    CHANGE_FEED_MIGRATION,
    # 7: the MCP endpoint's legacy sessions, resumable by any replica (sqlite/mcp_sessions.py).
    MCP_SESSIONS_MIGRATION,
    # 8: each replica's own state of each package (storage/sqlite/package_states.py).
    (
        """CREATE TABLE package_states (
            server_name TEXT NOT NULL,
            replica TEXT NOT NULL,
            updated_at REAL NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (server_name, replica)
        ) WITHOUT ROWID""",
        "CREATE INDEX package_states_by_replica ON package_states (replica)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

CREATE_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at REAL NOT NULL
)"""
