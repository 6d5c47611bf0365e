"""Upstream server definitions (mcp-api field names on the wire, snake_case here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TransportType(StrEnum):
    STDIO = "stdio"
    STREAMABLE_HTTP = "streamable_http"
    SSE = "sse"


class Isolation(StrEnum):
    SHARED = "shared"
    PER_USER = "per_user"


class InjectAs(StrEnum):
    ARG = "arg"
    ENV = "env"
    HEADER = "header"


class ServerStatus(StrEnum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"
    ERROR = "error"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """How one secret reaches the upstream.

    ``target`` is the argument, env var or header name (defaults to ``name``); ``template`` is
    a format with ``{value}`` (e.g. ``"Bearer {value}"``); ``required`` makes a missing secret
    a 400 ``missing_secret`` instead of silently omitting it.
    """

    name: str
    inject_as: InjectAs = InjectAs.ARG
    target: str | None = None
    template: str | None = None
    required: bool = True

    @property
    def destination(self) -> str:
        return self.target or self.name

    def render(self, value: str) -> str:
        return self.template.replace("{value}", value) if self.template else value


DEFAULT_MAX_RETRIES = 5


@dataclass(frozen=True, slots=True)
class ReconnectionOptions:
    """mcp-api's reconnection options; we use them as the restart backoff bounds
    (:mod:`mcp_gateway.domain.restart` is the policy)."""

    enabled: bool = True
    # Restarts after consecutive failures before giving up (status ``error``); None: forever.
    max_retries: int | None = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 30.0
    healthy_reset: float = 60.0


@dataclass(frozen=True, slots=True)
class ServerConfig:
    name: str
    transport_type: TransportType = TransportType.STDIO
    command: str | None = None
    args: tuple[str, ...] = ()
    # Values may be credentials (API keys, Authorization headers): kept out of reprs.
    env: dict[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    reconnection: ReconnectionOptions = field(default_factory=ReconnectionOptions)
    enabled: bool = True
    startup_timeout: float = 30.0
    call_timeout: float = 60.0
    max_concurrency: int = 32
    # Calls one user may have in flight on this server (also the limit of each per-user
    # instance); None: the gateway's MCPGW_MAX_CONCURRENCY_PER_USER.
    max_concurrency_per_user: int | None = None
    isolation: Isolation = Isolation.SHARED
    max_instances: int = 50
    secrets: tuple[SecretSpec, ...] = ()
    # Free-form extras kept for mcp-api compatibility (e.g. its "mcpAuthType"); never secret.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_http(self) -> bool:
        return self.transport_type in (TransportType.STREAMABLE_HTTP, TransportType.SSE)

    def connection_key(self) -> tuple[Any, ...]:
        """What, when changed, requires restarting the upstream session."""
        return (
            self.transport_type,
            self.command,
            self.args,
            tuple(sorted(self.env.items())),
            self.cwd,
            self.url,
            tuple(sorted(self.headers.items())),
            self.isolation,
            self.secrets,
        )


SHARED_SCOPE = ""


def oauth_enabled(server: ServerConfig) -> bool:
    """True for an HTTP server whose users sign in to the upstream with OAuth: its definition
    has ``extra["oauth"]`` (not ``enabled: false``) or mcp-api's ``mcpAuthType: oauth``."""
    if not server.is_http:
        return False
    raw = server.extra.get("oauth")
    if isinstance(raw, dict):
        return raw.get("enabled", True) is not False
    auth_type = str(server.extra.get("mcpAuthType") or server.extra.get("authType") or "")
    return auth_type.lower() in ("oauth", "oauth2")


def session_scope(server: ServerConfig, username: str) -> str:
    """The pool key under ``server`` for a call by ``username``.

    Shared servers have one session (scope ``""``). A per-user server, one that injects a
    secret as an HTTP header, or an OAuth server (a header, and so a credential, is fixed for a
    session's lifetime) gets one session per username, so one user's credentials never ride on
    another user's session.
    """
    if (
        server.isolation is Isolation.PER_USER
        or oauth_enabled(server)
        or any(spec.inject_as is InjectAs.HEADER for spec in server.secrets)
    ):
        return username
    return SHARED_SCOPE
