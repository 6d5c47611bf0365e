"""The OAuth ``state`` parameter: sealed, bound, expiring, single-use.

The state is an AES-256-GCM ciphertext made with the gateway keyring under its own AAD domain
(no secret or token ciphertext can be passed off as a state, nor the reverse). It carries the
flow kind, server, username, expiry, a 128-bit random nonce, the PKCE verifier and the client
the flow registered, so any replica can finish the flow with no server-side session.
Single use: the callback takes the store lease ``oauth-state:<nonce>`` with a holder no one
else knows; a replay finds the lease held and is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.errors import CryptoError, InvalidRequest
from mcp_gateway.storage.ports import OAuthTokenStore

STATE_TTL = 600.0  # seconds
_STATE_AAD = b"mcpgw:oauth-state:v1"
_MAX_STATE_CHARS = 8192


@dataclass(frozen=True, slots=True)
class LoginState:
    """What a login flow needs to survive the round trip. ``repr`` hides the secrets."""

    kind: str  # "mcp" (upstream MCP server) | "google"
    server: str
    username: str
    code_verifier: str
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    expires_at: float = field(default_factory=lambda: time.time() + STATE_TTL)
    client_id: str | None = None
    client_secret: str | None = None
    auth_method: str = "none"
    redirect_uri: str = ""
    auth_server: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"LoginState({self.kind!r}, {self.server!r}, {self.username!r})"


def new_verifier() -> str:
    """A PKCE code verifier: 43+ characters from a CSPRNG (RFC 7636 section 4.1)."""
    return secrets.token_urlsafe(48)


def challenge_s256(verifier: str) -> str:
    from hashlib import sha256

    digest = sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def seal_state(keyring: Keyring, state: LoginState) -> str:
    blob = keyring.encrypt(json.dumps(asdict(state)).encode(), _STATE_AAD)
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")


def open_state(keyring: Keyring, token: str, *, kind: str, now: float | None = None) -> LoginState:
    """Decrypt and check a state. Raises InvalidRequest if forged, of another kind or expired.

    Does not consume it: call :func:`consume_state` before acting on it.
    """
    if not isinstance(token, str) or not token or len(token) > _MAX_STATE_CHARS:
        raise InvalidRequest("missing or malformed OAuth state")
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(keyring.decrypt(blob, _STATE_AAD))
        state = LoginState(**data)
    except (binascii.Error, ValueError, TypeError, CryptoError):
        raise InvalidRequest(
            "invalid OAuth state (forged, corrupted or from another gateway)"
        ) from None
    if state.kind != kind:
        raise InvalidRequest("invalid OAuth state (issued for another login flow)")
    if (now if now is not None else time.time()) >= state.expires_at:
        raise InvalidRequest("OAuth state expired: start the login again")
    return state


async def consume_state(store: OAuthTokenStore, state: LoginState) -> None:
    """Mark the state used, once, across every replica. Raises InvalidRequest on replay."""
    remaining = max(state.expires_at - time.time(), 0.0)
    holder = secrets.token_hex(16)
    if not await store.acquire_lease(f"oauth-state:{state.nonce}", holder, remaining + 60.0):
        raise InvalidRequest("OAuth state already used: start the login again")
