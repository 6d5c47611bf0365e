"""Composition root: builds every adapter and service inside one lifespan.

``Runtime(settings)`` holds nothing open until it is entered; ``async with runtime:`` opens the
keyring, the store, the upstream pool and the services, and closing it releases all of them in
reverse order (every child process stops, every connection closes). ``create_app(runtime)``
enters it from the ASGI lifespan, so the process owns exactly one of each resource.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

import anyio

from mcp_gateway import __version__
from mcp_gateway.config import Settings
from mcp_gateway.crypto.keyfile import load_keyring
from mcp_gateway.errors import ConfigError, GatewayError, ServerNotFound
from mcp_gateway.installer import build_installers
from mcp_gateway.observability import otel
from mcp_gateway.observability.metrics import GatewayMetrics
from mcp_gateway.observability.store_timing import TimedStore
from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.services.apikeys import ApiKeyService
from mcp_gateway.services.audit import AuditLog
from mcp_gateway.services.catalogue import CatalogueService
from mcp_gateway.services.catalogue_versions import CatalogueVersions, follow_catalogue
from mcp_gateway.services.drain import Drain
from mcp_gateway.services.follow import ChangeFollower, follow_services
from mcp_gateway.services.install_lock import InstallLocks
from mcp_gateway.services.oauth import GoogleLogin, OAuthService
from mcp_gateway.services.oauth.credentials import UpstreamCredentials
from mcp_gateway.services.oauth.registration import ResolvedClient
from mcp_gateway.services.oauth.ssrf import SsrfGuard
from mcp_gateway.services.packages import PackageService
from mcp_gateway.services.ratelimit import RateLimiter
from mcp_gateway.services.runs import RunService
from mcp_gateway.services.secrets import SecretService
from mcp_gateway.services.server_content import ServerContentService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.services.tool_calls import ToolCallService
from mcp_gateway.services.toolsets import ToolsetService
from mcp_gateway.services.user_servers import UserServerService
from mcp_gateway.storage.factory import open_store
from mcp_gateway.storage.write_signals import WriteSignals
from mcp_gateway.upstream.pool import UpstreamPool

if TYPE_CHECKING:
    from mcp_gateway.crypto.keyring import Keyring
    from mcp_gateway.domain.servers import ServerConfig
    from mcp_gateway.storage.ports import Store

log = logging.getLogger("mcp_gateway")


def _announce_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def detect_sandbox(settings: Settings) -> Sandbox:
    """The child-process sandbox for these settings (blocking: runs one trial sandbox).

    Hidden from children: the data directory and the ``.env`` the gateway may read its keys
    from. Exposed even below a private parent such as ``/root``: the package directories and
    this interpreter (package venvs are built on it)."""
    cfg = settings.sandbox
    return Sandbox.detect(
        cfg.mode,
        bwrap=cfg.bwrap,
        setpriv=cfg.setpriv,
        uid_base=cfg.uid_base,
        uid_count=cfg.uid_count,
        hidden=(settings.store.data_dir, Path.cwd() / ".env"),
        homes=settings.store.data_dir / "sandbox-homes",
        exposed=(
            settings.installer.packages_dir,
            settings.venv_root,
            Path(sys.base_prefix),
            Path(sys.prefix),
        ),
    )


def _check_sandbox(sandbox: Sandbox) -> None:
    """Refuse to start (``required``) or warn loudly when children cannot be sandboxed."""
    status = sandbox.status
    if status.enabled or status.mode == "off":
        if status.mode == "off":
            log.warning(
                "MCPGW_SANDBOX=off: upstream servers run as the gateway's own user and can "
                "read its data directory and other users' secrets (docs/security.md)"
            )
        return
    if status.mode == "required":
        raise ConfigError(
            f"MCPGW_SANDBOX=required but children cannot be sandboxed: {status.reason}"
        )
    log.warning(
        "UPSTREAM SERVERS ARE NOT SANDBOXED (%s): any server can read the gateway's data "
        "directory, its environment and other users' secrets; see docs/security.md",
        status.reason,
    )


class Runtime:
    """Every long-lived resource of one gateway process.

    Attributes are available only while the runtime is entered. ``announce`` receives
    operator-facing one-off messages (the bootstrap admin key) and defaults to stderr.
    """

    store: Store
    keyring: Keyring
    pool: UpstreamPool
    servers: ServerService
    secrets: SecretService
    tools: ToolCallService
    toolsets: ToolsetService
    content: ServerContentService
    runs: RunService
    apikeys: ApiKeyService
    packages: PackageService
    audit: AuditLog
    oauth: OAuthService
    google: GoogleLogin
    credentials: UpstreamCredentials
    user_servers: UserServerService
    sandbox: Sandbox
    follower: ChangeFollower
    catalogue: CatalogueService

    def __init__(
        self,
        settings: Settings,
        *,
        announce: Callable[[str], None] = _announce_to_stderr,
        reconcile_packages: bool = True,
    ) -> None:
        self.settings = settings
        self.version = __version__
        self.replica_id = settings.replica_id  # /healthz, logs, audit records, metrics
        self.started_at = time.monotonic()
        self._announce = announce
        self._reconcile_packages = reconcile_packages
        self._stack: AsyncExitStack | None = None
        self.metrics = GatewayMetrics(max_tools=settings.telemetry.metrics_max_tools)
        self.drain = Drain()  # SIGTERM (cli serve): /readyz 503 while in-flight calls finish

    @property
    def is_open(self) -> bool:
        return self._stack is not None

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    async def __aenter__(self) -> Self:
        """Open everything. Raises ConfigError / StoreUnavailable with a clear message."""
        try:
            return await self._open()
        except BaseExceptionGroup as group:
            # A start-up error raised while task groups were open arrives wrapped: unwrap the
            # one GatewayError so ``serve`` can print it as one line.
            errors = group.exceptions
            if len(errors) == 1 and isinstance(errors[0], GatewayError):
                raise errors[0] from None
            raise

    async def _open(self) -> Self:
        settings = self.settings
        self.sandbox = await anyio.to_thread.run_sync(detect_sandbox, settings)
        _check_sandbox(self.sandbox)
        async with AsyncExitStack() as stack:
            traces = otel.start(settings.telemetry.otel)
            if traces is not None:
                stack.callback(otel.stop, traces)  # closed last: flushes every other span
            self.keyring = load_keyring(settings, mongodb=settings.uses_mongodb)
            store = await stack.enter_async_context(open_store(settings))
            self.store = cast("Store", TimedStore(store, self.metrics.observe_store))
            # This process's writes, noted as made: cached catalogues never outlive them.
            versions = CatalogueVersions()
            self.store = cast("Store", WriteSignals(self.store, versions.note))
            self.audit = await stack.enter_async_context(
                AuditLog(
                    self.store,
                    retention_days=settings.audit.retention / 86400,
                    max_events=settings.audit.max_events,
                    replica=self.replica_id,
                )
            )
            self.pool = await stack.enter_async_context(
                UpstreamPool(
                    sessions=self.store,
                    settings=settings.upstream,
                    # Late-bound: credentials need the pool (to drop sessions) and vice versa.
                    http_auth=lambda server, user: self.user_servers.http_auth(
                        server, user, self.credentials.http_auth(server, user)
                    ),
                    sandbox=self.sandbox,
                    on_instance=self.metrics.instance_changed,
                )
            )
            self.apikeys = await stack.enter_async_context(ApiKeyService(self.store))
            self.secrets = SecretService(
                self.store,
                self.keyring,
                self.pool,
                max_per_user=settings.secrets.max_per_user,
                max_bytes=settings.secrets.max_bytes,
            )
            self.servers = ServerService(self.store, self.pool)
            self.toolsets = ToolsetService(self.store)  # the one writer of toolsets
            self.oauth = OAuthService(self.store, self.keyring, settings.oauth, sessions=self.pool)
            self.google = GoogleLogin(
                self.store, self.keyring, settings.oauth, self.secrets, tools=self.pool
            )
            self.credentials = UpstreamCredentials(
                self.oauth, settings.oauth.google_credentials, self.google
            )
            self.tools = ToolCallService(
                self.store,
                self.secrets,
                self.pool,
                self.audit,
                servers=self.servers,
                credentials=self.credentials,
                limiter=RateLimiter(
                    settings.rate_limit.defaults(),
                    replicas=settings.rate_limit.replicas,
                    max_buckets=settings.rate_limit.max_buckets,
                ),
            )
            self.content = ServerContentService(
                self.store,
                self.servers,
                self.secrets,
                self.pool,
                self.audit,
                credentials=self.credentials,
                limiter=self.tools.limiter,
            )
            self.user_servers = UserServerService(
                self.store,
                self.keyring,
                self.servers,
                self.secrets,
                self.pool,
                self.oauth,
                SsrfGuard(
                    settings.oauth.external_allowed_hosts,
                    what="external server",
                    setting="MCPGW_EXTERNAL_ALLOWED_HOSTS",
                ),
            )
            self.tools.installs = self.user_servers  # external servers need the user's install
            self.catalogue = CatalogueService(
                self.store,
                self.pool,
                self.servers,
                self.secrets,
                self.toolsets,
                versions,
                credentials=self.credentials,
            )
            self.catalogue.installs = self.user_servers
            self.content.installs = self.user_servers  # resources and prompts too
            # External servers' OAuth client: the install's own (manual) or the shared DCR/CIMD one
            self.oauth.external.installs = self.user_servers.clients.login_client
            self.oauth.external.install_scopes = self.user_servers.clients.login_scopes
            self.user_servers.clients.registrar = self._register_external
            # Background tool calls; entered after the pool and store, so closed before them.
            self.runs = await stack.enter_async_context(
                RunService(self.store, self.tools, settings.runs, replica=self.replica_id)
            )
            self.packages = PackageService(
                self.store,
                self.servers,
                build_installers(settings, self.sandbox),
                locks=InstallLocks(self.store, self.replica_id, settings.cluster.install_lease_ttl),
                replica=self.replica_id,
            )
            # Another replica's upgrade is switched to here once installed here too.
            self.servers.hold = self.packages.replicas.must_wait
            # Other replicas' writes (services/follow.py); more services subscribe to it here.
            self.follower = ChangeFollower(
                self.store,
                mode=settings.cluster.change_feed,
                poll_interval=settings.cluster.change_poll_interval,
            )
            follow_services(
                self.follower,
                servers=self.servers,
                apikeys=self.apikeys,
                pool=self.pool,
                packages=self.packages,
            )
            follow_catalogue(self.follower, versions)
            self._observe()
            created = await self.apikeys.bootstrap(settings)
            if created is not None:
                self._announce(created)
            # Start every enabled server in the background: never blocks the listener.
            await self.servers.load_all()
            await stack.enter_async_context(self.follower)
            self.follower.start_soon(self.packages.replicas.keep_fresh, "package states")
            if self._reconcile_packages:
                tasks = await stack.enter_async_context(anyio.create_task_group())
                stack.callback(tasks.cancel_scope.cancel)  # runs first on close
                tasks.start_soon(self._reconcile)
            self.started_at = time.monotonic()
            self._stack = stack.pop_all()
        log.info("mcp-gateway %s ready (store: %s)", __version__, self.store.backend)
        return self

    def _observe(self) -> None:
        """Connect the services' observer hooks to the metrics."""
        metrics = self.metrics
        metrics.tools.listed = self._listed_tools
        self.tools.observers.append(metrics.observe_tool_call)
        self.oauth.refresher.observers.append(metrics.oauth_refresh)
        self.packages.install_observers.append(metrics.observe_install)

    async def _register_external(
        self, server: ServerConfig, username: str, mode: str, context: Mapping[str, Any]
    ) -> ResolvedClient:
        """The dcr/cimd client of an external server (``oauth-client/resolve``): the shared
        registration; mcp-api's provisioning context is not needed (the gateway knows its
        own redirect URI and metadata document)."""
        return await self.oauth.register_external(server, username, mode)

    def _listed_tools(self, server: str) -> list[str] | None:
        try:
            state = self.pool.status(server)
        except ServerNotFound:
            return None
        if state.tools is not None:
            return [tool.name for tool in state.tools]
        return list(state.tool_names) if state.tool_names is not None else None

    async def _reconcile(self) -> None:
        """Re-install packages whose directory is missing (their servers are pointed at the
        new install, and restarted, through ServerService)."""
        for name in await self.packages.reconcile():
            log.info("re-installed missing package for server %s", name)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
