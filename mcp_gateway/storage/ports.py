"""Storage ports. Services depend on these Protocols, never on a concrete store.

Every method may raise :class:`~mcp_gateway.errors.StoreUnavailable` when the backend cannot be
reached (adapters convert sqlite3/pymongo errors at their edge, with timeouts so an outage is an
error, never a hang). Ciphertexts are opaque bytes: stores never see plaintext secrets.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Protocol

from mcp_gateway.domain.audit import AuditQuery, AuditRow
from mcp_gateway.domain.changes import Change, ChangeEvent
from mcp_gateway.domain.mcp_sessions import McpSessionOwner, McpSessionRecord
from mcp_gateway.domain.package_states import ReplicaPackageState
from mcp_gateway.domain.records import (
    ApiKeyRecord,
    AuditEvent,
    PackageRecord,
    StoredOAuthTokens,
    StoredSecret,
    UpstreamSession,
)
from mcp_gateway.domain.runs import RunQuery, RunRecord
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.domain.toolsets import Toolset
from mcp_gateway.domain.user_servers import UserServerInstall


class ServerStore(Protocol):
    async def create_server(self, server: ServerConfig) -> None:
        """Insert a new definition. Raises ServerAlreadyExists if the name is taken."""

    async def update_server(self, server: ServerConfig) -> None:
        """Replace an existing definition. Raises ServerNotFound."""

    async def get_server(self, name: str) -> ServerConfig | None: ...

    async def list_servers(self) -> list[ServerConfig]:
        """All definitions, ordered by name."""

    async def delete_server(self, name: str) -> bool:
        """Remove the definition only (callers purge secrets/tokens/sessions). False if absent."""


class SecretStore(Protocol):
    async def put_secret(self, secret: StoredSecret) -> None:
        """Insert or replace (username, server, name)."""

    async def get_secrets(self, username: str, server: str) -> list[StoredSecret]:
        """One indexed query: every secret of this user for this server."""

    async def list_secret_names(self, username: str, server: str) -> list[str]:
        """Sorted names; never loads ciphertexts the caller does not need."""

    async def delete_secret(self, username: str, server: str, name: str) -> bool: ...

    async def count_user_secrets(self, username: str) -> int:
        """How many secrets ``username`` holds across every server (an indexed count)."""

    async def delete_server_secrets(self, server: str) -> int:
        """Remove every user's secrets for ``server``; returns how many."""

    async def count_server_secret_users(self, server: str) -> int:
        """How many distinct usernames hold at least one secret for ``server``."""

    def iter_all_secrets(self) -> AsyncIterator[StoredSecret]:
        """Every stored secret (for key rotation). Order unspecified."""

    async def replace_secret_ciphertext(
        self, username: str, server: str, name: str, old: bytes, new: bytes
    ) -> bool:
        """Compare-and-swap: set ``new`` only if the stored ciphertext is still ``old``."""


class OAuthTokenStore(Protocol):
    async def put_tokens(self, tokens: StoredOAuthTokens) -> None:
        """Insert or replace the record for (server, username)."""

    async def get_tokens(self, server: str, username: str) -> StoredOAuthTokens | None: ...

    async def delete_tokens(self, server: str, username: str) -> bool: ...

    async def delete_server_tokens(self, server: str) -> int: ...

    async def count_server_token_users(self, server: str) -> int:
        """How many usernames hold an OAuth token set for ``server``."""

    def iter_all_tokens(self) -> AsyncIterator[StoredOAuthTokens]: ...

    async def replace_token_fields(
        self, server: str, username: str, old: dict[str, bytes], new: dict[str, bytes]
    ) -> bool:
        """Compare-and-swap on the encrypted fields (for rotation)."""

    async def acquire_lease(self, key: str, holder: str, ttl: float) -> bool:
        """Take or renew an expiring lease (single-flight across processes). False if held."""

    async def release_lease(self, key: str, holder: str) -> None: ...


class SessionStore(Protocol):
    """Persisted Streamable HTTP session ids per (server, scope)."""

    async def put_session(self, session: UpstreamSession) -> None: ...

    async def get_session(self, server: str, scope: str) -> UpstreamSession | None: ...

    async def delete_session(self, server: str, scope: str) -> bool: ...

    async def delete_server_sessions(self, server: str) -> int: ...

    async def list_session_scopes(self, server: str) -> list[str]:
        """The scopes (usernames, ``""`` for the shared one) with a stored session."""


class McpSessionStore(Protocol):
    """Sessions of the gateway's own MCP endpoint (domain/mcp_sessions.py), by id hash, so that
    any replica resumes them. A delete or a log-level change is announced on the change feed
    (kind ``mcp_session``, key: the id hash)."""

    async def create_mcp_session(self, record: McpSessionRecord) -> None: ...

    async def get_mcp_session(self, id_hash: str) -> McpSessionRecord | None: ...

    async def count_mcp_sessions(self, owner: McpSessionOwner, seen_since: float) -> int:
        """The owner's sessions used at or after ``seen_since`` (unix seconds)."""

    async def touch_mcp_sessions(self, id_hashes: Sequence[str], at: float) -> set[str]:
        """Set ``last_seen`` of these sessions to ``at`` (never backwards); the ones that
        still exist."""

    async def set_mcp_session_log_level(self, id_hash: str, level: str) -> bool:
        """False if absent."""

    async def delete_mcp_session(self, id_hash: str) -> bool:
        """False if absent."""

    async def delete_idle_mcp_sessions(self, seen_before: float) -> int:
        """Delete the sessions last used before ``seen_before``; how many. Need not be
        announced on the feed: every replica's copy of such a session has idled out already."""


class UserInstallStore(Protocol):
    """Per-user installs of servers (unique per (server, username))."""

    async def put_install(self, install: UserServerInstall) -> None:
        """Insert or replace (server, username)."""

    async def get_install(self, server: str, username: str) -> UserServerInstall | None: ...

    async def list_user_installs(self, username: str) -> list[UserServerInstall]:
        """This user's installs, ordered by server name (one indexed query)."""

    async def list_server_installs(self, server: str) -> list[UserServerInstall]:
        """Every user's install of ``server``, ordered by username."""

    async def delete_install(self, server: str, username: str) -> bool: ...

    async def delete_server_installs(self, server: str) -> int:
        """Remove every user's install of ``server``; returns how many."""

    async def list_installs_with_client_secret(self) -> list[UserServerInstall]:
        """Every install holding an encrypted OAuth client secret (for key rotation)."""

    async def replace_install_client_secret(
        self, server: str, username: str, old: bytes, new: bytes
    ) -> bool:
        """Compare-and-swap: set ``new`` only if the stored client secret is still ``old``."""


class PackageStore(Protocol):
    async def put_package(self, package: PackageRecord) -> None:
        """Insert or replace by ``server_name``."""

    async def get_package(self, server_name: str) -> PackageRecord | None: ...

    async def find_packages_by_name(self, name: str) -> list[PackageRecord]: ...

    async def list_packages(self) -> list[PackageRecord]: ...

    async def delete_package(self, server_name: str) -> bool: ...


class PackageStateStore(Protocol):
    """Each replica's own state of each package (domain/package_states.py); not logged in
    the change feed (read on ``GET /packages``, never kept in memory)."""

    async def put_package_state(self, state: ReplicaPackageState) -> None:
        """Insert or replace by (``server_name``, ``replica``)."""

    async def list_package_states(self) -> list[ReplicaPackageState]: ...

    async def touch_package_states(self, replica: str, when: float) -> None:
        """Set ``updated_at`` of every entry of ``replica`` (it is alive)."""

    async def delete_package_states(self, server_name: str) -> None:
        """Every replica's entry of ``server_name`` (its package was uninstalled)."""

    async def prune_package_states(self, before: float) -> int:
        """Delete the entries not touched since ``before`` (replicas long gone: every start
        of a process without ``MCPGW_REPLICA_ID`` is a new replica). Returns how many."""


class ApiKeyStore(Protocol):
    async def create_api_key(self, key: ApiKeyRecord) -> None: ...

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    async def list_api_keys(self) -> list[ApiKeyRecord]: ...

    async def delete_api_key(self, key_id: str) -> bool: ...

    async def count_api_keys(self) -> int: ...

    async def touch_api_key(self, key_id: str, when: float) -> None:
        """Record last use (best effort; callers may skip it on the hot path)."""


class AuditStore(Protocol):
    async def append_audits(self, events: Sequence[AuditEvent]) -> None:
        """Append in one write (one transaction / one insert_many): the audit log batches."""

    async def list_audit(self, limit: int = 100) -> list[AuditEvent]:
        """Newest first."""

    async def query_audit(self, query: AuditQuery) -> list[AuditRow]:
        """One page of matching events (see :mod:`mcp_gateway.domain.audit`): newest first
        below ``query.before``, or oldest first above ``query.after``; served by an index for
        each single filter (key, username, server, outcome) and for the time range."""

    async def prune_audit(self, before: float, keep: int, limit: int) -> int:
        """Delete at most ``limit`` of the oldest events that are older than ``before`` (a
        ``ts``; 0: no age bound) or not among the newest ``keep`` (0: no count bound).

        Returns how many were deleted: callers repeat while it equals ``limit``, so the store
        never runs one unbounded delete.
        """


class RunStore(Protocol):
    """Background tool calls (runs). A terminal run is final: updates only touch active ones."""

    async def create_run(self, run: RunRecord) -> None: ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def update_run(self, run: RunRecord) -> bool:
        """Replace the run if the stored one is still pending/running and is the state just
        before this one (stored ``seq`` is ``run.seq - 1``); False (nothing written) otherwise:
        it is terminal or gone (e.g. another replica cancelled it), or changed meanwhile."""

    async def list_runs(self, query: RunQuery) -> list[RunRecord]:
        """Newest first (created_at, then id, descending), at most ``query.limit``."""

    async def count_active_runs(self, key_id: str, username: str) -> int:
        """Pending/running runs started by this key for this username."""

    async def interrupt_runs(self, replica: str, error_code: str, message: str, now: float) -> int:
        """Mark every pending/running run of ``replica`` interrupted (its process is gone)."""

    async def list_run_replicas(self) -> list[str]:
        """The replicas that have pending/running runs (each once)."""

    async def purge_runs(self, before: float, limit: int) -> int:
        """Delete at most ``limit`` terminal runs that finished before ``before``; callers
        repeat while it returns ``limit`` (bounded batches)."""


class ToolsetStore(Protocol):
    """Named subsets of tools (``/mcp/toolsets/{name}``); written only by ToolsetService."""

    async def put_toolset(self, toolset: Toolset) -> None:
        """Insert or replace by name, in one write."""

    async def get_toolset(self, name: str) -> Toolset | None: ...

    async def list_toolsets(self) -> list[Toolset]:
        """All toolsets, ordered by name."""

    async def delete_toolset(self, name: str) -> bool:
        """False if absent."""


class ChangeStore(Protocol):
    """The change feed: every replica follows writes to shared records through it
    (:mod:`mcp_gateway.domain.changes`; implementations: ``storage/*/changes.py``)."""

    def follow_changes(
        self, *, mode: str, poll_interval: float
    ) -> AsyncGenerator[ChangeEvent, None]:
        """Every change to servers, API keys, packages, OAuth grants, secrets and toolsets
        after the feed started, in commit order, until the iterator is closed (use
        ``contextlib.aclosing``). The first event is a ``Rescan`` yielded once the feed's
        position is fixed (so a reload done then misses nothing); a later ``Rescan`` means
        changes may have been missed. Store outages are retried inside (never raised).
        ``mode``: ``auto`` (a change stream where the store offers one, else polling),
        ``stream`` or ``poll``; ``poll_interval`` is in seconds."""

    async def record_change(self, change: Change) -> None:
        """Report a change the store does not see by itself (a record kind added later, such
        as toolsets, written through a port of its own). Raises StoreUnavailable."""


class LeaseStore(Protocol):
    """Cluster-wide locks with fencing tokens (the OAuth refresh lease predates them and lives
    in :class:`OAuthTokenStore`)."""

    async def acquire_fenced_lease(self, key: str, holder: str, ttl: float) -> int | None:
        """Take ``key`` for ``ttl`` seconds if it is free or expired: its fencing token, which
        grows with every new holder of ``key``; None while another holder has it."""

    async def renew_fenced_lease(self, key: str, holder: str, token: int, ttl: float) -> bool:
        """Extend a held lease to ``ttl`` seconds from now. False if it was lost (expired and
        taken by another holder, whose token is higher): the old holder must stop writing."""

    async def release_fenced_lease(self, key: str, holder: str, token: int) -> None:
        """Give the lease up (no-op if it is no longer ours); its token stays, so the next
        holder's is higher."""


class Store(
    ServerStore,
    SecretStore,
    OAuthTokenStore,
    SessionStore,
    McpSessionStore,
    UserInstallStore,
    PackageStore,
    PackageStateStore,
    ApiKeyStore,
    AuditStore,
    RunStore,
    ToolsetStore,
    ChangeStore,
    LeaseStore,
    Protocol,
):
    """One backend implementing every port. Opened and closed by the runtime's lifespan."""

    backend: str  # "sqlite" | "mongodb"

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers now."""

    async def aclose(self) -> None: ...
