"""The sessions of the upstream pool: one :class:`Supervisor` (owner task) per live session.

One per shared server, or one per (server, username) when ``session_scope`` says so
(``isolation: per_user`` or header-injected secrets; ``on_instance`` counts those). Leaving
the pool stops every session and child. Definitions change only through :meth:`apply`;
requests go through :class:`~mcp_gateway.upstream.pool.UpstreamPool`.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
import httpx2
from mcp_types import Tool

from mcp_gateway.config import UpstreamSettings
from mcp_gateway.domain.servers import SHARED_SCOPE, ServerConfig
from mcp_gateway.errors import (
    GatewayError,
    ServerDisabled,
    ServerNotFound,
    UpstreamBusy,
    UpstreamUnavailable,
)
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.storage.ports import SessionStore
from mcp_gateway.upstream.entry import ServerEntry
from mcp_gateway.upstream.notices import Notices
from mcp_gateway.upstream.observe import InstanceObserver, run_observed
from mcp_gateway.upstream.state import ServerState
from mcp_gateway.upstream.supervisor import Supervisor
from mcp_gateway.upstream.translate import auth_failure

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0  # seconds for every session to stop before the task group is cancelled
_RETIRE_POLL = 0.02  # seconds between two looks at a replaced session's calls in flight


#: (server, username) -> a user's own HTTP session's request authentication (or None).
HttpAuthFactory = Callable[[ServerConfig, str], httpx2.Auth | None]


class SessionPool:
    """Long-lived MCP client sessions by server and user scope. Use as ``async with``."""

    def __init__(
        self,
        *,
        sessions: SessionStore,
        settings: UpstreamSettings,
        http_auth: HttpAuthFactory | None = None,
        sandbox: Sandbox | None = None,
        on_instance: InstanceObserver | None = None,
    ) -> None:
        """``http_auth(server, username)`` may return an ``httpx2.Auth`` for a user's own HTTP
        session (OAuth: a fresh token on every request, one refresh on a 401). ``sandbox``
        (when enabled) runs every stdio child under its own uid in namespaces."""
        self._sandbox = sandbox
        self._sessions = sessions
        self._settings = settings
        self._http_auth = http_auth
        self._on_instance = on_instance
        self._entries: dict[str, ServerEntry] = {}
        self._removed: set[str] = set()  # names removed and not applied since
        self._retiring: list[ServerEntry] = []  # replaced, finishing their calls (hand_over)
        self._tg: anyio.abc.TaskGroup | None = None
        self.notices = Notices()  # what sessions announce on their own (upstream/notices.py)

    async def __aenter__(self) -> Self:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._reap_idle)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        entries = [*self._entries.values(), *self._retiring]
        supervisors = [s for e in entries for s in e.supervisors()]
        self._entries.clear()
        with anyio.move_on_after(SHUTDOWN_GRACE, shield=True):
            for sup in supervisors:
                sup.stop()  # keep HTTP sessions alive upstream: the next start resumes them
            for sup in supervisors:
                await sup.done.wait()
        self._tg.cancel_scope.cancel()
        try:
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            self._tg = None

    # -- definitions -----------------------------------------------------------------------

    async def apply(
        self, server: ServerConfig, *, hand_over: bool = False, restart: bool = False
    ) -> None:
        """Add or update a definition. Restarts sessions only if ``connection_key()`` changed
        (or the server was enabled/disabled), or with ``restart`` (ending their HTTP
        sessions); starts an enabled shared server in the background and returns without
        waiting for it.

        ``hand_over``: the old sessions are not stopped first but retired in the background
        once their calls in flight are done (within the server's call timeout), while new
        calls already go to (and wait for) the new ones: no call fails because of the
        switch (another replica's upgrade, docs/scaling.md)."""
        key = server.connection_key()
        self._removed.discard(server.name)
        entry = self._entries.get(server.name)
        kept = entry is not None and entry.key == key and entry.config.enabled == server.enabled
        if entry is not None and kept and not restart:
            entry.redefine(server)
            self._revive(entry)
            return
        fresh = ServerEntry.of(server)
        if entry is not None:
            fresh.remembered = entry.remembering()
            entry.closed = True
            # The replaced entry may itself still wait for its predecessor's sessions to stop.
            before = entry.starting
            handing = hand_over and self._tg is not None
            if handing:
                self._retiring.append(entry)
            # Registered before any await: calls from now on wait for this one (never take
            # the closed entry), and a later apply or remove meanwhile decides.
            fresh.starting = starting = anyio.Event()
            self._entries[server.name] = fresh
            try:
                if before is not None:
                    await before.wait()
                if not handing:
                    await self._stop_entry(entry, forget_sessions=restart or entry.key != key)
                elif entry.key != key:  # before the new sessions store theirs
                    await self._forget_stored(entry.config.name)
            finally:
                if handing and self._tg is not None:
                    self._tg.start_soon(self._retire, entry, entry.key != key)
                fresh.starting = None
                starting.set()
            if self._entries.get(server.name) is not fresh:
                return  # replaced or removed meanwhile: that decides
        self._entries[server.name] = fresh
        if server.enabled and fresh.shared_scope:
            fresh.shared = self._start_shared(fresh)

    def _revive(self, entry: ServerEntry) -> None:
        """Start again the sessions whose restart policy gave up (an operator re-applied the
        definition: enable or update). Calls alone never restart them."""
        if entry.shared is not None and entry.shared.gave_up and entry.config.enabled:
            entry.shared = self._start_shared(entry)
        for sessions in (entry.users, entry.modern):
            for scope, sup in list(sessions.items()):
                if sup.gave_up:
                    del sessions[scope]  # the next call starts a fresh one

    async def remove(self, name: str) -> None:
        """Stop every session of ``name`` (ending HTTP sessions) and forget it."""
        self._removed.add(name)
        entry = self._entries.pop(name, None)
        if entry is not None:
            entry.closed = True
            before = entry.starting  # an apply still stopping the sessions it replaced
            await self._stop_entry(entry, forget_sessions=True)
            if before is not None:
                await before.wait()

    async def invalidate_user(
        self, server_name: str, username: str, *, before: float | None = None
    ) -> None:
        """The user's secrets changed: close that user's sessions, of both eras (the next call
        reopens them); with ``before`` (wall clock: another replica's change) only those
        created before it."""
        entry = self._entries.get(server_name)
        for sessions in (entry.users, entry.modern) if entry is not None else ():
            sup = sessions.get(username)
            if sup is not None and (before is None or sup.created_at < before):
                del sessions[username]
                await sup.aclose(terminate=True)

    async def _stop_entry(self, entry: ServerEntry, *, forget_sessions: bool) -> None:
        await entry.stop(terminate=forget_sessions)
        if forget_sessions:
            await self._forget_stored(entry.config.name)

    async def _forget_stored(self, name: str) -> None:
        try:
            await self._sessions.delete_server_sessions(name)
        except GatewayError:
            logger.warning("could not delete stored sessions of %r", name)

    async def _retire(self, entry: ServerEntry, terminate: bool) -> None:
        """Stop a replaced entry's sessions once no call is in flight on them (or after the
        server's call timeout)."""
        with anyio.move_on_after(entry.config.call_timeout):
            # Polled: the call path keeps a plain counter (no event per call on the hot path).
            while any(sup.in_flight for sup in entry.supervisors()):  # noqa: ASYNC110
                await anyio.sleep(_RETIRE_POLL)
        await entry.stop(terminate=terminate)
        if entry in self._retiring:
            self._retiring.remove(entry)

    def _start_shared(self, entry: ServerEntry) -> Supervisor:
        """A new shared session of ``entry`` that also masks every value the shared sessions
        before it were given: the upstream (an HTTP server, files a stdio server wrote) may
        still hold and print them, so a restart never forgets a live value."""
        remembered = entry.remembering()
        sup = self._start(entry.config, SHARED_SCOPE, None, None)
        sup.remember(remembered.values)
        entry.remembered = remembered
        return sup

    def _start(
        self,
        server: ServerConfig,
        scope: str,
        env: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        modern: bool = False,
    ) -> Supervisor:
        if self._tg is None:
            raise RuntimeError("UpstreamPool used outside 'async with'")
        auth = None
        if self._http_auth is not None and scope != SHARED_SCOPE and server.is_http:
            auth = self._http_auth(server, scope)
        sup = Supervisor(
            server,
            scope=scope,
            sessions=self._sessions,
            user_env=env,
            user_headers=headers,
            http_auth=auth,
            max_message_bytes=self._settings.max_message_bytes,
            sandbox=self._sandbox,
            notices=self.notices,
            modern=modern,
        )
        # In a fresh context: the supervisor outlives the request that may have started it, so
        # it must not carry that request's log context (request id, tool) or current span.
        contextvars.Context().run(self._tg.start_soon, run_observed, sup, self._on_instance)
        return sup

    async def _entry(self, server: ServerConfig) -> ServerEntry:
        """The entry of ``server``'s name. Definitions change only through :meth:`apply`
        (ServerService applies every write): a call holding an older object of that name runs
        the current definition, one holding a removed server's gets ServerNotFound, and a name
        never seen is applied on first use."""
        entry = self._entries.get(server.name)
        while entry is not None and entry.starting is not None:  # its predecessor stopping
            await entry.starting.wait()
            entry = self._entries.get(server.name)
        if entry is None and server.name not in self._removed:
            await self.apply(server)
        self._refuse(server.name)
        return self._entries[server.name]

    def _refuse(self, name: str) -> None:
        """Raise what a call of ``name`` gets from what the pool holds now: ServerNotFound
        (removed), ServerDisabled."""
        entry = self._entries.get(name)
        if entry is None and name in self._removed:
            raise ServerNotFound(name)
        if entry is not None and not entry.config.enabled:
            raise ServerDisabled(name)

    def _supervisor(
        self,
        entry: ServerEntry,
        username: str,
        env: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        own: bool = False,
    ) -> Supervisor:
        scope = entry.scope_of(username, own)
        if scope == SHARED_SCOPE:
            if entry.shared is None:
                entry.check_open()
                entry.shared = self._start_shared(entry)
            return entry.shared
        sup = entry.users.get(scope)
        if sup is not None:
            return sup
        entry.check_open()
        if len(entry.users) >= entry.config.max_instances:
            idle = [s for s in entry.users.values() if s.stoppable]
            if not idle:
                raise UpstreamBusy(
                    f"server {entry.config.name!r} has no free per-user session slot"
                )
            victim = min(idle, key=lambda s: s.last_used)
            del entry.users[victim.scope]
            victim.stop(terminate=True)
            entry.drop_modern(victim.scope)
        sup = self._start(entry.config, scope, env, headers)
        entry.users[scope] = sup
        return sup

    async def _modern(
        self,
        entry: ServerEntry,
        username: str,
        env: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        own: bool,
        retrying: bool,
    ) -> Supervisor | None:
        """The 2026-07-28 session a 2026-07-28 caller's request takes (upstream/eras.py): of
        the scope :meth:`_supervisor` would pick, started with the same secrets on first use
        and masking what that one was given. None: serve it on the primary session (the
        upstream does not speak 2026-07-28, or its companion is down for a first request).
        ``retrying`` (an answer to the upstream's own input-required result) has no such
        fallback: UpstreamUnavailable."""
        if entry.legacy_only:
            if retrying:
                raise UpstreamUnavailable(f"server {entry.config.name!r} left the 2026-07-28 era")
            return None
        scope = entry.scope_of(username, own)
        shared = scope == SHARED_SCOPE
        primary = entry.running(scope)
        if primary is not None and primary.live is not None and primary.live.modern:
            return primary  # a 2026-07-28-only upstream: its primary session is one
        sup = entry.modern.get(scope)
        if sup is None:
            entry.check_open()
            if not shared and len(entry.modern) >= entry.config.max_instances:
                idle = [s for s in entry.modern.values() if s.stoppable]
                if not idle:  # as many per-user companions as user sessions, at most
                    if retrying:
                        raise UpstreamBusy(f"server {entry.config.name!r} has no free slot")
                    return None
                entry.drop_modern(min(idle, key=lambda s: s.last_used).scope)
            sup = self._start(entry.config, scope, env, headers, modern=True)
            if primary is not None:
                sup.inherit(primary)
            entry.modern[scope] = sup
        sup.in_flight += 1  # busy while it starts: never reaped for idleness meanwhile
        try:
            await sup.wait_ready(entry.config.startup_timeout)
        except UpstreamUnavailable:
            if sup.unsupported:
                believed = entry.refused_modern()
                logger.info(
                    "upstream %r does not speak 2026-07-28: its session serves those callers "
                    "(asked again in %gs)",
                    entry.config.name,
                    believed,
                )
                if entry.modern.get(scope) is sup:
                    del entry.modern[scope]
            elif auth_failure(sup.http_auth) is not None:
                entry.drop_modern(scope)  # only a new login helps (the primary says so)
            if retrying:
                raise
            return None
        finally:
            sup.in_flight -= 1
            sup.last_used = time.monotonic()
        entry.era.spoke()
        return sup

    async def _reap_idle(self) -> None:
        idle = self._settings.user_session_idle
        interval = min(max(idle / 4, 0.05), 30.0)
        while True:
            await anyio.sleep(interval)
            now = time.monotonic()
            for entry in list(self._entries.values()):
                entry.stop_idle_users(now, idle)

    def status(self, name: str) -> ServerState:
        """A snapshot of ``name``'s state. Raises ServerNotFound if the pool does not know it."""
        entry = self._entries.get(name)
        if entry is None:
            raise ServerNotFound(name)
        return entry.state()

    def statuses(self) -> dict[str, ServerState]:
        return {name: self.status(name) for name in sorted(self._entries)}

    def definitions(self) -> list[ServerConfig]:
        """The definition of every server the pool holds (each applied through ServerService,
        so the current one), in name order: cheap, no state snapshot."""
        return [self._entries[name].config for name in sorted(self._entries)]

    def session_tools(self, name: str, scope: str) -> tuple[Tool, ...] | None:
        """The tool list ``scope``'s live session of ``name`` last listed (``SHARED_SCOPE``:
        the shared session's), the very tuple the session keeps (a new one whenever it lists
        again), or None when that session is not live or has not listed."""
        entry = self._entries.get(name)
        return entry.tools_of(scope) if entry is not None else None
