"""mcp-api's ``mcpOAuthTokens`` records -> the gateway's encrypted token records.

mcp-api stores, per (serverName, username): ``tokens`` (the token endpoint's JSON answer,
encrypted as one value), ``clientSecret`` and ``codeVerifier`` (encrypted), and in clear
``clientId``, ``redirectUri``, ``expiresAt``, ``tokenEndpointAuthMethod``,
``registrationMode``. The gateway keeps each secret field as its own ciphertext bound (AAD)
to (username, server, field) and the rest as ``meta``, in the layout
``services.oauth.tokens.seal`` writes (migration may not import services, so the field and
meta names are repeated here; tests read the result back through that service code).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.records import StoredOAuthTokens
from mcp_gateway.domain.servers import ServerConfig, oauth_enabled
from mcp_gateway.errors import CryptoError, InvalidRequest
from mcp_gateway.migration.mapping import to_epoch
from mcp_gateway.migration.mcp_api_format import decrypt_mcp_api
from mcp_gateway.migration.report import Action, MigrationReport
from mcp_gateway.storage.ports import OAuthTokenStore

AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")


def _plain_fields(key: bytes, doc: Mapping[str, Any]) -> dict[str, str]:
    """The secret fields in clear. Raises CryptoError / InvalidRequest (never quoting)."""
    raw = decrypt_mcp_api(key, doc.get("tokens"))
    try:
        tokens = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest("decrypted tokens are not JSON") from exc
    if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str):
        raise InvalidRequest("decrypted tokens have no access_token")
    fields = {"access_token": tokens["access_token"]}
    if isinstance(tokens.get("refresh_token"), str) and tokens["refresh_token"]:
        fields["refresh_token"] = tokens["refresh_token"]
    for mcp_api_name, ours in (
        ("clientSecret", "client_secret"),
        ("codeVerifier", "code_verifier"),
    ):
        if doc.get(mcp_api_name):
            fields[ours] = decrypt_mcp_api(key, doc[mcp_api_name])
    fields["_token_type"] = str(tokens.get("token_type") or "Bearer")
    fields["_scope"] = str(tokens.get("scope") or "")
    return fields


def _meta(doc: Mapping[str, Any], token_type: str, scope: str) -> dict[str, Any]:
    method = doc.get("tokenEndpointAuthMethod")
    return {
        "token_type": token_type,
        "scopes": scope.split(),
        "client_id": doc.get("clientId") if isinstance(doc.get("clientId"), str) else None,
        "auth_method": method if method in AUTH_METHODS else "none",
        "redirect_uri": doc.get("redirectUri") if isinstance(doc.get("redirectUri"), str) else None,
        "resource": None,
        "token_endpoint": None,
        "auth_server": None,
        "registration_mode": doc.get("registrationMode"),
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
        meta = _meta(doc, fields.pop("_token_type"), fields.pop("_scope"))
        expires_at = to_epoch(doc.get("expiresAt"))
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
            updated = to_epoch(doc.get("updatedAt")) or time.time()
            record = StoredOAuthTokens(
                config.name, username, sealed, expires_at, meta, "valid", updated
            )
            await target.put_tokens(record)
        note = None
        if not oauth_enabled(config):
            note = "stored; the server has no oauth block in the gateway, so they are unused"
        report.add("oauth_tokens", label, Action.CREATE, note)
