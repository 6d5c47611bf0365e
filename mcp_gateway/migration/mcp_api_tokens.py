"""mcp-api's ``mcpOAuthTokens`` records -> the gateway's encrypted token records.

mcp-api (``src/services/oauthTokens.ts``) stores one record per (serverName, username):
``accessToken``, ``refreshToken``, ``clientSecret`` and ``codeVerifier`` each encrypted (its
``hex(iv):hex(tag):hex(ct)``), and in clear ``tokenType``, ``expiresAt`` (a date), ``scopes``
(a list), ``clientId``, ``redirectUri``, ``tokenEndpointAuthMethod``, ``registrationMode``,
``createdAt``, ``updatedAt``; optional fields it did not set are null. The gateway keeps each
secret field as its own ciphertext bound (AAD) to (username, server, field) and the rest as
``meta``, in the layout ``services.oauth.tokens.seal`` writes (migration may not import
services, so the names are repeated here; tests read the result back with that code).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.records import StoredOAuthTokens
from mcp_gateway.domain.servers import ServerConfig, oauth_enabled, wire_epoch
from mcp_gateway.errors import CryptoError, InvalidRequest
from mcp_gateway.migration.mcp_api_format import AUTH_METHODS, decrypt_mcp_api, text_field
from mcp_gateway.migration.report import Action, MigrationReport
from mcp_gateway.storage.ports import OAuthTokenStore

_SECRET_FIELDS = (
    ("accessToken", "access_token"),
    ("refreshToken", "refresh_token"),
    ("clientSecret", "client_secret"),
    ("codeVerifier", "code_verifier"),
)


def _plain_fields(key: bytes, doc: Mapping[str, Any]) -> dict[str, str]:
    """The secret fields in clear. Raises CryptoError / InvalidRequest (never quoting)."""
    if not doc.get("accessToken"):
        raise InvalidRequest("token record without an accessToken")
    return {
        ours: decrypt_mcp_api(key, doc[theirs])
        for theirs, ours in _SECRET_FIELDS
        if doc.get(theirs)
    }


def token_meta(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The clear fields of an mcp-api token (or DCR client) record as the gateway's ``meta``."""
    scopes = doc.get("scopes")
    method = doc.get("tokenEndpointAuthMethod")
    return {
        "token_type": text_field(doc, "tokenType") or "Bearer",
        "scopes": [str(s) for s in scopes] if isinstance(scopes, list) else [],
        "client_id": text_field(doc, "clientId"),
        "auth_method": method if method in AUTH_METHODS else "none",
        "redirect_uri": text_field(doc, "redirectUri"),
        "resource": None,
        "token_endpoint": None,
        "auth_server": None,
        "registration_mode": text_field(doc, "registrationMode"),
    }


async def import_tokens(
    docs: list[dict[str, Any]],
    *,
    servers: Mapping[str, ServerConfig],
    target: OAuthTokenStore,
    keyring: Keyring,
    key: bytes,
    report: MigrationReport,
) -> None:
    for doc in docs:
        server, username = doc.get("serverName"), doc.get("username")
        label = f"{username} {server}"
        config = servers.get(str(server))
        if config is None or not isinstance(username, str):
            reason = f"its server {server!r} was not carried"
            report.add("oauth_tokens", label, Action.NOT_CARRIED, reason)
            continue
        try:
            validate_username(username)
        except InvalidRequest as exc:
            report.add("oauth_tokens", label, Action.NOT_CARRIED, exc.message)
            continue
        try:
            fields = _plain_fields(key, doc)
        except (CryptoError, InvalidRequest) as exc:
            report.add("oauth_tokens", label, Action.FAILED, exc.message)
            continue
        meta = token_meta(doc)
        expires_at = wire_epoch(doc.get("expiresAt"))
        existing = await target.get_tokens(config.name, username)
        if existing is not None:
            try:
                held = {
                    name: keyring.decrypt_token(username, config.name, name, blob)
                    for name, blob in existing.fields.items()
                }
            except CryptoError:
                held = {}
            if held == fields and existing.expires_at == expires_at:
                report.add("oauth_tokens", label, Action.UNCHANGED)
            else:
                reason = "the gateway holds other tokens for this user: kept"
                report.add("oauth_tokens", label, Action.CONFLICT, reason)
            continue
        if not report.dry_run:
            sealed = {
                name: keyring.encrypt_token(username, config.name, name, value)
                for name, value in fields.items()
            }
            updated = wire_epoch(doc.get("updatedAt")) or time.time()
            record = StoredOAuthTokens(
                config.name, username, sealed, expires_at, meta, "valid", updated
            )
            await target.put_tokens(record)
        note = None
        if not oauth_enabled(config):
            note = "stored; no oauth block: that user's calls get a session of their own with them"
        report.add("oauth_tokens", label, Action.CREATE, note)
