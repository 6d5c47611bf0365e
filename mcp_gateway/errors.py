"""The gateway's one exception tree.

Every error a caller can see is a :class:`GatewayError`. Each class carries the HTTP ``status``
and the snake_case ``code`` of the API contract (design.md); the API layer translates them in
one handler and nowhere else. Foreign exceptions (pymongo, sqlite3, httpx2, MCPError, OSError)
are converted at the adapter edge with ``raise ... from exc``.

Messages must never contain a secret value: they name the thing that went wrong (a server, a
secret *name*, a setting) and never echo what the caller or the store sent.

Tree::

    GatewayError                       500 internal_error
    ├── InvalidRequest                 400 invalid_request (optional ``details`` list)
    │   ├── MissingSecret              400 missing_secret
    │   ├── BlockedDestination         400 invalid_request (an OAuth URL the SSRF guard refuses)
    │   └── ExternalDiscoveryFailed    400 discovery_failed (``attemptedUrls``, ``reason``)
    │       ├── PkceUnsupported        400 discovery_failed, reason pkce_s256_unsupported
    │       ├── IssuerMismatch         400 discovery_failed, reason issuer_mismatch
    │       └── ResourceMismatch       400 discovery_failed, reason resource_mismatch
    ├── Unauthenticated                401 unauthenticated
    │   └── ReauthRequired             401 reauth_required (optional ``authorization_url``)
    ├── Forbidden                      403 forbidden
    ├── NotFound                       404 not_found
    │   ├── ServerNotFound             404 server_not_found
    │   ├── PackageNotFound            404 package_not_found
    │   └── ToolsetNotFound            404 toolset_not_found
    ├── Conflict                       409 conflict
    │   ├── ServerAlreadyExists        409 server_already_exists
    │   ├── ServerDisabled             409 server_disabled
    │   ├── InstallInProgress          409 install_in_progress
    │   ├── NotInstalled               409 not_installed (a user's external server: no install,
    │   │                                  or it is disabled)
    │   └── AuthNotConnected           409 auth_not_connected (mcp-api: the user's OAuth grant
    │                                      is not connected)
    ├── RequestTimeout                 408 request_timeout (the request body came too slowly)
    ├── PayloadTooLarge                413 payload_too_large
    ├── RateLimited                    429 rate_limited (``retry_after`` seconds, ``limit`` kind)
    ├── TooManyRuns                    429 too_many_runs (a caller's active runs are at the cap)
    ├── ClientDisconnected             499 client_disconnected (nobody reads it)
    ├── InputRequired                  200 input_required (a 2026-07-28 upstream's input-required
    │                                  result for the MCP caller that offered to relay it; never
    │                                  reaches REST)
    ├── UpstreamError                  502 upstream_error (the upstream answered with an error;
    │                                  ``rpc_code``/``rpc_data``: its JSON-RPC error's, masked)
    │   ├── UpstreamUnavailable        502/503 upstream_unavailable
    │   │   └── Restarting             503 upstream_unavailable (the definition a call took was
    │   │                                  replaced before the call needed a session of it:
    │   │                                  try again)
    │   ├── UpstreamBusy               503 upstream_busy (``retry_after`` seconds)
    │   ├── UpstreamTimeout            504 upstream_timeout
    │   ├── DiscoveryFailed            502 upstream_error (no usable OAuth metadata)
    │   └── TokenEndpointError         502 upstream_error (a token request was refused)
    │       └── GrantRevoked           502 upstream_error (``invalid_grant``)
    ├── StoreUnavailable               503 store_unavailable
    ├── Draining                       503 draining (SIGTERM: this replica takes no new work)
    ├── InstallFailed                  502 install_failed (bounded ``log`` of the installer)
    ├── ConfigError                    (start-up only: a bad setting; CLI exits 2)
    └── CryptoError                    500 decryption_failed (wrong key, tampered ciphertext)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error the gateway reports. ``str(err)`` is the human message."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extra(self) -> dict[str, Any]:
        """Additional JSON fields for the error body (beyond success/error/code)."""
        return {}

    def headers(self) -> dict[str, str]:
        """Additional HTTP response headers."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidRequest(GatewayError):
    """The request is malformed or fails validation. ``details`` lists field problems."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, details: Sequence[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.details = list(details or [])

    def extra(self) -> dict[str, Any]:
        return {"details": self.details} if self.details else {}


class MissingSecret(InvalidRequest):
    """A secret the server's injection spec requires is not set for this user."""

    code = "missing_secret"

    def __init__(self, server: str, secret_name: str) -> None:
        super().__init__(f"secret {secret_name!r} is required by server {server!r} but not set")
        self.secret_name = secret_name


class BlockedDestination(InvalidRequest):
    """An OAuth endpoint resolves to an address the gateway refuses to contact."""


class ExternalDiscoveryFailed(InvalidRequest):
    """``POST /mcp/external/discover`` found no usable authorization server (mcp-api's 400
    ``discovery_failed``). ``attempted_urls`` are the metadata URLs tried; ``reason`` a
    snake_case refinement (the gateway's addition: mcp-api clients keep matching on the code),
    ``cause`` a short text of the last failure (never a body the remote sent)."""

    code = "discovery_failed"
    reason = "no_usable_metadata"

    def __init__(
        self, message: str, attempted_urls: Sequence[str] = (), cause: str | None = None
    ) -> None:
        super().__init__(message)
        self.attempted_urls = list(attempted_urls)
        self.cause = cause

    def extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attemptedUrls": self.attempted_urls, "reason": self.reason}
        if self.cause:
            out["cause"] = self.cause
        return out


class PkceUnsupported(ExternalDiscoveryFailed):
    """The authorization server does not advertise PKCE ``S256`` (MCP requires it)."""

    reason = "pkce_s256_unsupported"


class IssuerMismatch(ExternalDiscoveryFailed):
    """The metadata's ``issuer`` is not the issuer it was fetched for (RFC 8414 section 3.3,
    the mix-up defence)."""

    reason = "issuer_mismatch"


class ResourceMismatch(ExternalDiscoveryFailed):
    """The protected resource metadata names another ``resource`` than the URL asked
    (RFC 9728 section 3.3)."""

    reason = "resource_mismatch"


class Unauthenticated(GatewayError):
    """No API key, or one that is unknown or revoked."""

    status = 401
    code = "unauthenticated"


class ReauthRequired(Unauthenticated):
    """The upstream's OAuth grant is gone; the user must log in again."""

    code = "reauth_required"

    def __init__(
        self,
        message: str,
        authorization_url: str | None = None,
        *,
        server_name: str | None = None,
        username: str | None = None,
    ) -> None:
        super().__init__(message)
        self.authorization_url = authorization_url
        self.server_name = server_name
        self.username = username

    def extra(self) -> dict[str, Any]:
        """mcp-api's keys: ``reauthRequired``, ``serverName``, ``username``, and
        ``authorizationUrl`` when a login can be started."""
        out: dict[str, Any] = {"reauthRequired": True}
        if self.server_name:
            out["serverName"] = self.server_name
        if self.username:
            out["username"] = self.username
        if self.authorization_url:
            out["authorizationUrl"] = self.authorization_url
        return out


class Forbidden(GatewayError):
    """The caller is authenticated but its role or username does not allow this."""

    status = 403
    code = "forbidden"


class NotFound(GatewayError):
    status = 404
    code = "not_found"


class ServerNotFound(NotFound):
    code = "server_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"server {name!r} not found")


class PackageNotFound(NotFound):
    code = "package_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"package {name!r} not found")


class ToolsetNotFound(NotFound):
    code = "toolset_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"toolset {name!r} not found")


class Conflict(GatewayError):
    status = 409
    code = "conflict"


class ServerAlreadyExists(Conflict):
    code = "server_already_exists"

    def __init__(self, name: str) -> None:
        super().__init__(f"server {name!r} already exists")


class ServerDisabled(Conflict):
    code = "server_disabled"

    def __init__(self, name: str) -> None:
        super().__init__(f"server {name!r} is disabled")


class InstallInProgress(Conflict):
    code = "install_in_progress"

    def __init__(self, server: str) -> None:
        super().__init__(f"an install for server {server!r} is already running")


class NotInstalled(Conflict):
    """A user's external server that this user has not installed, or whose install is off."""

    code = "not_installed"

    def __init__(self, server: str, username: str, *, disabled: bool = False) -> None:
        what = "is disabled" if disabled else "is not installed"
        super().__init__(f"server {server!r} {what} for user {username!r}")
        self.server_name = server
        self.username = username

    def extra(self) -> dict[str, Any]:
        return {"serverName": self.server_name, "username": self.username}


class AuthNotConnected(Conflict):
    """mcp-api's ``auth_not_connected``: the user has not connected their OAuth grant yet."""

    code = "auth_not_connected"

    def __init__(self, server: str, username: str) -> None:
        super().__init__(f"server {server!r} is not connected for user {username!r}: log in first")
        self.server_name = server
        self.username = username

    def extra(self) -> dict[str, Any]:
        return {"serverName": self.server_name, "username": self.username}


class RequestTimeout(GatewayError):
    """The client sent its request body too slowly (``MCPGW_BODY_TIMEOUT``)."""

    status = 408
    code = "request_timeout"

    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}  # the rest of the body may still be on its way


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"


class RateLimited(GatewayError):
    """A rate limit of the server refuses the call (``limit``: ``total``, ``perKey`` or
    ``perUser``); retry after ``retry_after`` whole seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, limit: str, retry_after: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after = retry_after

    def extra(self) -> dict[str, Any]:
        return {"limit": self.limit}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooManyRuns(GatewayError):
    """The caller already has ``MCPGW_RUN_MAX_ACTIVE`` pending/running runs for this username."""

    status = 429
    code = "too_many_runs"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class ClientDisconnected(GatewayError):
    """The client closed the connection before the answer was ready (nobody reads this)."""

    status = 499
    code = "client_disconnected"


class InputRequired(GatewayError):
    """A 2026-07-28 upstream answered a request with an input-required result (SEP-2322) for a
    2026-07-28 MCP caller, who relays it (``upstream/eras.py``): ``requests`` are its input
    requests (wire JSON, masked), ``state`` the upstream's own ``requestState``. Not a
    failure: the pool raises it only when the endpoint set ``CALL_ERA`` to take it, so it
    never reaches REST; the services audit the round as ``input_required``."""

    status = 200
    code = "input_required"

    def __init__(self, requests: dict[str, Any], state: str | None) -> None:
        super().__init__("the upstream asks the client for input")
        self.requests = requests
        self.state = state


class UpstreamError(GatewayError):
    """The upstream MCP server answered with a protocol error. When that was a JSON-RPC error,
    ``rpc_code`` and ``rpc_data`` (already masked) are its own code and data, which the MCP
    endpoint passes on to its client."""

    status = 502
    code = "upstream_error"

    def __init__(self, message: str, *, rpc_code: int | None = None, rpc_data: Any = None):
        super().__init__(message)
        self.rpc_code = rpc_code
        self.rpc_data = rpc_data


class UpstreamUnavailable(UpstreamError):
    """The upstream is not connected (503) or died during the call (502, ``during_call``)."""

    code = "upstream_unavailable"

    def __init__(self, message: str, *, during_call: bool = False) -> None:
        super().__init__(message)
        self.during_call = during_call
        self.status = 502 if during_call else 503  # type: ignore[misc]


class Restarting(UpstreamUnavailable):
    """The server's definition was replaced after a call took it, and the call then needed a
    session of the old one (none starts: nothing would stop it). Trying again runs it on the
    new definition."""

    status = 503

    def __init__(self, name: str) -> None:
        super().__init__(f"server {name!r} is restarting: try again")


class UpstreamBusy(UpstreamError):
    """Too many calls in flight for this server; retry after ``retry_after`` seconds."""

    status = 503
    code = "upstream_busy"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class DiscoveryFailed(UpstreamError):
    """No usable authorization-server metadata could be found for a server."""


class TokenEndpointError(UpstreamError):
    """The authorization server refused a token request (other than a dead grant)."""

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code


class GrantRevoked(TokenEndpointError):
    """``invalid_grant``: the refresh token or code is expired, revoked or already used."""


class StoreUnavailable(GatewayError):
    """The secrets/config store cannot be reached or refused the operation."""

    status = 503
    code = "store_unavailable"


class Draining(GatewayError):
    """This replica got SIGTERM: it finishes its in-flight calls and exits (``/readyz``)."""

    status = 503
    code = "draining"


class InstallFailed(GatewayError):
    """npm/pip/uv failed or timed out. ``log`` is the bounded tail of its output."""

    status = 502
    code = "install_failed"

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log

    def extra(self) -> dict[str, Any]:
        return {"log": self.log} if self.log else {}


class ConfigError(GatewayError):
    """A setting is missing or invalid; start-up stops with this one line (exit code 2)."""

    code = "config_error"


class CryptoError(GatewayError):
    """A ciphertext cannot be decrypted: wrong or unknown key, tampered data or bad format."""

    code = "decryption_failed"
