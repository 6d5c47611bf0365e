"""The environment a child process starts with: allow-lists, never the gateway's own secrets.

An upstream server sees a small allow-list of the gateway's variables (enough to find
executables, a home and a locale), then the server definition's ``env``, then (per-user
sessions) that user's injected secrets. An installer (npm/pip/uv) sees a similar list plus the
proxy and TLS-trust variables it needs to reach a registry. Nothing else reaches either: not
``MCPGW_*``, ``SECRETS_KEY``, ``MONGO_*``, ``PIP_INDEX_URL`` (it may hold a token), cloud
credentials or API keys the gateway itself was started with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Chosen to let node/python/uv-launched servers start normally; deliberately no proxy, cloud or
# credential variables. TERM is left out (children are not terminals).
INHERITED_ENV_VARS: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
)

INSTALLER_ENV_VARS: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    # TLS trust (corporate proxies): without these, installs fail behind an intercepting proxy.
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "UV_NATIVE_TLS",
)


def _inherited(names: tuple[str, ...], source: Mapping[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for key in names:
        value = source.get(key)
        if value is not None and not value.startswith("()"):  # skip exported shell functions
            env[key] = value
    return env


def child_environment(
    server_env: Mapping[str, str],
    user_env: Mapping[str, str] | None = None,
    *,
    parent: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """An upstream server's environment: the allow-list, then ``server_env``, then ``user_env``."""
    env = _inherited(INHERITED_ENV_VARS, os.environ if parent is None else parent)
    env.update(server_env)
    if user_env:
        env.update(user_env)
    return env


def minimal_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An installer's environment: its allow-list plus ``extra`` (which wins)."""
    env = _inherited(INSTALLER_ENV_VARS, os.environ)
    env.update(extra or {})
    return env
