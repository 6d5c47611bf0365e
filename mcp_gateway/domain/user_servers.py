"""Servers of a user's own: per-user installs and external servers (mcp-api's ``/mcp/user/*``).

A *platform* server is registered by an operator and used by everyone it is enabled for. An
*external* server (``source: external``) is a remote Streamable HTTP server a user added;
every user who wants it installs it (:class:`UserServerInstall`) and connects it with their own
OAuth grant and secrets. Pure rules and frozen records here, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from mcp_gateway.domain.servers import EXTERNAL_SOURCE, InjectAs, ServerConfig, oauth_enabled
from mcp_gateway.errors import InvalidRequest

# mcp-api's authState values (it never sets ``error``; neither does the gateway).
NOT_REQUIRED = "not_required"
NOT_CONNECTED = "not_connected"
CONNECTED = "connected"
REAUTH_REQUIRED = "reauth_required"

# mcp-api's limits on the secrets an external server's URL may declare.
MAX_URL_SECRETS = 5
URL_SECRET_NAME = re.compile(r"[A-Za-z_]\w{0,49}", re.ASCII)

# The OAuth token field name (AAD) under which an install's client secret is encrypted.
CLIENT_SECRET_FIELD = "install_client_secret"


@dataclass(frozen=True, slots=True)
class UserServerInstall:
    """One user's install of one server (mcp-api's ``mcpUserServerInstalls`` document).

    ``client_secret`` is the ciphertext of the user's OAuth client secret (keyring, AAD
    (username, server, :data:`CLIENT_SECRET_FIELD`)); mcp-api kept it in plaintext.
    ``tools`` is this user's own tool list (MCP JSON) from their last refresh: mcp-api kept one
    list for every user.
    """

    server: str
    username: str
    enabled: bool = True
    auth_state: str = NOT_CONNECTED
    client_id: str | None = None
    client_secret: bytes | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    last_auth_error: str | None = None
    tools: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    created_at: float = 0.0
    updated_at: float = 0.0


def is_external(server: ServerConfig) -> bool:
    return server.metadata.source == EXTERNAL_SOURCE


def initial_auth_state(server: ServerConfig) -> str:
    return NOT_CONNECTED if oauth_enabled(server) else NOT_REQUIRED


def split_url_secrets(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its query string, and each query parameter as a secret (mcp-api: every
    query parameter of an external server's URL is a required password field; the stored URL
    never holds them). The fragment is dropped too. Raises InvalidRequest naming the rule (never
    a value): at most :data:`MAX_URL_SECRETS` parameters, names ``[A-Za-z_]\\w{0,49}``, no
    repeated or empty ones."""
    parts = urlsplit(url)
    secrets: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if not URL_SECRET_NAME.fullmatch(name):
            raise InvalidRequest(
                "url: a query parameter name must match [A-Za-z_]\\w{0,49} (query parameters "
                "become secrets of the user)"
            )
        if name in secrets:
            raise InvalidRequest(f"url: query parameter {name!r} is repeated")
        if not value:
            raise InvalidRequest(f"url: query parameter {name!r} has no value")
        secrets[name] = value
    if len(secrets) > MAX_URL_SECRETS:
        raise InvalidRequest(f"url: at most {MAX_URL_SECRETS} query parameters (secrets)")
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return clean, secrets


def declared_names(server: ServerConfig) -> frozenset[str]:
    """The secret names a user may save for ``server`` (mcp-api: ``secretFields`` names,
    ``secretNames``; the gateway's secret specs are its ``secretNames``)."""
    return frozenset(
        {f.name for f in server.metadata.secret_fields} | {s.name for s in server.secrets}
    )


def query_secret_names(server: ServerConfig) -> tuple[str, ...]:
    return tuple(s.name for s in server.secrets if s.inject_as is InjectAs.QUERY)
