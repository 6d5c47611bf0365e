"""mcp-api's per-user installs (``mcpUserServerInstalls``) into the gateway's installs.

Only installs of external servers are carried (mcp-api treats every platform server as
installed, so its records for them mean nothing). mcp-api keeps ``oauthClientSecret`` in
plaintext: it is encrypted with the gateway's keyring here and never appears in the report.
``enabled`` is true only when mcp-api stored ``true`` (its own reading). A re-run compares
(the client secret as plaintext) and keeps the gateway's record on a difference.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.names import validate_username
from mcp_gateway.domain.servers import ServerConfig, wire_epoch
from mcp_gateway.domain.user_servers import (
    CLIENT_SECRET_FIELD,
    CONNECTED,
    NOT_CONNECTED,
    NOT_REQUIRED,
    REAUTH_REQUIRED,
    UserServerInstall,
    initial_auth_state,
    is_external,
)
from mcp_gateway.errors import CryptoError, InvalidRequest
from mcp_gateway.migration.mcp_api_format import text_field
from mcp_gateway.migration.report import Action, MigrationReport
from mcp_gateway.storage.ports import UserInstallStore

_STATES = (NOT_REQUIRED, NOT_CONNECTED, CONNECTED, REAUTH_REQUIRED)


def _plain_secret(keyring: Keyring, install: UserServerInstall) -> str | None:
    if install.client_secret is None:
        return None
    try:
        return keyring.decrypt_token(
            install.username, install.server, CLIENT_SECRET_FIELD, install.client_secret
        )
    except CryptoError:
        return "\x00undecryptable"  # never equal to a source value: a conflict, kept


async def import_installs(
    docs: list[dict[str, Any]],
    *,
    servers: Mapping[str, ServerConfig],
    target: UserInstallStore,
    keyring: Keyring,
    report: MigrationReport,
) -> None:
    for doc in docs:
        server, username = doc.get("serverName"), doc.get("username")
        label = f"{username} {server}"
        config = servers.get(str(server))
        if config is None or not isinstance(username, str):
            reason = f"its server {server!r} was not carried"
            report.add("user_install", label, Action.NOT_CARRIED, reason)
            continue
        if not is_external(config):
            reason = "not an external server: every user has platform servers (mcp-api too)"
            report.add("user_install", label, Action.NOT_CARRIED, reason)
            continue
        try:
            validate_username(username)
        except InvalidRequest as exc:
            report.add("user_install", label, Action.NOT_CARRIED, exc.message)
            continue
        secret = text_field(doc, "oauthClientSecret")
        scopes = doc.get("oauthScopes")
        state = doc.get("authState")
        now = time.time()
        install = UserServerInstall(
            config.name,
            username,
            enabled=doc.get("enabled") is True,
            auth_state=state if state in _STATES else initial_auth_state(config),
            client_id=text_field(doc, "oauthClientId"),
            scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
            last_auth_error=text_field(doc, "lastAuthError"),
            created_at=wire_epoch(doc.get("createdAt")) or now,
            updated_at=wire_epoch(doc.get("updatedAt")) or now,
        )
        existing = await target.get_install(config.name, username)
        if existing is not None:
            same = (existing.enabled, existing.client_id, existing.scopes) == (
                install.enabled,
                install.client_id,
                install.scopes,
            ) and _plain_secret(keyring, existing) == secret
            if same:
                report.add("user_install", label, Action.UNCHANGED)
            else:
                reason = "the gateway holds another install for this user: kept"
                report.add("user_install", label, Action.CONFLICT, reason)
            continue
        if not report.dry_run:
            blob = (
                keyring.encrypt_token(username, config.name, CLIENT_SECRET_FIELD, secret)
                if secret
                else None
            )
            await target.put_install(dataclasses.replace(install, client_secret=blob))
        note = "its OAuth client secret is now encrypted" if secret else None
        report.add("user_install", label, Action.CREATE, note)
