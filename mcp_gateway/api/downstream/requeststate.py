"""The 2026-07-28 ``requestState`` of the gateway's input-required results, sealed with the
gateway's own keyring (AES-256-GCM, ``crypto/keyring.py``), so that every replica sharing the
keys accepts it and nobody else can read or forge it.

The SDK's :class:`~mcp.server.request_state.RequestStateBoundary` does the protocol part: it
seals every outgoing ``requestState`` in a claims envelope (expiry, method, tool name and
arguments digest, audience, principal) and verifies every echo before the handler runs; a
tampered, expired, replayed-elsewhere or another principal's state is refused with -32602
"Invalid or expired requestState". This module gives it the gateway's codec and principal (the
API key id, the username and the endpoint of the request, as legacy sessions are bound).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.request_state import (
    InvalidRequestState,
    RequestStateBoundary,
    RequestStateSecurity,
)

from mcp_gateway.api.downstream.caller import caller_of
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.errors import CryptoError

_AAD = b"mcpgw/mcp-request-state/v1"
_PREFIX = "g1."
STATE_TTL = 600.0  # seconds a client has to answer one round


class KeyringCodec:
    """``RequestStateCodec`` over the gateway's keyring (read when used: the runtime opens
    it after the app is built)."""

    def __init__(self, keyring: Callable[[], Keyring]) -> None:
        self._keyring = keyring

    def seal(self, payload: bytes) -> str:
        blob = self._keyring().encrypt(payload, _AAD)
        return _PREFIX + base64.urlsafe_b64encode(blob).decode().rstrip("=")

    def unseal(self, token: str) -> bytes:
        if not token.startswith(_PREFIX):
            raise InvalidRequestState("malformed")
        text = token[len(_PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            return self._keyring().decrypt(blob, _AAD)
        except (binascii.Error, ValueError, CryptoError) as exc:
            raise InvalidRequestState("seal") from exc


def principal_of(ctx: ServerRequestContext[Any, Any]) -> str:
    """What a state is bound to: API key id, username and endpoint (NUL-separated)."""
    caller = caller_of(getattr(ctx.request, "scope", None))
    return "\x00".join((caller.principal.key_id, caller.username, caller.endpoint))


def boundary(keyring: Callable[[], Keyring]) -> RequestStateBoundary:
    security = RequestStateSecurity(
        codec=KeyringCodec(keyring), ttl=STATE_TTL, bind_principal=principal_of
    )
    return RequestStateBoundary(security, default_audience="mcp-gateway")
