"""The port the importer reads mcp-api's database through (implemented in ``storage/mongo``).

Documents come back as plain dicts in the collection's natural (``_id``) order, with BSON
types made Python: ObjectId as ``str``, dates as aware ``datetime``; ``_id`` is kept.
"""

from __future__ import annotations

from typing import Any, Protocol

# mcp-api's collection names (its SECRETS_DBNAME renames the secrets one).
SERVERS = "mcp"
OAUTH_TOKENS = "mcpOAuthTokens"
USER_INSTALLS = "mcpUserServerInstalls"
USER_SESSIONS = "mcpUserSessions"
DCR_CLIENTS = "mcpDcrClients"
PACKAGES = "packages"


class McpApiSource(Protocol):
    async def documents(self, collection: str) -> list[dict[str, Any]]:
        """Every document of ``collection`` (empty if it does not exist).

        Raises StoreUnavailable when the database cannot be read.
        """

    async def aclose(self) -> None: ...
