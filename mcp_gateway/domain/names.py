"""Name rules. Server names become directory names and secret scopes, so they are strict."""

from __future__ import annotations

import re

from mcp_gateway.errors import InvalidRequest

SERVER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Secret names become tool-argument names, env var names or header names.
SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
# Usernames are opaque tenant ids chosen by the platform; keep them printable and bounded.
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,128}$")

DEFAULT_USERNAME = "default"


def validate_server_name(name: str) -> str:
    """Return ``name`` or raise :class:`InvalidRequest` naming the rule it breaks."""
    if not isinstance(name, str) or not SERVER_NAME_RE.fullmatch(name):
        raise InvalidRequest(
            "invalid server name: use 1-64 letters, digits, '_' or '-', starting with a letter "
            "or digit"
        )
    return name


def validate_secret_name(name: str) -> str:
    if not isinstance(name, str) or not SECRET_NAME_RE.fullmatch(name):
        raise InvalidRequest(
            "invalid secret name: use 1-128 letters, digits, '_', '.' or '-', starting with a "
            "letter or '_'"
        )
    return name


def validate_username(name: str) -> str:
    if not isinstance(name, str) or not USERNAME_RE.fullmatch(name):
        raise InvalidRequest(
            "invalid username: use 1-128 letters, digits or '_', '.', '@', '+', '-'"
        )
    return name
