"""Foreign exceptions from an upstream call, converted to the gateway's error tree."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import Any, Protocol, runtime_checkable

import anyio
import httpx2
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult
from pydantic import ValidationError

from mcp_gateway.domain.redaction import Masker, keep_forms
from mcp_gateway.errors import GatewayError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from mcp_gateway.upstream.limits import is_too_large
from mcp_gateway.upstream.live import LiveSession

#: Exceptions a call through a live session can raise that :func:`translate` understands.
CALL_ERRORS: tuple[type[BaseException], ...] = (
    MCPError,
    httpx2.HTTPError,
    OSError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    ValidationError,
)


@runtime_checkable
class ReportsFailure(Protocol):
    """A session's ``httpx2.Auth`` that can say why it could not authenticate (an OAuth grant
    that is gone, an authorization server that is down) as a fresh GatewayError, or None."""

    def failure(self) -> GatewayError | None: ...


@runtime_checkable
class ReportsSecrets(Protocol):
    """A session's ``httpx2.Auth`` that can list the credentials it sent (to mask them)."""

    def secret_values(self) -> tuple[str, ...]: ...


def auth_secrets(auth: object) -> tuple[str, ...]:
    return auth.secret_values() if isinstance(auth, ReportsSecrets) else ()


def auth_failure(auth: object) -> GatewayError | None:
    """Why the session's request authentication last failed, if it can tell."""
    return auth.failure() if isinstance(auth, ReportsFailure) else None


def translate(
    exc: BaseException,
    server: str,
    live: LiveSession,
    timeout: float,
    auth: object = None,
    mask: Callable[[str], str] = str,
) -> GatewayError:
    """The GatewayError for ``exc``; callers ``raise translate(...) from exc``.

    When the session's ``auth`` reports a failure, that is the answer: the transport only
    shows its symptom (a 401 turned into an MCP error, a connection torn down).
    An upstream's JSON-RPC error message is passed on with the session's own credentials
    (``mask``: the session's, see ``Supervisor.mask``) masked; transport failures are described
    without echoing anything the upstream sent.
    """
    failure = auth_failure(auth) if auth is not None else None
    if failure is not None:
        return failure
    if isinstance(exc, MCPError):
        if is_too_large(exc.code, exc.data):
            return UpstreamError(f"server {server!r}: {exc.message}")
        if exc.code == REQUEST_TIMEOUT:
            return UpstreamTimeout(f"server {server!r} did not answer within {timeout:g}s")
        if live.link.dead or (exc.code == CONNECTION_CLOSED and exc.message == "Connection closed"):
            return UpstreamUnavailable(
                f"server {server!r} closed the connection during the call", during_call=True
            )
        message = mask(exc.message)
        return UpstreamError(
            f"server {server!r} answered with an error: {message}",
            rpc_code=exc.code,
            rpc_data=_mask_data(exc.data, mask),
        )
    if isinstance(exc, ValidationError):
        return UpstreamError(f"server {server!r} sent a malformed result")
    return UpstreamUnavailable(
        f"server {server!r} failed during the call ({type(exc).__name__})", during_call=True
    )


def _mask_data(value: Any, mask: Callable[[str], str]) -> Any:
    """A JSON-RPC error's ``data`` with every string (keys too) masked by ``mask``."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask(str(k)): _mask_data(v, mask) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_data(v, mask) for v in value]
    return value


def mask_result(
    result: CallToolResult,
    masker: Masker,
    *,
    shared_with_others: bool = False,
    own: Collection[str] = (),
) -> CallToolResult:
    """``result`` with the session's secrets masked when it is an ``isError`` result (its text
    is the upstream's error report, which may echo them) or when other users' calls brought
    secrets to this session (``shared_with_others``: a shared process that kept one user's
    credential must not hand it to the next caller; ``own``, the caller's own values, stay
    readable there). Otherwise a successful result is the caller's own and kept whole (no
    masking cost on the hot path)."""
    if not (result.is_error or shared_with_others) or not masker:
        return result
    keep = keep_forms(own) if not result.is_error else frozenset()
    data = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return CallToolResult.model_validate(masker.mask_json(data, keep))


async def masked_result(
    result: CallToolResult, masker: Masker, shared_with_others: bool, own: Collection[str]
) -> CallToolResult:
    """``result`` masked as :func:`mask_result` decides. A small text result is masked inline
    (~50 us, cheaper than a thread hop); a large one in a worker thread: masking a 16 MiB
    answer against a few hundred long secrets takes seconds, which on the event loop would
    stall every other request for as long."""
    if not (result.is_error or shared_with_others) or not masker:
        return result
    mask = functools.partial(
        mask_result, result, masker, shared_with_others=shared_with_others, own=own
    )
    if _small(result):
        return mask()
    return await anyio.to_thread.run_sync(mask)


_INLINE_MASK_CHARS = 8 * 1024


def _small(result: CallToolResult) -> bool:
    """A result made of text parts only, short enough to mask on the event loop."""
    if result.structured_content is not None:
        return False
    size = 0
    for part in result.content:
        text = getattr(part, "text", None)
        if not isinstance(text, str):
            return False
        size += len(text)
    return size <= _INLINE_MASK_CHARS
