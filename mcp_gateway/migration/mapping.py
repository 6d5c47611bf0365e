"""Pure mapping of mcp-api documents to the gateway's domain records (no I/O, no secrets).

Server documents (collection ``mcp``) carry every field: those the gateway models become typed
``ServerConfig`` fields (durations converted from mcp-api's milliseconds to seconds; metadata
such as displayName, source, authMode, oauthTemplate, secretFields, createdAt in ``metadata``),
every other one (the cached toolsList...) is kept under its mcp-api name in ``extra``, dates as
ISO-8601 text. ``secretNames`` and ``authMode`` follow the same domain rules as the HTTP API
(``apply_secret_names``, ``oauth_from_template``). Runtime state (``_id``, ``status``, ``logs``,
``errors``) is dropped; ``sessionId`` becomes a session record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.domain.servers import (
    DEFAULT_MAX_RETRIES,
    METADATA_WIRE_NAMES,
    InjectAs,
    ReconnectionOptions,
    SecretSpec,
    ServerConfig,
    TransportType,
    apply_secret_names,
    declared_secret_names,
    metadata_from_wire,
    wire_epoch,
)
from mcp_gateway.domain.user_servers import is_external
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.installer.plan import LAST_UPGRADED, PIP_DEPENDENCIES

MCP_API_DEFAULT_TIMEOUT_MS = 180_000  # mcp-api's startupTimeout default (also per call)
MAX_TIMEOUT_S = 3600.0
_DROPPED = frozenset({"_id", "status", "logs", "errors", "connection", "sessionId"})
_TYPED = frozenset(
    {
        "name",
        "transportType",
        "command",
        "args",
        "env",
        "cwd",
        "url",
        "headers",
        "enabled",
        "startupTimeout",
        "secretNames",
        "secretName",
    }
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def _text_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{what} is not an object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _seconds(ms: Any, default_ms: float) -> float:
    value = ms if isinstance(ms, int | float) and not isinstance(ms, bool) and ms > 0 else None
    return min(float(value if value is not None else default_ms) / 1000.0, MAX_TIMEOUT_S)


def _reconnection(raw: Any) -> ReconnectionOptions:
    """mcp-api's reconnectionOptions (milliseconds) as the gateway's restart bounds."""
    if not isinstance(raw, Mapping):
        return ReconnectionOptions()
    retries = raw.get("maxRetries")
    initial = raw.get("initialReconnectionDelay")
    longest = raw.get("maxReconnectionDelay")
    growth = raw.get("reconnectionDelayGrowFactor")
    defaults = ReconnectionOptions()
    return ReconnectionOptions(
        max_retries=int(retries) if isinstance(retries, int | float) else DEFAULT_MAX_RETRIES,
        initial_delay=_seconds(initial, defaults.initial_delay * 1000),
        max_delay=_seconds(longest, defaults.max_delay * 1000),
        grow_factor=float(growth)
        if isinstance(growth, int | float) and 1 <= growth <= 10
        else defaults.grow_factor,
    )


@dataclass(frozen=True, slots=True)
class MappedServer:
    config: ServerConfig
    # The shared session's persisted Mcp-Session-Id, if any (it grants the session: no repr).
    session_id: str | None = field(repr=False)


def map_server(doc: Mapping[str, Any]) -> MappedServer:
    """One ``mcp`` document. Raises InvalidRequest naming what the gateway cannot accept.

    ``secretNames`` (or legacy ``secretName``) become optional ``arg`` specs: mcp-api injects
    only those names, and a missing one is simply not injected.
    """
    name = doc.get("name")
    if not isinstance(name, str):
        raise InvalidRequest("server document without a name")
    validate_server_name(name)
    try:
        transport = TransportType(str(doc.get("transportType") or "stdio"))
    except ValueError as exc:
        raise InvalidRequest(f"unknown transportType {doc.get('transportType')!r}") from exc
    command = doc.get("command") if isinstance(doc.get("command"), str) else None
    url = doc.get("url") if isinstance(doc.get("url"), str) else None
    if transport is TransportType.STDIO and not command:
        raise InvalidRequest("stdio server without a command")
    if transport is not TransportType.STDIO and not url:
        raise InvalidRequest(f"{transport.value} server without a url")
    args = doc.get("args") or []
    if not isinstance(args, list):
        raise InvalidRequest("args is not a list")
    timeout = _seconds(doc.get("startupTimeout"), MCP_API_DEFAULT_TIMEOUT_MS)
    typed = _DROPPED | _TYPED | METADATA_WIRE_NAMES.keys()
    extra = {k: _jsonable(v) for k, v in doc.items() if k not in typed}
    config = ServerConfig(
        name=name,
        transport_type=transport,
        command=command,
        args=tuple(str(a) for a in args),
        env=_text_map(doc.get("env"), "env"),
        cwd=doc.get("cwd") if isinstance(doc.get("cwd"), str) else None,
        url=url,
        headers=_text_map(doc.get("headers"), "headers"),
        reconnection=_reconnection(doc.get("reconnectionOptions")),
        enabled=doc.get("enabled") is not False,
        startup_timeout=timeout,
        call_timeout=timeout,
        secrets=apply_secret_names(
            declared_secret_names(doc.get("secretNames"), doc.get("secretName"))
        ),
        extra=extra,
        metadata=metadata_from_wire({k: _jsonable(v) for k, v in doc.items()}),
    )
    if is_external(config) and config.is_http and not config.secrets:
        # mcp-api put an external server's secretFields (its URL's query parameters) into the
        # URL at connect time: the gateway's query secrets of each user's own session.
        fields = config.metadata.secret_fields
        specs = tuple(SecretSpec(f.name, InjectAs.QUERY, required=f.required) for f in fields)
        config = replace(config, secrets=specs)
    session = doc.get("sessionId")
    sid = session if isinstance(session, str) and session and config.is_http else None
    return MappedServer(config, sid)


def map_package(doc: Mapping[str, Any]) -> PackageRecord:
    """One ``packages`` document. ``install_dir`` is left empty: mcp-api's ``installPath`` is
    relative to its own working directory, so the gateway's start-up reconcile re-installs the
    package (at the recorded version) into its own packages directory. Raises InvalidRequest.
    """
    if doc.get("status") not in (None, "installed"):
        raise InvalidRequest(f"its install did not finish in mcp-api (status {doc['status']!r})")
    server = doc.get("mcpServerId")
    name = doc.get("name")
    if not isinstance(server, str) or not server:
        raise InvalidRequest("package without mcpServerId (its server name)")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("package without a name")
    try:
        runtime = PackageRuntime(str(doc.get("runtime") or "node"))
    except ValueError as exc:
        raise InvalidRequest(f"unknown package runtime {doc.get('runtime')!r}") from exc
    version = doc.get("version") if isinstance(doc.get("version"), str) else None
    kept = ("installPath", "main", "venvPath", "pythonArgs", "status", "enabled", "lastUsed")
    installed = wire_epoch(doc.get("installed")) or 0.0

    def text(key: str) -> str | None:
        value = doc.get(key)
        return value if isinstance(value, str) and value else None

    extra: dict[str, Any] = {"mcpApi": {k: _jsonable(doc.get(k)) for k in kept if k in doc}}
    upgraded = wire_epoch(doc.get("lastUpgraded"))
    if upgraded is not None:
        extra[LAST_UPGRADED] = upgraded
    deps = doc.get("pipDependencies")
    if runtime is PackageRuntime.PYTHON and isinstance(deps, list) and deps:
        # re-installs and upgrades install them again, as mcp-api did
        extra[PIP_DEPENDENCIES] = [str(d) for d in deps]
    return PackageRecord(
        server_name=validate_server_name(server),
        name=name,
        runtime=runtime,
        version=version or "latest",
        requested_version=version,
        install_dir="",
        python_module=text("pythonModule"),
        pip_index_url=text("pipIndexUrl"),
        pip_extra_index_url=text("pipExtraIndexUrl"),
        installed_at=installed,
        updated_at=upgraded or installed,
        extra=extra,
    )
