"""Turn a Claude Desktop / Cursor / VS Code ``mcpServers`` file into gateway server bodies.

Accepted shapes (``"servers"`` is VS Code's key, ``"mcpServers"`` everyone else's)::

    {"mcpServers": {"name": {"command": "npx", "args": [...], "env": {...}}}}
    {"mcpServers": {"name": {"url": "https://...", "headers": {...}}}}
    {"servers": {"name": {"type": "http" | "sse" | "stdio", ...}}}

Pure functions: no I/O besides what the caller passes in, so they are tested without a gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.errors import InvalidRequest

# The client files' "type" values mapped onto the gateway's transportType.
_TRANSPORTS = {
    "stdio": "stdio",
    "http": "streamable_http",
    "streamable-http": "streamable_http",
    "streamable_http": "streamable_http",
    "streamablehttp": "streamable_http",
    "sse": "sse",
}


@dataclass(frozen=True)
class ImportEntry:
    """One server of the file: a request body to POST, or the reason it is invalid."""

    name: str
    body: dict[str, Any] | None = None
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.body is not None


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "skipped": self.skipped, "invalid": self.invalid}


class ImportFileError(ValueError):
    """The file as a whole is unusable (not JSON, no ``mcpServers``/``servers`` object)."""


def load_config(text: str) -> dict[str, Any]:
    """Parse the file and return its name -> definition mapping. Raises ImportFileError."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ImportFileError("expected a JSON object with an 'mcpServers' or 'servers' key")
    for key in ("mcpServers", "servers"):
        servers = data.get(key)
        if servers is not None:
            if not isinstance(servers, dict):
                raise ImportFileError(f"'{key}' must be an object mapping names to servers")
            return servers
    raise ImportFileError("no 'mcpServers' (or VS Code 'servers') object in the file")


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'{what}' must be an object of strings")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str | int | float | bool):
            raise ValueError(f"'{what}.{k}' must be a string")
        out[str(k)] = v if isinstance(v, str) else json.dumps(v)
    return out


def _body(name: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ValueError("definition must be an object")
    command, url = spec.get("command"), spec.get("url")
    kind = spec.get("type") or spec.get("transport") or spec.get("transportType")
    if kind is not None and (not isinstance(kind, str) or kind.lower() not in _TRANSPORTS):
        raise ValueError(f"unknown type {kind!r} (expected stdio, http or sse)")
    transport = _TRANSPORTS[kind.lower()] if isinstance(kind, str) else None
    if command and url:
        raise ValueError("has both 'command' and 'url'")
    body: dict[str, Any] = {"name": name}
    if command:
        if not isinstance(command, str):
            raise ValueError("'command' must be a string")
        if transport not in (None, "stdio"):
            raise ValueError(f"type {kind!r} needs a 'url', not a 'command'")
        args = spec.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ValueError("'args' must be a list of strings")
        body.update(transportType="stdio", command=command, args=args)
        env = _str_map(spec.get("env"), "env")
        if env:
            body["env"] = env
        if isinstance(spec.get("cwd"), str):
            body["cwd"] = spec["cwd"]
    elif url:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("'url' must be an http:// or https:// URL")
        if transport == "stdio":
            raise ValueError("type 'stdio' needs a 'command', not a 'url'")
        body.update(transportType=transport or "streamable_http", url=url)
        headers = _str_map(spec.get("headers"), "headers")
        if headers:
            body["headers"] = headers
    else:
        raise ValueError("has neither 'command' nor 'url'")
    if spec.get("disabled") is True or spec.get("enabled") is False:
        body["enabled"] = False
    return body


def plan_import(servers: dict[str, Any]) -> list[ImportEntry]:
    """Validate each entry in file order; invalid ones carry a one-line reason."""
    entries: list[ImportEntry] = []
    for name, spec in servers.items():
        try:
            validate_server_name(name)
        except InvalidRequest as exc:
            entries.append(ImportEntry(name, reason=str(exc)))
            continue
        try:
            entries.append(ImportEntry(name, body=_body(name, spec)))
        except ValueError as exc:
            entries.append(ImportEntry(name, reason=str(exc)))
    return entries
