"""The definition of a user's external server, and the SSRF rules for its URL.

An external server is a remote Streamable HTTP server (mcp-api's ``source: external``): no
command, env or headers (a definition is shared by every user who installs it, so it must
carry nobody's credentials); each query parameter of the URL given at creation becomes a
required secret of every user (a ``query`` secret spec and a ``secretFields`` entry), the
creator's values saved as theirs, and the stored URL has no query string (mcp-api also kept
the values in every call's arguments). Its sessions are one per user (``session_scope``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mcp_gateway.domain.servers import (
    EXTERNAL_SOURCE,
    InjectAs,
    Isolation,
    SecretField,
    SecretSpec,
    ServerConfig,
    TransportType,
)
from mcp_gateway.domain.user_servers import split_url_secrets
from mcp_gateway.errors import Forbidden, InvalidRequest
from mcp_gateway.services.oauth.ssrf import SsrfGuard


async def check_external_url(guard: SsrfGuard, url: str) -> None:
    """The SSRF rules for an external server's URL, before any connection (every connection
    is checked again by its session's guarded transport). Raises InvalidRequest (credentials
    in the URL: the definition is every installer's) and BlockedDestination (400)."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("an external server's url must not embed credentials (user:pw@)")
    parsed = guard.check_url(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    await guard.resolve(parsed.host, port)


def external_definition(username: str, config: ServerConfig) -> tuple[ServerConfig, dict[str, str]]:
    """``config`` as ``username``'s external server, and the secrets taken out of its URL.
    Raises InvalidRequest naming the rule (never a value)."""
    if config.transport_type is not TransportType.STREAMABLE_HTTP or not config.url:
        raise InvalidRequest("an external server needs transportType 'streamable_http' and a url")
    if config.command or config.args or config.env or config.headers:
        raise InvalidRequest(
            "an external server has no command, args, env or headers (put credentials in URL "
            "query parameters, which become each user's own secrets, or use OAuth)"
        )
    url, values = split_url_secrets(config.url)
    fields = tuple(SecretField(n, label=n, required=True, input_type="password") for n in values)
    specs = tuple(SecretSpec(n, InjectAs.QUERY, required=True) for n in values)
    meta = dataclasses.replace(
        config.metadata,
        source=EXTERNAL_SOURCE,
        created_by=username,
        secret_fields=fields or config.metadata.secret_fields,
    )
    external = dataclasses.replace(
        config, url=url, secrets=specs, isolation=Isolation.PER_USER, metadata=meta
    )
    return external, values


def check_owner(server: ServerConfig, username: str) -> None:
    """Raise Forbidden unless ``server`` is an external server ``username`` added."""
    if server.metadata.source != EXTERNAL_SOURCE or server.metadata.created_by != username:
        raise Forbidden(
            f"only an admin or the user who added external server {server.name!r} may change it"
        )


def check_change(server: ServerConfig, changes: Mapping[str, Any]) -> str | None:
    """For an update of an external server: raise InvalidRequest when it would give it a
    command, env, headers or a URL query string (users' secrets); the new URL to check against
    the SSRF rules, if it changes."""
    if server.metadata.source != EXTERNAL_SOURCE:
        return None
    if any(changes.get(f) for f in ("command", "args", "env", "headers")):
        raise InvalidRequest("an external server has no command, args, env or headers")
    url = changes.get("url")
    if not isinstance(url, str) or url == server.url:
        return None
    if urlsplit(url).query:
        raise InvalidRequest(
            "an external server's url cannot carry a query string (query parameters are each "
            "user's secrets: declare them in secretFields)"
        )
    return url


# What the user who added an external server may change on it (admins: anything check_change
# allows): how it is described and its timeouts. Not where it is nor its OAuth template: every
# user who installed it sends their own secrets and tokens there.
OWNER_FIELDS = frozenset({"name", "startup_timeout", "call_timeout", "metadata"})
OWNER_METADATA = frozenset(
    {"display_name", "description", "homepage_url", "repository_url", "license_name"}
)


def check_owner_change(changes: Mapping[str, Any]) -> None:
    """Raise Forbidden naming the first field outside what an external server's owner may
    change."""
    metadata = changes.get("metadata") or {}
    refused = sorted((set(changes) - OWNER_FIELDS) | (set(metadata) - OWNER_METADATA))
    if refused:
        raise Forbidden(f"only an admin may change {refused[0]!r} of a server")
