"""What the pool holds for one server: its definition, admission, and live sessions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from time import monotonic  # module-level: tests move this clock
from typing import Any

import anyio
from mcp_types import Tool

from mcp_gateway.domain.redaction import NO_SECRETS, Masker
from mcp_gateway.domain.servers import SHARED_SCOPE, ServerConfig, ServerStatus, session_scope
from mcp_gateway.errors import Restarting
from mcp_gateway.upstream.admission import Admission
from mcp_gateway.upstream.era_memory import EraMemory
from mcp_gateway.upstream.state import ServerState, per_user_state, shared_state
from mcp_gateway.upstream.supervisor import Supervisor


@dataclass(eq=False, slots=True)
class ServerEntry:
    """One server in the pool: one shared session, or one per user scope (``users``)."""

    config: ServerConfig
    key: tuple[Any, ...] = field(repr=False)  # holds env and header values
    shared_scope: bool
    admission: Admission
    shared: Supervisor | None = None
    users: dict[str, Supervisor] = field(default_factory=dict)
    # 2026-07-28 companion sessions by scope (SHARED_SCOPE for the shared one), started for
    # 2026-07-28 callers (upstream/eras.py); ``legacy_only`` for a while once the upstream
    # said it does not speak that era (upstream/era_memory.py).
    modern: dict[str, Supervisor] = field(default_factory=dict)
    era: EraMemory = field(default_factory=EraMemory)
    # What this server's stopped shared sessions were given (see UpstreamPool._start_shared).
    remembered: Masker = NO_SECRETS
    # No longer the pool's (replaced or removed): it starts no session, so none outlives it.
    closed: bool = False
    # Set once the sessions of the entry this one replaces have stopped (apply without
    # hand-over): calls wait for it, then run on this one.
    starting: anyio.Event | None = None

    @classmethod
    def of(cls, server: ServerConfig) -> ServerEntry:
        shared = session_scope(server, "\x00probe") == SHARED_SCOPE
        return cls(server, server.connection_key(), shared, Admission(server.max_concurrency))

    @property
    def legacy_only(self) -> bool:
        """Whether 2026-07-28 callers are served on the primary session without a probe."""
        return self.era.legacy_only(monotonic())

    def refused_modern(self) -> float:
        """The upstream refused 2026-07-28 again; for how many seconds that is believed."""
        return self.era.refused(monotonic())

    def check_open(self) -> None:
        """Refuse to start a session on an entry the pool no longer holds: nothing would stop
        it (a call that took the entry before it was replaced or removed: it is told to try
        again, or what the name holds now: UpstreamPool._on_entry)."""
        if self.closed:
            raise Restarting(self.config.name)

    async def stop(self, *, terminate: bool) -> None:
        """Stop every session (``terminate``: ending HTTP sessions upstream) and wait for
        them to end."""
        supervisors = self.supervisors()
        self.shared = None
        self.users.clear()
        self.modern.clear()
        for sup in supervisors:
            sup.stop(terminate=terminate)
        for sup in supervisors:
            await sup.done.wait()

    def twin(self, sup: Supervisor) -> Supervisor | None:
        """The other-era session of ``sup``'s scope, if any (both reach the same upstream)."""
        return self.modern.get(sup.scope) if not sup.modern else self.running(sup.scope)

    def tools_of(self, scope: str) -> tuple[Tool, ...] | None:
        """What ``scope``'s live session last listed (SHARED_SCOPE: the shared one's)."""
        sup = self.running(scope)
        live = sup.live if sup is not None else None
        return live.tools if live is not None else None

    def scope_of(self, username: str, own: bool) -> str:
        """The scope of the session a request of ``username`` takes (``own``: never the shared
        one): SHARED_SCOPE, or that user's."""
        if self.shared_scope and not own:
            return SHARED_SCOPE
        return session_scope(self.config, username) or username

    def running(self, scope: str) -> Supervisor | None:
        """``scope``'s primary session, if one runs (None rather than starting it)."""
        return self.shared if scope == SHARED_SCOPE else self.users.get(scope)

    def supervisors(self) -> list[Supervisor]:
        shared = [self.shared] if self.shared else []
        return shared + list(self.users.values()) + list(self.modern.values())

    def redefine(self, server: ServerConfig) -> None:
        """Take a definition whose connection is unchanged: live sessions keep running."""
        if self.config.max_concurrency != server.max_concurrency:
            self.admission.slots = anyio.Semaphore(server.max_concurrency)
        self.config = server
        for sup in self.supervisors():
            sup.server = server

    def remembering(self) -> Masker:
        """The masker of the shared session, or what the last one was given."""
        return self.shared.masker if self.shared is not None else self.remembered

    def stop_idle_users(self, now: float, idle: float) -> None:
        """Stop the sessions with no call in flight, unused for ``idle`` seconds: the user
        sessions and every 2026-07-28 companion, the shared one too (the next 2026-07-28
        request starts it again). A session holding resource subscriptions is kept: its
        subscribers would hear nothing."""
        for sessions in (self.users, self.modern):
            for scope, sup in list(sessions.items()):
                if sup.stoppable and now - sup.last_used >= idle:
                    del sessions[scope]
                    sup.stop(terminate=True)

    def drop_modern(self, scope: str) -> None:
        """Stop the 2026-07-28 companion of ``scope`` (its user session went)."""
        if (sup := self.modern.pop(scope, None)) is not None:
            sup.stop(terminate=True)

    def state(self) -> ServerState:
        """A snapshot of this server's state (disabled, its shared session's, or its users');
        ``in_flight`` counts the calls on its 2026-07-28 sessions too."""
        if not self.config.enabled:
            return ServerState(ServerStatus.DISABLED)
        if self.shared_scope:
            state = (
                shared_state(self.shared)
                if self.shared is not None
                else ServerState(ServerStatus.DISCONNECTED)
            )
        else:
            state = per_user_state(list(self.users.values()))
        if not self.modern:
            return state
        modern = sum(s.in_flight for s in self.modern.values())
        return replace(state, in_flight=state.in_flight + modern)
