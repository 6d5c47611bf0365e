"""mcp-api's shared DCR clients (``mcpDcrClients``) -> the gateway's shared DCR client records.

mcp-api (``src/services/dcrClients.ts``) keeps one registration per (``issuer``,
``publicApiOrigin``, ``redirectUri``) with ``clientId``, ``tokenEndpointAuthMethod``,
``registrationEndpoint``, ``clientSecretExpiresAt`` (epoch seconds; 0 or absent: never) in
clear and ``clientSecret`` / ``registrationAccessToken`` encrypted. The gateway keeps the same
key (:mod:`mcp_gateway.domain.dcr_clients`) in the layout the registration service reads
(``services/oauth/registration.py``): the clear fields as :func:`.mcp_api_tokens.token_meta`
lays out a token record's, plus the registration's ``kind``, ``issuer`` and endpoint; the tests
read the result back with the service's own code. The registration access
token is not carried: the gateway never updates or deletes a registration at the AS.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.dcr_clients import KIND, origin_of, registration_owner
from mcp_gateway.domain.records import StoredOAuthTokens
from mcp_gateway.domain.servers import ServerConfig, wire_epoch
from mcp_gateway.errors import CryptoError
from mcp_gateway.migration.mcp_api_format import decrypt_mcp_api, text_field
from mcp_gateway.migration.mcp_api_tokens import token_meta
from mcp_gateway.migration.report import Action, MigrationReport
from mcp_gateway.storage.ports import OAuthTokenStore


def _expiry(doc: Mapping[str, Any]) -> float | None:
    value = doc.get("clientSecretExpiresAt")
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _token_endpoint(issuer: str, servers: Mapping[str, ServerConfig]) -> str | None:
    """The token endpoint the carried servers' oauthTemplates give ``issuer`` (one, or None):
    the gateway hands a shared client only to a template with the endpoints it is bound to."""
    found = {
        template.get("tokenEndpoint")
        for config in servers.values()
        if isinstance(template := config.metadata.oauth_template, dict)
        and template.get("authorizationServerIssuer") == issuer
    }
    return found.pop() if len(found) == 1 and isinstance(next(iter(found)), str) else None


async def import_dcr_clients(
    docs: list[dict[str, Any]],
    *,
    servers: Mapping[str, ServerConfig],
    target: OAuthTokenStore,
    keyring: Keyring,
    key: bytes,
    report: MigrationReport,
) -> None:
    for doc in docs:
        issuer, redirect = text_field(doc, "issuer"), text_field(doc, "redirectUri")
        client_id = text_field(doc, "clientId")
        label = f"{issuer} {redirect}"
        if issuer is None or redirect is None or client_id is None:
            reason = "no issuer, redirectUri or clientId"
            report.add("dcr_client", label, Action.NOT_CARRIED, reason)
            continue
        try:
            secret = decrypt_mcp_api(key, doc["clientSecret"]) if doc.get("clientSecret") else None
        except CryptoError as exc:
            report.add("dcr_client", label, Action.FAILED, exc.message)
            continue
        token_endpoint = _token_endpoint(issuer, servers)
        if token_endpoint is None:
            reason = "no carried server's oauthTemplate names one token endpoint for its issuer"
            report.add("dcr_client", label, Action.NOT_CARRIED, reason)
            continue
        origin = origin_of(text_field(doc, "publicApiOrigin") or redirect)
        owner = registration_owner(issuer, origin, redirect)
        meta = {
            **token_meta(doc),
            "kind": KIND,
            "issuer": issuer,
            "registration_endpoint": text_field(doc, "registrationEndpoint"),
            "token_endpoint": token_endpoint,
        }
        existing = await target.get_tokens(owner, "")
        if existing is not None:
            held = existing.meta.get("client_id")
            if held == client_id:
                report.add("dcr_client", label, Action.UNCHANGED)
            else:
                reason = "the gateway registered its own client for this key: kept"
                report.add("dcr_client", label, Action.CONFLICT, reason)
            continue
        if not report.dry_run:
            fields = {}
            if secret:
                fields["client_secret"] = keyring.encrypt_token("", owner, "client_secret", secret)
            updated = wire_epoch(doc.get("updatedAt")) or time.time()
            record = StoredOAuthTokens(owner, "", fields, _expiry(doc), meta, "valid", updated)
            await target.put_tokens(record)
        report.add("dcr_client", label, Action.CREATE)
