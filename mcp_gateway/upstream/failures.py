"""Secret-free words for an upstream connect failure: what ``lastError`` and the status of a
server say (the command of a stdio server, the URL of an HTTP one with scheme, host and path
only: never userinfo, a query string, headers or env values)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx2
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED

from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.errors import GatewayError


def describe(exc: BaseException, server: ServerConfig, exit_status: int | None = None) -> str:
    """A short, secret-free description of a connect failure naming the command or URL (never
    echoes headers, env, URL userinfo or query values)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]  # task groups wrap the transport's real error
    if isinstance(exc, TimeoutError):  # before OSError: TimeoutError is one
        what = repr(server.command) if server.command else safe_url(server.url or "")
        return f"{what} did not answer the MCP handshake within {server.startup_timeout:g}s"
    if server.transport_type is TransportType.STDIO:
        command = server.command or ""
        if isinstance(exc, FileNotFoundError):
            return f"command {command!r} not found"
        if isinstance(exc, PermissionError):
            return f"command {command!r} is not executable (permission denied)"
        answered = isinstance(exc, MCPError) and exc.code != CONNECTION_CLOSED
        if exit_status is not None and not answered:  # it ended on its own: say how
            return exited(command, exit_status)
    else:
        where = safe_url(server.url or "")
        if isinstance(exc, httpx2.HTTPStatusError):
            return f"{where} answered HTTP {exc.response.status_code}"
        if isinstance(exc, httpx2.HTTPError):
            return f"{where} could not be reached ({type(exc).__name__})"
        if isinstance(exc, MCPError):
            return f"{where}: MCP error {exc.code}: {exc.message}"
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc.message}"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    if isinstance(exc, GatewayError):
        return exc.message
    return type(exc).__name__


def exited(command: str, status: int) -> str:
    if status < 0:
        return f"{command!r} was killed by signal {-status}"
    return f"{command!r} exited with status {status}"


def safe_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no userinfo, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the server URL"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def classify(exc: BaseException, server: ServerConfig, exit_status: int | None = None) -> str:
    """The gateway's own words for a connect failure: nothing the upstream printed or sent
    (shown to non-admin keys instead of :func:`describe` plus the last stderr line)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):  # its message is upstream text
        return f"connect failed: MCP error {exc.code}"
    if isinstance(exc, GatewayError):
        return f"connect failed: {exc.code}"
    return describe(exc, server, exit_status)
