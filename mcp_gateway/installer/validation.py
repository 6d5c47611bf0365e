"""Input rules checked before any installer process starts.

Everything here is an allow-list grammar: a value that is not a plain registry name, a version,
a range or a dist-tag is refused with :class:`InvalidRequest`, so URLs, paths, git specs,
tarballs, options (``--index-url=...``) and shell metacharacters never reach npm, pip or uv.
Installers still pass argv lists (never a shell); this is the second wall, not the only one.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from mcp_gateway.errors import InvalidRequest

# npm: optional @scope/, lowercase url-safe characters, not starting with '.', '_' or '-'.
_NPM_NAME_RE = re.compile(r"^(?:@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$")
_NPM_NAME_MAX = 214
_NPM_RESERVED = frozenset({"node_modules", "favicon.ico"})

# npm semver: a version, a partial (1, 1.2, 1.x, *), each optionally after an operator, joined
# by single spaces, " - " (hyphen range) or " || ". No other whitespace, no ':', '/', '#'.
_SEMVER_ID = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_XR = r"(?:[xX*]|0|[1-9][0-9]*)"
_PARTIAL = rf"v?{_XR}(?:\.{_XR}(?:\.{_XR}(?:-{_SEMVER_ID})?(?:\+{_SEMVER_ID})?)?)?"
_COMPARATOR = rf"(?:\^|~|>=|<=|>|<|=)?{_PARTIAL}"
_SIMPLE_SET = rf"{_COMPARATOR}(?: {_COMPARATOR})*"
_RANGE = rf"(?:{_PARTIAL} - {_PARTIAL}|{_SIMPLE_SET})"
_NPM_RANGE_RE = re.compile(rf"^{_RANGE}(?: \|\| {_RANGE})*$")
_NPM_TAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
_NPM_VERSION_MAX = 256

# PEP 508 distribution names (case-insensitive); no extras, no markers, no direct references.
_PEP508_NAME_RE = re.compile(r"^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_PEP508_NAME_MAX = 200
# PEP 440 specifier characters; SpecifierSet does the real parsing.
_PEP440_CHARS_RE = re.compile(r"^[A-Za-z0-9.,*+!=<>~_-]+$")

# pipDependencies: a name, optional [extras], optional specifiers; no URLs, markers, options.
_PIP_DEPENDENCY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~*+ ]*$")
PIP_DEPENDENCIES_MAX = 32
# pip's ARCHIVE_EXTENSIONS (pip._internal.utils.filetypes), by their last suffix
_ARCHIVE_SUFFIXES = (
    *(".whl", ".zip", ".tgz", ".tar", ".gz", ".bz2", ".xz"),
    *(".tbz", ".txz", ".tlz", ".lz", ".lzma"),
)

_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_URL_MAX = 2048


def _refuse(field: str, message: str) -> InvalidRequest:
    details = [{"field": field, "error": message}]
    return InvalidRequest(f"invalid {field}: {message}", details=details)


def validate_npm_name(name: object) -> str:
    """Return ``name`` if it is a registry package name npm would publish, else raise 400."""
    if not isinstance(name, str) or not name:
        raise _refuse("name", "an npm package name is required")
    if len(name) > _NPM_NAME_MAX or name in _NPM_RESERVED or not _NPM_NAME_RE.fullmatch(name):
        raise _refuse(
            "name",
            "not an npm package name (lowercase letters, digits, '.', '_', '-', optional "
            "@scope/; no URLs, paths, git specs or options)",
        )
    return name


def validate_npm_version(version: object) -> str | None:
    """Return a semver version, range or dist-tag; ``None`` for latest. Raise 400 otherwise."""
    if version is None or version == "":
        return None
    if not isinstance(version, str) or len(version) > _NPM_VERSION_MAX:
        raise _refuse("version", "must be a string of at most 256 characters")
    if _NPM_RANGE_RE.fullmatch(version) or _NPM_TAG_RE.fullmatch(version):
        return version
    raise _refuse(
        "version",
        "not an npm version, semver range or dist-tag (no URLs, paths, git specs, options "
        "or shell characters)",
    )


def validate_pypi_name(name: object) -> str:
    """Return ``name`` if it is a PEP 508 distribution name (no extras/URLs), else raise 400."""
    if not isinstance(name, str) or not name:
        raise _refuse("name", "a Python distribution name is required")
    if len(name) > _PEP508_NAME_MAX or not _PEP508_NAME_RE.fullmatch(name):
        raise _refuse(
            "name",
            "not a PEP 508 distribution name (letters, digits, '.', '_', '-'; no URLs, paths, "
            "extras or options)",
        )
    return name


def python_requirement_suffix(version: object) -> str | None:
    """Turn a PEP 440 version or specifier set into a requirement suffix.

    ``"1.2.3"`` becomes ``"==1.2.3"``, ``">=1,<2"`` stays as is, ``None``/``""``/``"latest"``
    mean no constraint. Raises :class:`InvalidRequest` for anything else.
    """
    if version is None or version == "" or version == "latest":
        return None
    if not isinstance(version, str) or len(version) > _NPM_VERSION_MAX:
        raise _refuse("version", "must be a string of at most 256 characters")
    problem = "not a PEP 440 version or specifier (e.g. 1.2.3, >=1.2,<2)"
    if not _PEP440_CHARS_RE.fullmatch(version) or version.startswith("-"):
        raise _refuse("version", problem)
    if version[0].isdigit():
        try:
            return f"=={Version(version)}"
        except InvalidVersion:
            raise _refuse("version", problem) from None
    try:
        spec = SpecifierSet(version)
    except InvalidSpecifier:
        raise _refuse("version", problem) from None
    if not len(spec):
        raise _refuse("version", problem)
    return str(spec)


def validate_pip_dependencies(specs: object) -> tuple[str, ...]:
    """Return ``pipDependencies`` (extra requirements installed with the package) in canonical
    form, e.g. ``fastmcp<3``, ``requests[socks]>=2.28``; raise 400 for anything that is not a
    plain PEP 508 name with optional extras and version specifiers (no URLs, paths, markers
    or options: they would fetch code from elsewhere or change how pip runs)."""
    if specs is None:
        return ()
    if not isinstance(specs, list | tuple) or len(specs) > PIP_DEPENDENCIES_MAX:
        raise _refuse("pipDependencies", f"must be a list of at most {PIP_DEPENDENCIES_MAX}")
    out: list[str] = []
    for i, spec in enumerate(specs):
        # The value is not echoed: a refused one may be a URL carrying a credential.
        problem = f"item {i} is not a requirement like 'fastmcp<3' (a name, optional [extras] "
        problem += "and version specifiers; no URLs, paths, markers or options)"
        if not isinstance(spec, str) or len(spec) > 256 or not _PIP_DEPENDENCY_RE.fullmatch(spec):
            raise _refuse("pipDependencies", problem)
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            raise _refuse("pipDependencies", problem) from None
        # pip takes a name that looks like an archive ("x.tgz") for a local file
        archive = requirement.name.lower().endswith(_ARCHIVE_SUFFIXES)
        if requirement.url or requirement.marker or archive:
            raise _refuse("pipDependencies", problem)
        validate_pypi_name(requirement.name)
        out.append(str(requirement))
    return tuple(out)


def validate_python_module(module: object) -> str | None:
    """Return a dotted module name (for ``python -m``) or ``None``; raise 400 otherwise."""
    if module is None or module == "":
        return None
    if not isinstance(module, str) or len(module) > 200 or not _MODULE_RE.fullmatch(module):
        raise _refuse("pythonModule", "must be a dotted Python module name, e.g. mcp_server_time")
    return module


def validate_index_url(url: object, field: str = "pipIndexUrl") -> str | None:
    """Return an http(s) URL (for ``--index-url``) or ``None``; raise 400 otherwise."""
    if url is None or url == "":
        return None
    if not isinstance(url, str) or len(url) > _URL_MAX or url.startswith("-"):
        raise _refuse(field, "must be an http(s) URL")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise _refuse(field, "must not contain whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(field, "must be an http(s) URL")
    return url


def validate_env_name(name: object) -> str:
    if not isinstance(name, str) or not _ENV_NAME_RE.fullmatch(name):
        raise _refuse("env", "environment variable names are letters, digits and '_'")
    return name


def ensure_inside(path: Path, root: Path) -> Path:
    """Return ``path`` resolved, or raise 400 if it does not resolve strictly inside ``root``."""
    resolved_root = root.resolve()
    resolved = path.resolve()
    if resolved == resolved_root or not resolved.is_relative_to(resolved_root):
        raise InvalidRequest("install directory escapes the packages directory")
    return resolved
