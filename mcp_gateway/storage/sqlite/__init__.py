"""Embedded SQLite store (the default backend)."""

from mcp_gateway.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
