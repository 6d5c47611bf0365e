"""Where the shared OAuth client of a dynamic registration (RFC 7591) is kept.

One client per (issuer, gateway origin, redirect URI), shared by every server and user behind
that issuer (mcp-api's ``mcpDcrClients`` key). It lives in the store's OAuth token records
under a reserved owner that no server name can be (names never contain ``/``): the
registration service writes it there and the mcp-api migration carries mcp-api's there.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

OWNER_PREFIX = "/oauth-client/"
KIND = "dcr_client"  # ``meta["kind"]`` of such a record


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def registration_owner(issuer: str, origin: str, redirect_uri: str) -> str:
    """The reserved token-record owner of the shared DCR client for this key."""
    digest = hashlib.sha256(f"{issuer}\n{origin}\n{redirect_uri}".encode()).hexdigest()
    return OWNER_PREFIX + digest[:48]
