"""A small synchronous HTTP client for the gateway's API, and the CLI's error-to-exit mapping.

Commands open a client with :func:`gateway` (a context manager). Inside it, a gateway error body
``{"success": false, "error", "code"}`` becomes exit code 1 with the message and code on
stderr; a connection failure (refused, DNS, timeout) becomes exit code 2 with a one-line hint.
Neither prints a traceback, and the API key is never printed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import typer

from mcp_gateway import __version__
from mcp_gateway.cli.output import write_text

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0


class ApiError(Exception):
    """The gateway answered with an error body (or a non-2xx status without one)."""

    def __init__(self, status: int, code: str, message: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class Unreachable(Exception):
    """No HTTP answer: connection refused, unknown host, timeout or a broken connection."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason


class UsageError(Exception):
    """Bad input caught by the CLI itself (exit code 2)."""


class GatewayClient:
    """JSON over HTTP to one gateway. Every method returns the decoded success body.

    Raises :class:`ApiError` for an error answer and :class:`Unreachable` when the gateway
    cannot be reached. ``api_key`` is sent as a bearer token and kept out of ``repr``.
    """

    def __init__(self, url: str, api_key: str | None, timeout: float = DEFAULT_TIMEOUT) -> None:
        url = url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise UsageError("--url must start with http:// or https://")
        self.url = url
        headers = {"User-Agent": f"mcp-gateway-cli/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx2.Client(base_url=url, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"GatewayClient({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(method, path, json=json, params=clean, **extra)
        except httpx2.TimeoutException:
            raise Unreachable(self.url, "timed out") from None
        except httpx2.TransportError as exc:
            raise Unreachable(self.url, _reason(exc)) from None
        except httpx2.InvalidURL as exc:
            raise UsageError(f"invalid --url: {exc}") from None
        return _decode(response)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any, timeout: float | None = None) -> dict[str, Any]:
        return self.request("POST", path, json=body, timeout=timeout)

    def put(self, path: str, body: Any = None, timeout: float | None = None) -> dict[str, Any]:
        return self.request("PUT", path, json=body, timeout=timeout)

    def delete(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("DELETE", path, params=params)

    def events(self, path: str, last_event_id: str | None = None) -> Iterator[dict[str, str]]:
        """The server-sent events of ``path`` (``{"id", "event", "data"}`` each) until the
        gateway ends the stream. Raises ApiError, Unreachable (also when it breaks mid-way)."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        try:
            with self._http.stream("GET", path, headers=headers) as response:
                if not response.is_success:
                    response.read()
                    _decode(response)
                event: dict[str, str] = {}
                for line in response.iter_lines():
                    if not line:
                        if event:
                            yield event
                        event = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        event[name] = value.removeprefix(" ")
        except httpx2.TimeoutException:
            raise Unreachable(self.url, "timed out") from None
        except httpx2.TransportError as exc:
            raise Unreachable(self.url, _reason(exc)) from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _decode(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if response.is_success and body.get("success", True) is not False:
        return body
    code = body.get("code")
    message = body.get("error")
    raise _api_error(response.status_code, code, message, body)


def _api_error(status: int, code: Any, message: Any, body: dict[str, Any]) -> ApiError:
    if not isinstance(code, str) or not code:
        code = f"http_{status}"
    if not isinstance(message, str) or not message:
        message = f"the gateway answered HTTP {status} without an error message"
    return ApiError(status, code, message, body)


def _stderr(line: str) -> None:
    write_text(f"mcp-gateway: {line}", err=True)  # messages may quote upstream text


def report_api_error(err: ApiError) -> None:
    """Print an error answer on stderr: message and code, then any details, URL or log."""
    _stderr(f"{err.message} (code: {err.code}, HTTP {err.status})")
    for detail in err.body.get("details") or []:
        if not isinstance(detail, dict):
            continue
        line = f"{detail.get('field', '?')}: {detail.get('message', '')}"
        if line not in err.message:  # the first problem is usually the message itself
            write_text(f"  {line}", err=True)
    url = err.body.get("authorizationUrl")
    if isinstance(url, str):
        write_text(f"  log in again at: {url}", err=True)
    log = err.body.get("log")
    if isinstance(log, str) and log.strip():
        write_text(f"--- install log ---\n{log}\n--- end of install log ---", err=True)


def _display_url(url: str) -> str:
    """The URL without any user:password@ part (never print credentials)."""
    scheme, sep, rest = url.partition("://")
    host, at, tail = rest.partition("@")
    return f"{scheme}{sep}{tail}" if at and "/" not in host else url


def unreachable_hint(err: Unreachable) -> str:
    return (
        f"cannot reach the gateway at {_display_url(err.url)} ({err.reason}): "
        "is `mcp-gateway serve` running? set --url/MCPGW_URL"
    )


@contextmanager
def cli_errors(*, have_key: bool = True) -> Iterator[None]:
    """Turn client errors raised inside the block into clean exits (1 or 2), no traceback."""
    try:
        yield
    except ApiError as err:
        report_api_error(err)
        if err.code == "unauthenticated" and not have_key:
            print("  no API key given: set --api-key or MCPGW_API_KEY", file=sys.stderr)
        raise typer.Exit(1) from None
    except Unreachable as err:
        _stderr(unreachable_hint(err))
        raise typer.Exit(2) from None
    except UsageError as err:
        _stderr(str(err))
        raise typer.Exit(2) from None


@contextmanager
def gateway(
    url: str, api_key: str | None, timeout: float = DEFAULT_TIMEOUT
) -> Iterator[GatewayClient]:
    """Open a client for one command; errors inside the block exit as documented above."""
    with cli_errors(have_key=bool(api_key)):
        client = GatewayClient(url, api_key, timeout)
        try:
            yield client
        finally:
            client.close()


def fail_usage(message: str) -> typer.Exit:
    """Print a usage problem on stderr and return the exit (code 2) to raise."""
    _stderr(message)
    return typer.Exit(2)
