"""Every Prometheus instrument the gateway updates as things happen, on one registry.

One :class:`GatewayMetrics` per runtime (no process-global registry: tests run many gateways in
one process). The layers below call its small hook methods (``observe_tool_call``,
``instance_changed``, ``oauth_refresh``, ``observe_install``, ``observe_store``, ``refused``)
through the observer lists and callbacks the composition root wires; gauges that describe the
present (server status, uptime, in-flight calls, audit queue) are read at scrape time by
``api.metrics`` instead of being kept up to date on the hot path.

Label sets stay bounded. A server label is a registered server's name (a call naming an unknown
server is labelled ``-``). A tool label is a name the server itself listed in ``tools/list``,
at most ``max_tools`` per server, of at most :data:`MAX_TOOL_LABEL` characters and without
control characters (an upstream chooses them: no terminal escapes, bidi overrides or carriage
returns in the exposition); any other name (made up by a caller, listed later than the cap, or
on a server whose tools the gateway has not listed) is ``other``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

# Seconds: from a cached in-process answer to a slow tool.
CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2)
INSTALL_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)

OTHER_TOOL = "other"
UNKNOWN_SERVER = "-"
DEFAULT_MAX_TOOLS = 100
MAX_TOOL_LABEL = 128  # MCP's recommended longest tool name
# C0, DEL, C1, line/paragraph separators, bidi marks, embeddings, overrides and isolates.
_UNLABELLABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# How often (seconds) an unlabelled tool name may trigger a new look at the server's tool list:
# a caller sending made-up names costs a dict lookup, not a listing, per call.
RELIST_EVERY = 5.0

#: ``listed(server)``: the tool names ``server`` currently lists, or None when unknown.
ListedTools = Callable[[str], Collection[str] | None]


def _no_listing(server: str) -> None:
    return None


class ToolLabels:
    """Which tool names are labels, per server (see the module docstring)."""

    __slots__ = ("_labels", "_looked_at", "listed", "max_tools")

    def __init__(self, max_tools: int = DEFAULT_MAX_TOOLS) -> None:
        self.max_tools = max_tools
        self.listed: ListedTools = _no_listing
        self._labels: dict[str, set[str]] = {}
        self._looked_at: dict[str, float] = {}

    def label(self, server: str, tool: str) -> str:
        labels = self._labels.get(server)
        if labels is not None and tool in labels:
            return tool
        if server == UNKNOWN_SERVER:
            return OTHER_TOOL
        now = time.monotonic()
        if now - self._looked_at.get(server, -RELIST_EVERY) < RELIST_EVERY:
            return OTHER_TOOL
        self._looked_at[server] = now
        listed = self.listed(server)
        if not listed:
            return OTHER_TOOL
        # Admit every listed name at once (up to the cap): the next calls are one set lookup,
        # whichever name (even a made-up one) caused this look.
        labels = self._labels.setdefault(server, set())
        for name in sorted(listed):
            if len(labels) >= self.max_tools:
                break
            if len(name) <= MAX_TOOL_LABEL and not _UNLABELLABLE.search(name):
                labels.add(name)
        return tool if tool in labels else OTHER_TOOL


class GatewayMetrics:
    """The instruments and the hooks that update them. ``registry`` is what ``/metrics``
    renders (plus the scrape-time gauges ``api.metrics`` adds)."""

    def __init__(self, *, max_tools: int = DEFAULT_MAX_TOOLS) -> None:
        self.registry = registry = CollectorRegistry()
        self.tools = ToolLabels(max_tools)
        self.tool_calls = Counter(
            "mcpgw_tool_calls",
            "tool calls by server, tool (listed tools only, else 'other') and outcome "
            "(ok, tool_error or an error code)",
            ["server", "tool", "outcome"],
            registry=registry,
        )
        self.tool_call_seconds = Histogram(
            "mcpgw_tool_call_duration_seconds",
            "tool call latency inside the gateway, by server and outcome",
            ["server", "outcome"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.refusals = Counter(
            "mcpgw_tool_calls_refused",
            "tool calls refused before reaching the upstream, by reason (busy, rate_limited)",
            ["server", "reason"],
            registry=registry,
        )
        self.instances_created = Counter(
            "mcpgw_user_instances_created",
            "per-user upstream sessions (instances) started",
            ["server"],
            registry=registry,
        )
        self.instances_destroyed = Counter(
            "mcpgw_user_instances_destroyed",
            "per-user upstream sessions (instances) ended",
            ["server"],
            registry=registry,
        )
        self.oauth_refreshes = Counter(
            "mcpgw_oauth_refreshes",
            "OAuth token refresh requests sent to an authorization server",
            ["server"],
            registry=registry,
        )
        self.oauth_refresh_failures = Counter(
            "mcpgw_oauth_refresh_failures",
            "OAuth token refreshes that failed (refused grant, unreachable or erroring server)",
            ["server"],
            registry=registry,
        )
        self.installs = Counter(
            "mcpgw_installs",
            "package installs (first installs and upgrades) by runtime and outcome",
            ["runtime", "outcome"],
            registry=registry,
        )
        self.install_seconds = Histogram(
            "mcpgw_install_duration_seconds",
            "package install duration by runtime",
            ["runtime"],
            buckets=INSTALL_BUCKETS,
            registry=registry,
        )
        self.store_seconds = Histogram(
            "mcpgw_store_operation_duration_seconds",
            "store call latency by operation (a store port method name)",
            ["operation"],
            buckets=STORE_BUCKETS,
            registry=registry,
        )
        # Label children by label values (bounded like the labels): ``labels()`` validates and
        # locks on every call, a dict lookup does not.
        self._calls: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._store_ops: dict[str, Any] = {}

    # -- hooks (called by the layers below; each is a few dict lookups) -------------------------

    def observe_tool_call(self, server: str, tool: str, outcome: str, seconds: float) -> None:
        """A ``ToolCallService`` observer: ``server`` is already ``-`` for unknown servers."""
        key = (server, self.tools.label(server, tool), outcome)
        children = self._calls.get(key)
        if children is None:
            children = (
                self.tool_calls.labels(*key),
                self.tool_call_seconds.labels(server, outcome),
            )
            self._calls[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if outcome == "upstream_busy":
            self.refusals.labels(server, "busy").inc()
        elif outcome == "rate_limited":
            self.refusals.labels(server, "rate_limited").inc()

    def refused(self, server: str, reason: str) -> None:
        """A call refused outside ``ToolCallService.call`` (e.g. a rate limit checked earlier):
        ``server`` must be a registered server's name or ``-``; ``reason`` a fixed word."""
        self.refusals.labels(server, reason).inc()

    def instance_changed(self, server: str, delta: int) -> None:
        """A per-user upstream session of ``server`` started (+1) or ended (-1)."""
        (self.instances_created if delta > 0 else self.instances_destroyed).labels(server).inc()

    def oauth_refresh(self, server: str, ok: bool) -> None:
        self.oauth_refreshes.labels(server).inc()
        if not ok:
            self.oauth_refresh_failures.labels(server).inc()

    def observe_install(self, runtime: str, outcome: str, seconds: float) -> None:
        self.installs.labels(runtime, outcome).inc()
        self.install_seconds.labels(runtime).observe(seconds)

    def observe_store(self, operation: str, seconds: float) -> None:
        child = self._store_ops.get(operation)
        if child is None:
            child = self._store_ops[operation] = self.store_seconds.labels(operation)
        child.observe(seconds)
