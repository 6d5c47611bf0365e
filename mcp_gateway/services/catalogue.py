"""Callers' tool catalogues, cached and rebuilt per server: what ``/mcp`` lists and searches.

A caller's catalogue at an endpoint (``/mcp``, ``/mcp/{server}``, ``/mcp/toolsets/{name}``)
is made of one :class:`~mcp_gateway.services.catalogue_view.Segment` per server. What a
server's segment depends on, and how a change of it is seen on the next use, at once:

- the server's definition and the tool list of the session the user's calls go to: read from
  the pool on every use and compared by identity (the pool holds the definition ServerService
  applied and the very tuple a session keeps, a new one whenever it lists again);
- the user's secret names (which parameters are hidden), OAuth tokens (a session of their
  own), installs (who sees an external server) and the toolset: read from the store when the
  user's :class:`~mcp_gateway.services.catalogue_versions.CatalogueVersions` stamp moved (this
  process's writes move it as they are made, other processes' through the change feed); a
  user's installs of external servers are also read on every use where such servers exist
  (installs are not in the change feed).

So a warm use costs a walk over the pool's servers and dictionary look-ups; a change rebuilds
only the segments whose inputs changed (segments are shared by every caller who sees the same
tools the same way). A per-user session that is not live (closed when idle) keeps the tools it
last listed: no session is started to list it again until something else changed. Views,
segments and users' inputs are each kept in a bounded LRU.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import anyio
from mcp_types import Tool

from mcp_gateway.domain import tool_names
from mcp_gateway.domain.servers import SHARED_SCOPE, ServerConfig, session_scope
from mcp_gateway.domain.toolsets import Toolset
from mcp_gateway.domain.user_servers import is_external
from mcp_gateway.errors import GatewayError
from mcp_gateway.services.catalogue_versions import CatalogueVersions, Stamp
from mcp_gateway.services.catalogue_view import CatalogueView, Segment
from mcp_gateway.services.oauth.credentials import UpstreamCredentials
from mcp_gateway.services.secrets import SecretService
from mcp_gateway.services.servers import ServerService
from mcp_gateway.services.tool_calls import InstallGate, ToolsStore
from mcp_gateway.services.tool_listing import hidden_for
from mcp_gateway.services.toolsets import ToolsetService
from mcp_gateway.services.upstream_port import UpstreamPort
from mcp_gateway.storage.ports import UserInstallStore

log = logging.getLogger("mcp_gateway.catalogue")

MAX_VIEWS = 512  # (username, endpoint) pairs
MAX_SEGMENTS = 4096  # (server, hidden parameters, naming, toolset, tool list) variants
MAX_INPUTS = 65536  # (username, server) pairs
THREAD_INDEX = 2000  # index this many tools or more in a worker thread (the loop keeps serving)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class CatalogueStore(ToolsStore, UserInstallStore, Protocol):
    pass


@dataclass(eq=False, slots=True)
class _Inputs:
    """What the store says about one server for one user (read under ``stamp``)."""

    stamp: tuple[Stamp, frozenset[tuple[str, bool]] | None]
    config: ServerConfig
    visible: bool
    hidden: frozenset[str] = frozenset()
    shared: bool = True  # the user's calls go to the shared session (unless ``own``)
    own: bool = False  # their OAuth tokens give them a session of their own
    listed: tuple[Tool, ...] | None = None  # what the user's own session last listed

    def known_tools(self, pool: UpstreamPort, username: str) -> tuple[Tool, ...] | None:
        """The tools the user's calls would reach, as far as the pool knows without I/O."""
        name = self.config.name
        if self.shared:
            tools = pool.session_tools(name, SHARED_SCOPE)
            if tools is not None or not self.own:
                return tools
        own = pool.session_tools(name, username)  # the user's scope: see UpstreamPool
        return own if own is not None else self.listed

    @property
    def needs_listing(self) -> bool:
        """Whether a missing tool list must be asked of the user's session."""
        return not self.shared or self.own


@dataclass(frozen=True, slots=True, eq=False)
class _Source:
    config: ServerConfig
    inputs: _Inputs | None  # None: disabled
    tools: tuple[Tool, ...] | None


@dataclass(frozen=True, slots=True, eq=False)
class _Cached:
    stamp: tuple[Stamp, frozenset[tuple[str, bool]] | None]
    toolset: Toolset | None
    sources: tuple[_Source, ...]
    view: CatalogueView


class CatalogueService:
    def __init__(
        self,
        store: CatalogueStore,
        pool: UpstreamPort,
        servers: ServerService,
        secrets: SecretService,
        toolsets: ToolsetService,
        versions: CatalogueVersions,
        *,
        credentials: UpstreamCredentials | None = None,
    ) -> None:
        self._store = store
        self._pool = pool
        self._servers = servers
        self._secrets = secrets
        self._toolsets = toolsets
        self.versions = versions
        self._credentials = credentials
        self.installs: InstallGate | None = None  # set by the runtime (external servers)
        self._views: _Lru[tuple[str, str | None, str | None], _Cached] = _Lru(MAX_VIEWS)
        self._segments: _Lru[tuple[object, ...], Segment] = _Lru(MAX_SEGMENTS)
        self._inputs: _Lru[tuple[str, str], _Inputs] = _Lru(MAX_INPUTS)
        self._toolset_cache: dict[str, tuple[Stamp, Toolset]] = {}
        self._parts: tuple[tuple[str, ...], dict[str, str]] = ((), {})
        self._indexing = anyio.Lock()
        self.segments_built = 0  # for tests and the benchmark

    # -- views -----------------------------------------------------------------------------

    async def view(
        self, username: str, *, server: str | None = None, toolset: str | None = None
    ) -> CatalogueView:
        """``username``'s catalogue on ``/mcp`` (both None), ``/mcp/{server}`` (names
        unprefixed) or ``/mcp/toolsets/{toolset}``. Raises ServerNotFound, ToolsetNotFound,
        StoreUnavailable."""
        everything = self._pool.definitions()
        stamp = await self._stamp(username, everything)
        chosen = await self._toolset(toolset, stamp[0]) if toolset is not None else None
        configs = [await self._servers.config(server)] if server is not None else everything
        if chosen is not None:  # only the servers the toolset names
            configs = [config for config in configs if config.name in chosen.servers]
        key = (username, server, toolset)
        cached = self._views.get(key)
        if cached is not None and self._fresh(cached, stamp, chosen, configs, username):
            return cached.view
        sources: list[_Source] = []
        segments: list[Segment] = []
        for config in configs:
            source = await self._source(username, config, stamp)
            sources.append(source)
            if source.tools:
                assert source.inputs is not None
                segments.append(
                    self._segment(source, username, aggregated=server is None, toolset=chosen)
                )
        view = CatalogueView(segments)
        self._views.put(key, _Cached(stamp, chosen, tuple(sources), view))
        return view

    async def indexed(
        self, username: str, *, server: str | None = None, toolset: str | None = None
    ) -> CatalogueView:
        """:meth:`view` with its search index built (new segments' in a worker thread when
        large, so that the event loop keeps serving meanwhile)."""
        view = await self.view(username, server=server, toolset=toolset)
        if "index" in view.__dict__:
            return view
        # One build at a time: a segment's index is built once, by whoever comes first.
        async with self._indexing:
            if view.unindexed >= THREAD_INDEX:
                await anyio.to_thread.run_sync(lambda: view.index)
            else:
                view.index  # noqa: B018 (builds and caches it)
        return view

    async def server_view(
        self, username: str, server: str, *, aggregated: bool, toolset: str | None = None
    ) -> Segment | None:
        """One server's segment as the caller sees it (None: disabled, not visible to the
        user, or no tools), without the rest of the catalogue. Raises ServerNotFound."""
        stamp = await self._stamp(username, self._pool.definitions())
        chosen = await self._toolset(toolset, stamp[0]) if toolset is not None else None
        source = await self._source(username, await self._servers.config(server), stamp)
        if not source.tools:
            return None
        return self._segment(source, username, aggregated=aggregated, toolset=chosen)

    def last_count(self, username: str, server: str | None, toolset: str | None) -> int | None:
        """How many tools the caller's catalogue had when last built (it may have changed
        since), or None when it was never built (or was forgotten)."""
        cached = self._views.get((username, server, toolset))
        return cached.view.count if cached is not None else None

    async def toolset(self, username: str, name: str) -> Toolset:
        """The toolset ``name`` as of now. Raises ToolsetNotFound."""
        return await self._toolset(name, self.versions.stamp(username))

    def server_of_part(self, part: str) -> str | None:
        """The server whose tools on ``/mcp`` start with ``part`` (tool_names.server_part)."""
        names = tuple(config.name for config in self._pool.definitions())
        if names != self._parts[0]:
            self._parts = (names, {tool_names.server_part(name): name for name in names})
        return self._parts[1].get(part)

    def _fresh(
        self,
        cached: _Cached,
        stamp: tuple[Stamp, frozenset[tuple[str, bool]] | None],
        toolset: Toolset | None,
        configs: list[ServerConfig],
        username: str,
    ) -> bool:
        if cached.stamp != stamp or cached.toolset is not toolset:
            return False
        if len(cached.sources) != len(configs):
            return False
        pool = self._pool
        for source, config in zip(cached.sources, configs, strict=True):
            if source.config is not config:
                return False
            inputs = source.inputs
            if inputs is None or not inputs.visible:
                continue
            tools = inputs.known_tools(pool, username)
            if tools is not source.tools or (tools is None and inputs.needs_listing):
                return False
        return True

    # -- inputs ----------------------------------------------------------------------------

    async def _stamp(
        self, username: str, configs: list[ServerConfig]
    ) -> tuple[Stamp, frozenset[tuple[str, bool]] | None]:
        installs = None
        if any(is_external(config) for config in configs):
            # Installs are not in the change feed: read this user's on each use (one query).
            installs = frozenset(
                (i.server, i.enabled) for i in await self._store.list_user_installs(username)
            )
        return self.versions.stamp(username), installs

    async def _toolset(self, name: str, stamp: Stamp) -> Toolset:
        hit = self._toolset_cache.get(name)
        if hit is not None and hit[0][0] == stamp[0]:
            return hit[1]
        found = await self._toolsets.get(name)  # raises ToolsetNotFound
        if len(self._toolset_cache) >= MAX_VIEWS:
            self._toolset_cache.clear()
        self._toolset_cache[name] = (stamp, found)
        return found

    async def _source(
        self,
        username: str,
        config: ServerConfig,
        stamp: tuple[Stamp, frozenset[tuple[str, bool]] | None],
    ) -> _Source:
        if not config.enabled:
            return _Source(config, None, None)
        inputs = self._inputs.get((username, config.name))
        read_as = (
            self.versions.server_stamp(username, config.name),
            stamp[1] if is_external(config) else None,
        )
        if inputs is None or inputs.stamp != read_as or inputs.config is not config:
            inputs = await self._read_inputs(username, config, read_as)
            self._inputs.put((username, config.name), inputs)
        if not inputs.visible:
            return _Source(config, inputs, None)
        tools = inputs.known_tools(self._pool, username)
        if tools is None and inputs.needs_listing:
            tools = await self._list_user_tools(username, config, inputs)
        return _Source(config, inputs, tools)

    async def _read_inputs(
        self,
        username: str,
        config: ServerConfig,
        stamp: tuple[Stamp, frozenset[tuple[str, bool]] | None],
    ) -> _Inputs:
        """Read what the store says about ``config`` for ``username`` (``stamp`` taken before
        the reads: a write meanwhile moves it, so the next use reads again)."""
        if self.installs is not None and not await self.installs.visible(config, username):
            return _Inputs(stamp, config, visible=False)
        hidden = hidden_for(config, await self._store.list_secret_names(username, config.name))
        shared = session_scope(config, username) == SHARED_SCOPE
        own = False
        if shared and self._credentials is not None:
            try:
                own = await self._credentials.own_session(config, username)
            except GatewayError:
                own = False  # unsure: the shared session's tools
        return _Inputs(stamp, config, visible=True, hidden=hidden, shared=shared, own=own)

    async def _list_user_tools(
        self, username: str, config: ServerConfig, inputs: _Inputs
    ) -> tuple[Tool, ...] | None:
        """Ask the user's own session for its tools (starting it); None when it cannot list
        (one unreachable server must not fail the whole catalogue: it is asked again on the
        next use)."""
        try:
            injection = await self._secrets.injection(config, username)
            listed = await self._pool.list_tools(
                config,
                username=username,
                env=injection.env or None,
                headers=injection.headers or None,
                own_session=inputs.own,
            )
        except GatewayError as exc:
            log.info("tools of %s for a user unavailable: %s", config.name, exc.code)
            return None
        kept = self._pool.session_tools(config.name, username)
        inputs.listed = kept if kept is not None else tuple(listed)
        return inputs.listed

    # -- segments --------------------------------------------------------------------------

    def _segment(
        self, source: _Source, username: str, *, aggregated: bool, toolset: Toolset | None
    ) -> Segment:
        inputs, tools = source.inputs, source.tools
        assert inputs is not None and tools is not None
        key = (source.config.name, aggregated, inputs.hidden, id(toolset), id(tools))
        found = self._segments.get(key)
        if found is not None and found.source is tools and found.toolset is toolset:
            return found
        segment = Segment(
            source.config.name, tools, inputs.hidden, aggregated=aggregated, toolset=toolset
        )
        self._segments.put(key, segment)
        self.segments_built += 1
        return segment
