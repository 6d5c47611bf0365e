"""A user's install of an external server as a POST/PUT body changes it.

:class:`InstallInput` is the body (None: not given); :func:`changed_install` applies it to the
current install (or a new one: ``enabled`` defaults to true), sealing a new OAuth client secret
and, when the OAuth client (id, secret or scopes) changed, putting the install back to its
initial authState. What else a change closes or deletes is
:class:`~mcp_gateway.services.user_servers.UserServerService`'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.domain.user_servers import UserServerInstall, initial_auth_state
from mcp_gateway.services.user_oauth_clients import UserOAuthClients


@dataclass(frozen=True, slots=True)
class InstallInput:
    """A POST/PUT install body; None: not given (POST: the default, PUT: kept)."""

    enabled: bool | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)  # "": remove it
    scopes: tuple[str, ...] | None = None


def changed_install(
    server: ServerConfig,
    username: str,
    current: UserServerInstall | None,
    data: InstallInput,
    clients: UserOAuthClients,
    *,
    now: float,
) -> tuple[UserServerInstall, bool]:
    """``current`` (None: a new install) with ``data`` applied, and whether an existing
    install's OAuth client changed (its authState is then back to the initial one; the caller
    deletes the user's tokens and session)."""
    base = current or UserServerInstall(
        server.name, username, auth_state=initial_auth_state(server), created_at=now
    )
    secret = base.client_secret
    secret_changed = False
    if data.client_secret is not None:
        old = clients.secret(base)
        secret_changed = (data.client_secret or None) != old
        secret = (
            clients.seal(username, server.name, data.client_secret) if secret_changed else secret
        )
    client_id = data.client_id if data.client_id is not None else base.client_id
    scopes = data.scopes if data.scopes is not None else base.scopes
    client_changed = current is not None and (
        secret_changed or client_id != base.client_id or scopes != base.scopes
    )
    enabled = base.enabled if data.enabled is None else data.enabled
    install = dataclasses.replace(
        base,
        enabled=enabled,
        client_id=client_id,
        client_secret=secret,
        scopes=tuple(scopes),
        updated_at=now,
    )
    if client_changed:
        install = dataclasses.replace(
            install, auth_state=initial_auth_state(server), last_auth_error=None
        )
    return install, client_changed
