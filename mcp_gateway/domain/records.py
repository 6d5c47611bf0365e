"""Stored records other than server definitions. Ciphertexts are opaque ``bytes`` here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """One encrypted secret; ``ciphertext`` is bound (AAD) to (username, server, name)."""

    username: str
    server: str
    name: str
    ciphertext: bytes
    updated_at: float = 0.0

    def __repr__(self) -> str:  # never print ciphertext bytes into logs or tracebacks
        return f"StoredSecret({self.username!r}, {self.server!r}, {self.name!r})"


@dataclass(frozen=True, slots=True)
class StoredOAuthTokens:
    """A user's OAuth tokens for one server.

    ``fields`` maps a field name (access_token, refresh_token, client_secret, code_verifier...)
    to its ciphertext, each bound (AAD) to (username, server, field). ``meta`` is non-secret:
    token type, scopes, client id, token endpoint, auth method, resource.
    """

    server: str
    username: str
    fields: dict[str, bytes]
    expires_at: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    state: str = "valid"  # valid | reauth_required
    updated_at: float = 0.0

    def __repr__(self) -> str:
        return f"StoredOAuthTokens({self.server!r}, {self.username!r}, state={self.state!r})"


@dataclass(frozen=True, slots=True)
class UpstreamSession:
    """A persisted Streamable HTTP ``Mcp-Session-Id``; ``scope`` is a username or ``""``."""

    server: str
    scope: str
    session_id: str = field(repr=False)  # whoever holds it can act in the upstream session
    protocol_version: str | None = None
    updated_at: float = 0.0


class PackageRuntime(StrEnum):
    """The ecosystem a package comes from (the wire field ``runtime``: ``node`` | ``python``).
    Not to be confused with :class:`mcp_gateway.runtime.Runtime`, the composition root."""

    NODE = "node"
    PYTHON = "python"


@dataclass(frozen=True, slots=True)
class PackageRecord:
    """An installed MCP server package: the desired state the gateway converges to."""

    server_name: str
    name: str
    runtime: PackageRuntime
    version: str  # exact installed version, read back from metadata
    requested_version: str | None = None
    install_dir: str = ""
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict, repr=False)  # values may be credentials
    custom_command: bool = False  # command/args given by the user survive upgrades
    python_module: str | None = None
    # Index URLs may embed credentials (https://user:token@host/simple).
    pip_index_url: str | None = field(default=None, repr=False)
    pip_extra_index_url: str | None = field(default=None, repr=False)
    allow_scripts: bool = False
    status: str = "installed"
    installed_at: float = 0.0
    updated_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Role(StrEnum):
    ADMIN = "admin"
    SERVICE = "service"
    USER = "user"


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored API key: only its hash, never the key."""

    id: str
    name: str
    role: Role
    key_hash: str
    prefix: str  # first characters, to let operators recognise a key
    username: str | None = None  # bound username for the user role
    created_at: float = 0.0
    last_used_at: float | None = None

    def __repr__(self) -> str:
        return f"ApiKeyRecord({self.id!r}, {self.name!r}, {self.role.value!r})"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One tool call (or admin action). Never holds argument values or secrets."""

    ts: float
    request_id: str
    actor: str  # API key id, or "anonymous" in auth mode none
    role: str
    action: str  # "tool_call", "server_create", ...
    username: str | None = None
    server: str | None = None
    tool: str | None = None
    duration_ms: float | None = None
    outcome: str = "ok"  # ok | tool_error | <error code>
    detail: str | None = None
    replica: str | None = None  # the gateway process that handled it (stamped by AuditLog)
