"""The OAuth ``state`` parameter: sealed, bound to a browser, expiring, single-use; and the
login *ticket* that brings a browser to the gateway to start a flow.

The state is an AES-256-GCM ciphertext made with the gateway keyring under its own AAD domain
(no secret or token ciphertext can be passed off as a state, nor the reverse). It carries the
flow kind, server, username, expiry, a 128-bit random nonce, the PKCE verifier and the client
the flow registered, so any replica can finish the flow with no server-side session.
Single use: the callback takes the store lease ``oauth-state:<nonce>`` with a holder no one
else knows; a replay finds the lease held and is refused.

Browser binding (login CSRF): the browser that starts a flow gets a random secret in an
HttpOnly cookie named after the flow (:func:`cookie_name`), and only the secret's SHA-256 goes
into the state. The callback refuses a state whose cookie is missing or different, so a login
link (or an authorization URL) that Bob started cannot complete in Alice's browser and bind her
upstream account to Bob's username.

Tickets (:class:`LoginTicket`, another AAD domain) are what API callers get (the authorize
routes' redirect, ``authorizationUrl`` of a 401 ``reauth_required``): a gateway URL that, opened
in the user's browser, shows whose account is about to be linked and starts the flow there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.errors import CryptoError, Forbidden, InvalidRequest
from mcp_gateway.storage.ports import OAuthTokenStore

STATE_TTL = 600.0  # seconds
TICKET_TTL = 900.0  # seconds a login link stays usable
LOGIN_LINK_TTL = 300.0  # seconds a link from POST /auth/google/login-link stays usable
COOKIE_PREFIX = "mcpgw_oauth_"
_STATE_AAD = b"mcpgw:oauth-state:v1"
_TICKET_AAD = b"mcpgw:oauth-ticket:v1"
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
    browser_hash: str = ""  # SHA-256 (hex) of the starting browser's cookie secret
    # "gateway": the gateway exchanges the code itself; "tools": the server's own
    # auth_exchange_code tool does (Google stdio servers), given back ``tool_state``, the
    # state its auth_get_authorization_url put in the URL (never trusted to name the user).
    via: str = "gateway"
    tool_state: str | None = None

    def __repr__(self) -> str:
        return f"LoginState({self.kind!r}, {self.server!r}, {self.username!r})"


def new_verifier() -> str:
    """A PKCE code verifier: 43+ characters from a CSPRNG (RFC 7636 section 4.1)."""
    return secrets.token_urlsafe(48)


def challenge_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _seal(keyring: Keyring, data: dict[str, Any], aad: bytes) -> str:
    blob = keyring.encrypt(json.dumps(data).encode(), aad)
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")


def _open(keyring: Keyring, token: str, aad: bytes, what: str) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > _MAX_STATE_CHARS:
        raise InvalidRequest(f"missing or malformed {what}")
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(keyring.decrypt(blob, aad))
    except (binascii.Error, ValueError, TypeError, CryptoError):
        raise InvalidRequest(
            f"invalid {what} (forged, corrupted or from another gateway)"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"invalid {what}")
    return data


def seal_state(keyring: Keyring, state: LoginState) -> str:
    return _seal(keyring, asdict(state), _STATE_AAD)


def open_state(keyring: Keyring, token: str, *, kind: str, now: float | None = None) -> LoginState:
    """Decrypt and check a state. Raises InvalidRequest if forged, of another kind or expired.

    Does not consume it nor check the browser: call :func:`check_browser` and
    :func:`consume_state` before acting on it.
    """
    data = _open(keyring, token, _STATE_AAD, "OAuth state")
    try:
        state = LoginState(**data)
    except TypeError:
        raise InvalidRequest("invalid OAuth state (from another gateway version)") from None
    if state.kind != kind:
        raise InvalidRequest("invalid OAuth state (issued for another login flow)")
    if (now if now is not None else time.time()) >= state.expires_at:
        raise InvalidRequest("OAuth state expired: start the login again")
    return state


@dataclass(frozen=True, slots=True)
class StartedLogin:
    """A flow started in a browser: where to send it (``url`` at ``host``), and its state."""

    url: str
    state: LoginState
    host: str

    def __repr__(self) -> str:
        return f"StartedLogin({self.state!r}, host={self.host!r})"


# -- browser binding -------------------------------------------------------------------------


def new_browser_secret() -> str:
    """The random value a starting browser keeps in its login cookie."""
    return secrets.token_urlsafe(32)


def browser_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii", "replace")).hexdigest()


def cookie_name(state: LoginState) -> str:
    """One cookie per flow, so two logins started side by side do not overwrite each other."""
    return COOKIE_PREFIX + state.nonce


def check_browser(state: LoginState, secret: str | None) -> None:
    """Raise Forbidden unless ``secret`` (the flow's cookie) is the one the flow started with."""
    if not state.browser_hash or not secret:
        raise Forbidden(
            "this sign-in was not started in this browser (its login cookie is missing): "
            "open the login link in the browser you want to use and start again"
        )
    if not hmac.compare_digest(browser_hash(secret), state.browser_hash):
        raise Forbidden(
            "this sign-in was started in another browser (its login cookie does not match): "
            "start the login again"
        )


# -- tickets ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginTicket:
    """A link to the gateway's start page for one (flow kind, server, username)."""

    kind: str
    server: str
    username: str
    expires_at: float = field(default_factory=lambda: time.time() + TICKET_TTL)


def seal_ticket(keyring: Keyring, ticket: LoginTicket) -> str:
    return _seal(keyring, asdict(ticket), _TICKET_AAD)


def open_ticket(keyring: Keyring, token: str, *, kind: str) -> LoginTicket:
    """Raises InvalidRequest when forged, for another flow or expired."""
    data = _open(keyring, token, _TICKET_AAD, "login link")
    try:
        ticket = LoginTicket(**data)
    except TypeError:
        raise InvalidRequest("invalid login link") from None
    if ticket.kind != kind:
        raise InvalidRequest("invalid login link (issued for another login flow)")
    if time.time() >= ticket.expires_at:
        raise InvalidRequest("login link expired: ask for a new one")
    return ticket


def login_link(keyring: Keyring, public_url: str, path: str, ticket: LoginTicket) -> str:
    """The gateway URL (``public_url`` + ``path``) that starts ``ticket``'s flow in the browser
    that opens it."""
    sealed = seal_ticket(keyring, ticket)
    return f"{public_url.rstrip('/')}{path}?{urlencode({'ticket': sealed})}"


async def redeem_state(
    keyring: Keyring, store: OAuthTokenStore, token: str, cookies: Mapping[str, str], *, kind: str
) -> LoginState:
    """A callback's state, once: opened (:func:`open_state`), checked against the flow's
    cookie among ``cookies`` (:func:`check_browser`) and consumed (:func:`consume_state`).
    Raises InvalidRequest (forged, expired, another flow, replayed), Forbidden (another
    browser)."""
    state = open_state(keyring, token, kind=kind)
    check_browser(state, cookies.get(cookie_name(state)))
    await consume_state(store, state)
    return state


async def consume_state(store: OAuthTokenStore, state: LoginState) -> None:
    """Mark the state used, once, across every replica. Raises InvalidRequest on replay."""
    remaining = max(state.expires_at - time.time(), 0.0)
    holder = secrets.token_hex(16)
    if not await store.acquire_lease(f"oauth-state:{state.nonce}", holder, remaining + 60.0):
        raise InvalidRequest("OAuth state already used: start the login again")
