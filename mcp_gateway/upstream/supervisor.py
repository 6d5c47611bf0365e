"""The owner task of one upstream session (a server, or a server for one user): connects,
watches, restarts with capped exponential backoff, and reports state.

Restart policy: :func:`mcp_gateway.domain.restart.after_failure` (pure) decides the delay
before the next attempt from the consecutive failure count and how long the last connection
stayed up. One crash of a healthy connection reads ``disconnected`` while the restart is
pending; a failed connect or a repeated crash reads ``error`` (a crash loop), with the last
error and the next restart time. Once the policy gives up (``maxRetries`` restarts, default 5)
the owner task ends with status ``error``: calls fail fast with 503 and ``error_kind`` (never
stderr) until an operator enables or updates the server (``UpstreamPool.apply`` starts it
again). A stored HTTP session the server forgot (404) reconnects at once and is not a failure.

``lastError`` names what failed: the command of a stdio server (not found, not executable,
exited with a status and its last stderr line) or the URL of an HTTP one (scheme, host and
path only: never userinfo or a query string).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

import anyio
import httpx2
from mcp.shared.exceptions import MCPError

from mcp_gateway.config import DEFAULT_MAX_MESSAGE_BYTES
from mcp_gateway.domain.exposure import definition_secrets
from mcp_gateway.domain.redaction import Masker
from mcp_gateway.domain.restart import after_failure
from mcp_gateway.domain.servers import ServerConfig, ServerStatus, TransportType
from mcp_gateway.errors import GatewayError, UpstreamUnavailable
from mcp_gateway.process.output import OutputTail
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.storage.ports import SessionStore
from mcp_gateway.upstream.eras import refuses_modern
from mcp_gateway.upstream.failures import classify, describe, exited
from mcp_gateway.upstream.listen import Listener
from mcp_gateway.upstream.live import Link, LiveSession
from mcp_gateway.upstream.notices import SESSION_STARTED, Notice, Notices
from mcp_gateway.upstream.session import connect
from mcp_gateway.upstream.translate import auth_secrets

logger = logging.getLogger(__name__)


class Supervisor:
    """Runs in the pool's task group via :meth:`run`; callers use :attr:`live` and
    :meth:`wait_ready`."""

    def __init__(
        self,
        server: ServerConfig,
        *,
        scope: str,
        sessions: SessionStore,
        user_env: Mapping[str, str] | None = None,
        user_headers: Mapping[str, str] | None = None,
        http_auth: httpx2.Auth | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        sandbox: Sandbox | None = None,
        notices: Notices | None = None,
        modern: bool = False,
    ) -> None:
        self.server = server
        self._notices = notices
        self.modern = modern  # a 2026-07-28 companion session (upstream/eras.py)
        self.unsupported = False  # modern, and the upstream said it does not speak 2026-07-28
        # A 2026-07-28 connection's subscriptions/listen stream (upstream/listen.py).
        self.listener = Listener(primary=not modern)
        # The URIs a 2025-11-25 session holds ``resources/subscribe``d upstream (the pool's
        # request path keeps it); a restarted session's are made again by their owners
        # (api/downstream/subscriptions.py renews them on its SESSION_STARTED notice).
        self.subscribed: set[str] = set()
        self._max_message_bytes = max_message_bytes
        self.sandbox = sandbox
        self.http_auth = http_auth  # this session's request authentication (OAuth), if any
        self.scope = scope
        self._sessions = sessions
        self._user_env = dict(user_env) if user_env else None
        self._user_headers = dict(user_headers) if user_headers else None
        # Every secret this session was given (its definition's env/headers/URL credentials,
        # the user's env/headers, each call's injected values): kept for the session's whole
        # life, since its process may print one at any time.
        self.masker = Masker.of(
            [
                *definition_secrets(server.env, server.headers, server.url),
                *(user_env or {}).values(),
                *(user_headers or {}).values(),
            ]
        )
        self._given_by: set[str] = set()  # usernames whose calls brought secrets
        self.ring = OutputTail()
        self._masked_lines: dict[str, str] = {}  # ring line -> masked by _masked_by
        self._masked_by = self.masker
        self.live: LiveSession | None = None
        self.status = ServerStatus.CONNECTING
        self.restarts = 0
        self.failures = 0  # consecutive, see domain.restart
        self.gave_up = False  # the restart policy stopped: only apply() starts it again
        self.last_error: str | None = None
        self.error_kind: str | None = None  # last_error without upstream text (classify)
        self.next_restart_at: float | None = None  # wall clock
        self._next_restart_mono: float | None = None
        self.in_flight = 0
        self._died_in_call = False  # the last connection died while serving a tool call
        self.last_used = time.monotonic()
        self.created_at = time.time()  # wall clock: compared with other replicas' changes
        self._stopping = False
        self._terminate = False
        self._wake = anyio.Event()
        self._changed = anyio.Event()  # set (and replaced) on every status change
        self._attempt_scope: anyio.CancelScope | None = None
        self.done = anyio.Event()

    @property
    def stopped(self) -> bool:
        """Told to stop (by the pool, or for good), or ended."""
        return self._stopping or self.done.is_set()

    @property
    def stoppable(self) -> bool:
        """Whether this session may be stopped for want of use (the idle reaper, another
        user's need for a slot): no call in flight, and no resource subscription held through
        it (its listen stream's or legacy ones: their subscribers would hear nothing)."""
        return self.in_flight == 0 and not (self.subscribed or self.listener.uris)

    # -- control ---------------------------------------------------------------------------

    def _poke(self) -> None:
        self._wake.set()

    def _set_status(self, status: ServerStatus) -> None:
        self.status = status
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    def stop(self, *, terminate: bool = False) -> None:
        """Ask the owner to close the session (``terminate``: also end the HTTP session)."""
        self._stopping = True
        self._terminate = terminate
        self._poke()
        if self._attempt_scope is not None and self.live is None:
            self._attempt_scope.cancel()  # interrupt a connect attempt or a backoff sleep

    async def aclose(self, *, terminate: bool = False) -> None:
        self.stop(terminate=terminate)
        await self.done.wait()

    def reconnect(self) -> None:
        """Drop the current connection and connect again now (e.g. the session expired)."""
        if self.live is not None:
            self.live.link.session_expired = True
        self._poke()

    # -- callers ---------------------------------------------------------------------------

    def remember(self, values: Iterable[str], username: str = "") -> None:
        """Values about to be sent to this session (a call's injected secrets, by ``username``)."""
        values = tuple(values)
        self.masker = self.masker.adding(values)
        if values:
            self._given_by.add(username)

    def inherit(self, other: Supervisor) -> None:
        """Mask everything ``other`` (the same server and scope) was given, as it does."""
        self.masker = self.masker.adding(other.masker.values)
        self._given_by |= other._given_by

    def holds_secrets_of_others(self, username: str) -> bool:
        """Whether calls by users other than ``username`` brought secrets to this session (a
        shared process may keep one and hand it to the next caller)."""
        return bool(self._given_by - {username})

    def mask(self, text: str) -> str:
        """``text`` with every secret this session was given masked (also the tokens its HTTP
        auth sent): applied to every error, result, log line it reports."""
        self.masker = self.masker.adding(auth_secrets(self.http_auth))
        return self.masker.mask(text)

    def masked_logs(self) -> tuple[str, ...]:
        """The stderr ring, masked; each line is masked once per set of secrets."""
        lines = self.ring.lines()
        self.masker = self.masker.adding(auth_secrets(self.http_auth))
        cache = self._masked_lines
        if self._masked_by is not self.masker:
            cache = self._masked_lines = {}
            self._masked_by = self.masker
        out = tuple(cache[line] if line in cache else self.masker.mask(line) for line in lines)
        self._masked_lines = dict(zip(lines, out, strict=True))
        return out

    async def wait_ready(self, within: float) -> LiveSession:
        """The live session, waiting up to ``timeout`` while one is being (re)started.

        Raises UpstreamUnavailable (503) when the server is stopped, out of retries, or will
        not be connected within ``timeout``.
        """
        timeout = within
        deadline = anyio.current_time() + timeout
        while True:
            live = self.live
            if live is not None and not live.link.dead and not live.link.session_expired:
                return live
            if self.gave_up:
                raise UpstreamUnavailable(
                    f"{self._unavailable_message()} (restarts stopped after "
                    f"{self.failures} consecutive failures; enable or update the server to retry)"
                )
            if self.stopped:
                raise UpstreamUnavailable(f"server {self.server.name!r} is not running")
            pending = self._next_restart_mono
            # Wait out a pending restart after one crash; a crash loop (error) fails fast.
            if self.status is ServerStatus.ERROR or (
                self.status is ServerStatus.DISCONNECTED
                and (pending is None or pending > time.monotonic() + timeout)
            ):
                raise UpstreamUnavailable(self._unavailable_message())
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                raise UpstreamUnavailable(
                    f"server {self.server.name!r} did not connect within {timeout:g}s"
                )
            with anyio.move_on_after(remaining):
                await self._changed.wait()

    def _unavailable_message(self) -> str:
        """For any caller: the gateway's classification (``error_kind``), never the stderr or
        upstream text of ``last_error`` (a shared server's output can carry others' data)."""
        msg = f"server {self.server.name!r} is {self.status.value}"
        return f"{msg}: {self.error_kind}" if self.error_kind else msg

    def _notice(self, method: str, uri: str | None) -> None:
        if self._notices is not None:
            self._notices.publish(Notice(self.server.name, self.scope, method, uri))

    # -- owner task ------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while not self._stopping:
                failed, uptime = await self._one_connection()
                if self._stopping:
                    break
                if failed and not await self._backoff(uptime):
                    break
        finally:
            self.live = None
            if self.status is not ServerStatus.ERROR:
                self._set_status(ServerStatus.DISCONNECTED)
            else:
                self._set_status(ServerStatus.ERROR)
            self.done.set()

    async def _one_connection(self) -> tuple[bool, float | None]:
        """Connect and serve until the connection ends. Returns (ended by failure, seconds the
        connection was up or None when connecting failed)."""
        self._set_status(ServerStatus.CONNECTING)
        self._wake = anyio.Event()
        link = Link(self._poke, notice=self._notice if self._notices is not None else None)
        connected_at: float | None = None
        with anyio.CancelScope() as scope:
            self._attempt_scope = scope
            try:
                async with connect(
                    self.server,
                    scope=self.scope,
                    link=link,
                    ring=self.ring,
                    sessions=self._sessions,
                    terminate=lambda: self._terminate,
                    user_env=self._user_env,
                    user_headers=self._user_headers,
                    http_auth=self.http_auth,
                    list_timeout=self.server.startup_timeout,
                    max_message_bytes=self._max_message_bytes,
                    sandbox=self.sandbox,
                    modern=self.modern,
                ) as live:
                    connected_at = time.monotonic()
                    self.live = live
                    self._next_restart_mono = self.next_restart_at = None
                    self._set_status(ServerStatus.CONNECTED)
                    if not self.modern:  # a companion holds no resources/subscribe
                        self._notice(SESSION_STARTED, None)  # they are made again on this one
                    async with self.listener.running(live, self.server.startup_timeout):
                        await self._serve(live)
                    self.live = None
            except Exception as exc:  # connect failed or the owner's session I/O broke
                self.live = None
                self.last_error = self.mask(
                    self._with_stderr(describe(exc, self.server, link.exit_status))
                )
                self.error_kind = classify(exc, self.server, link.exit_status)
                if self.modern and connected_at is None and refuses_modern(exc):
                    self.unsupported = self._stopping = True  # an answer, not a failure
                logger.warning("upstream %r: %s", self.server.name, self.last_error)
            finally:
                self.live = None
                self._attempt_scope = None
        self._died_in_call = link.died_in_call
        if self._stopping:
            return False, None
        if connected_at is not None and link.session_expired and not link.dead:
            return False, None  # reconnect at once, re-initializing
        if connected_at is None:
            return True, None
        if link.exit_status is not None and self.server.command:
            ended = exited(self.server.command, link.exit_status)
        else:
            ended = "upstream connection closed"
        self.last_error = self.mask(self._with_stderr(ended))
        self.error_kind = ended
        return True, time.monotonic() - connected_at

    def _with_stderr(self, description: str) -> str:
        """``description``, plus the child's last stderr line (usually the reason it failed)."""
        lines = self.ring.lines() if self.server.transport_type is TransportType.STDIO else ()
        return f"{description}: {lines[-1]}" if lines else description

    async def _serve(self, live: LiveSession) -> None:
        link = live.link
        while True:
            if self._stopping or link.dead or link.session_expired:
                if link.session_expired and not link.dead:
                    await self._forget_session()
                return
            if link.tools_dirty:
                link.tools_dirty = False
                try:
                    await live.fetch_tools(self.server.startup_timeout)
                except MCPError as exc:
                    logger.info(
                        "tools/list refresh failed on %r: %s",
                        self.server.name,
                        self.mask(exc.message),
                    )
                continue
            await self._wake.wait()
            self._wake = anyio.Event()

    async def _forget_session(self) -> None:
        try:
            await self._sessions.delete_session(self.server.name, self.scope)
        except GatewayError:
            logger.warning("could not delete the stored session of %r", self.server.name)

    async def _backoff(self, uptime: float | None) -> bool:
        """Sleep before the next attempt; False when the policy gives up (status ``error``)."""
        decision = after_failure(
            self.server.reconnection, self.failures, uptime, during_call=self._died_in_call
        )
        self.failures = decision.failures
        if decision.delay is None:
            self._next_restart_mono = self.next_restart_at = None
            self.gave_up = True
            self._set_status(ServerStatus.ERROR)
            return False
        delay = decision.delay
        self._next_restart_mono = time.monotonic() + delay
        self.next_restart_at = time.time() + delay
        self._set_status(ServerStatus.DISCONNECTED if decision.crashed_once else ServerStatus.ERROR)
        with anyio.CancelScope() as scope:
            self._attempt_scope = scope
            await anyio.sleep(delay)
        self._attempt_scope = None
        if self._stopping:
            return False
        self.restarts += 1
        return True
