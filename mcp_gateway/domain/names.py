"""Name rules, and the slug that turns a server name into a safe directory name.

Server names are what mcp-api accepted: 1-64 characters, dots, spaces and mixed case welcome,
but not ``.`` or ``..``, no ``/`` or ``\\``, no control characters (nor line separators or lone
surrogates, which no store or log can carry). Anything that becomes a path uses
:func:`server_slug`, never the name itself.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from mcp_gateway.errors import InvalidRequest

MAX_SERVER_NAME = 64
MAX_USERNAME = 256
# Control characters (Unicode category Cc), line/paragraph separators and lone surrogates.
_FORBIDDEN = r"\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"  # regex escapes, JSON-safe
_FORBIDDEN_RE = re.compile(f"[{_FORBIDDEN}]")
# The allowed characters and length (OpenAPI's pattern: no lookahead); SERVER_NAME_RE adds the
# '.'/'..' exclusion and is the whole rule.
SERVER_NAME_PATTERN = rf"^[^/\\{_FORBIDDEN}]{{1,{MAX_SERVER_NAME}}}$"
SERVER_NAME_RE = re.compile(r"^(?!\.\.?$)" + SERVER_NAME_PATTERN[1:])
# Secret names become tool-argument names, env var names or header names.
SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")

DEFAULT_USERNAME = "default"

# A slug that is the name itself: lowercase ASCII, starting with a letter or digit, and never
# ending like a hashed slug (so an identity slug can never equal another name's hashed slug).
_IDENTITY_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_HASH_LEN = 10
_HASHED_TAIL = re.compile(rf"-[0-9a-f]{{{_HASH_LEN}}}$")
_SLUG_BASE_MAX = 40


def validate_server_name(name: str) -> str:
    """Return ``name`` or raise :class:`InvalidRequest` naming the rule it breaks."""
    if not isinstance(name, str) or not name:
        raise InvalidRequest("invalid server name: it must be a non-empty string")
    if len(name) > MAX_SERVER_NAME:
        raise InvalidRequest(f"invalid server name: at most {MAX_SERVER_NAME} characters")
    if name in (".", ".."):
        raise InvalidRequest("invalid server name: '.' and '..' are not server names")
    if "/" in name or "\\" in name:
        raise InvalidRequest("invalid server name: it must not contain '/' or '\\'")
    if _FORBIDDEN_RE.search(name):
        raise InvalidRequest("invalid server name: it must not contain control characters")
    return name


# First path segments the REST API uses (or will use) under /mcp/: a server of that name could not
# be reached at /mcp/{server} (design.md: REST paths under /mcp/ are reserved server names).
RESERVED_SERVER_NAMES = frozenset(
    {"tool", "tools", "server", "servers", "user", "users", "external", "toolset", "toolsets"}
)


def is_reserved_server_name(name: str) -> bool:
    """Whether ``name`` is a REST path segment under ``/mcp/`` (compared without case)."""
    return name.strip().lower() in RESERVED_SERVER_NAMES


def validate_new_server_name(name: str) -> str:
    """:func:`validate_server_name` plus the rule for registering a server: no name that is a
    REST path under ``/mcp/`` (its MCP endpoint ``/mcp/{name}`` would be that path). Servers
    stored before the rule existed keep working; they are only refused here, at registration."""
    validate_server_name(name)
    if is_reserved_server_name(name):
        raise InvalidRequest(
            f"invalid server name: {name!r} is reserved (/mcp/{name.strip().lower()} is a REST "
            f"path; reserved: {', '.join(sorted(RESERVED_SERVER_NAMES))})"
        )
    return name


def server_slug(name: str) -> str:
    """The directory name for server ``name``: distinct names give distinct slugs.

    A lowercase ASCII name of letters, digits, ``_`` and ``-`` (starting with a letter or
    digit) is its own slug, unless it ends with ``-`` and ten hex digits. Any other name becomes
    a lowercase ASCII base (accents dropped, other characters turned into ``-``, at most 40)
    plus ``-`` and the first ten hex digits of the SHA-256 of the exact name, e.g.
    ``My Server.v2`` -> ``my-server-v2-<hash>``. Identity slugs never end like hashed ones, so
    two slugs collide only if two names' hashes share their first 40 bits.
    """
    validate_server_name(name)
    if _IDENTITY_SLUG.fullmatch(name) and not _HASHED_TAIL.search(name):
        return name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^a-z0-9_]+", "-", ascii_name.lower()).strip("-_")[:_SLUG_BASE_MAX]
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_LEN]
    return f"{base.rstrip('-_') or 'server'}-{digest}"


def validate_secret_name(name: str) -> str:
    if not isinstance(name, str) or not SECRET_NAME_RE.fullmatch(name):
        raise InvalidRequest(
            "invalid secret name: use 1-128 letters, digits, '_', '.' or '-', starting with a "
            "letter or '_'"
        )
    return name


def validate_username(name: str) -> str:
    """Return ``name`` trimmed, or raise :class:`InvalidRequest` naming the problem. Any
    printable string works (``alice@example.com``, a UUID, ``Alice Smith``)."""
    if not isinstance(name, str):
        raise InvalidRequest("invalid username: it must be a string")
    trimmed = name.strip()
    if not trimmed:
        raise InvalidRequest("invalid username: it must not be empty")
    if len(trimmed) > MAX_USERNAME:
        raise InvalidRequest(f"invalid username: at most {MAX_USERNAME} characters")
    if _FORBIDDEN_RE.search(trimmed):
        raise InvalidRequest("invalid username: it must not contain control characters")
    return trimmed
