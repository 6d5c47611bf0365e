"""Server definition rules: what a definition must satisfy before it is stored, and how a
partial update applies to one (no I/O but a PATH look-up).

:func:`validate_server` checks the cross-field rules of a definition, :func:`check_command`
refuses a stdio server whose command cannot be found, :func:`updatable_changes` and
:func:`apply_changes` turn a partial update into a new definition (only :data:`UPDATABLE`
fields), and :data:`COMMAND_FIELDS` are those whose change needs the command looked up again.
:class:`~mcp_gateway.services.servers.ServerService` applies them on every write.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mcp_gateway.domain.names import validate_server_name
from mcp_gateway.domain.servers import ServerConfig, apply_secret_names
from mcp_gateway.errors import InvalidRequest
from mcp_gateway.services.injection import check_secret_specs

# Fields a partial update may change (the name is the identity and never changes), and
# ``secret_names`` (mcp-api's secretNames, see ``domain.servers.apply_secret_names``).
UPDATABLE = frozenset(f.name for f in dataclasses.fields(ServerConfig)) - {"name"} | {
    "secret_names"
}
# Fields whose change needs the command looked up again.
COMMAND_FIELDS = ("command", "cwd", "env", "transport_type")


def validate_server(server: ServerConfig) -> ServerConfig:
    """Check a definition's cross-field rules (no I/O). Raises InvalidRequest naming the
    problem."""
    validate_server_name(server.name)
    if server.is_http:
        parts = urlsplit(server.url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidRequest(f"server {server.name!r}: an HTTP transport needs an http(s) url")
    elif not server.command:
        raise InvalidRequest(f"server {server.name!r}: the stdio transport needs a command")
    check_secret_specs(server)
    return server


def check_command(server: ServerConfig) -> None:
    """Refuse a stdio server whose command cannot be found: looked up like the child would
    (the definition's own ``PATH`` if it sets one, a relative path against ``cwd``), never run.
    Raises InvalidRequest naming the command."""
    command = server.command
    if server.is_http or not command:
        return
    if os.sep in command:
        path = command if os.path.isabs(command) else os.path.join(server.cwd or ".", command)
        found = shutil.which(path)
    else:
        found = shutil.which(command, path=server.env.get("PATH"))
    if found is None:
        where = "" if os.sep in command else " on PATH"
        raise InvalidRequest(
            f"server {server.name!r}: command {command!r} not found{where} (or not executable)",
            details=[{"field": "command", "error": "not found"}],
        )


def updatable_changes(name: str, changes: Mapping[str, Any]) -> Mapping[str, Any]:
    """``changes`` to server ``name`` without its own name sent back (not a change). Raises
    InvalidRequest naming the fields a partial update may not change."""
    if changes.get("name") == name:  # the same name, sent back: not a change
        changes = {k: v for k, v in changes.items() if k != "name"}
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise InvalidRequest(f"cannot update field(s): {', '.join(sorted(unknown))}")
    return changes


def apply_changes(current: ServerConfig, changes: Mapping[str, Any]) -> ServerConfig:
    """``current`` with a partial update applied (snake_case field -> value; ``metadata`` may
    be a mapping of the ServerMetadata fields to change; ``secret_names`` declares mcp-api's
    injected secrets), validated. Raises InvalidRequest."""
    fields = dict(changes)
    meta = fields.get("metadata")
    if isinstance(meta, Mapping):
        fields["metadata"] = dataclasses.replace(current.metadata, **meta)
    if "secret_names" in fields:
        fields["secrets"] = apply_secret_names(
            fields.pop("secret_names"),
            fields.get("secrets", current.secrets),
            keep_others="secrets" in fields,
        )
    return validate_server(dataclasses.replace(current, **fields))
