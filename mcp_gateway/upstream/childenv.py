"""The environment of an upstream child process.

A child sees a small allow-list of the gateway's variables (enough to find executables, a home
and a locale), then the server definition's ``env``, then (per-user sessions) that user's
injected secrets. Nothing else reaches it: not ``MCPGW_*``, ``SECRETS_KEY``, ``MONGO_*``, cloud
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


def child_environment(
    server_env: Mapping[str, str],
    user_env: Mapping[str, str] | None = None,
    *,
    parent: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Allow-listed parent variables, overlaid by ``server_env`` then ``user_env``."""
    source = os.environ if parent is None else parent
    env: dict[str, str] = {}
    for key in INHERITED_ENV_VARS:
        value = source.get(key)
        if value is not None and not value.startswith("()"):  # skip exported shell functions
            env[key] = value
    env.update(server_env)
    if user_env:
        env.update(user_env)
    return env
