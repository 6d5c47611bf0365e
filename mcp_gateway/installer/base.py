"""What every installer takes and gives back, and the on-disk layout they share.

Layout: each server owns one slot directory (``packages/node/<slug>`` or
``<venv_root>/<slug>``, the slug being :func:`~mcp_gateway.domain.names.server_slug` of the
server name: ``My Server.v2`` gets ``my-server-v2-<hash>``, never a path made of the name);
every install attempt goes into a fresh subdirectory of that slot (``i-<time>-<rand>``) and the
server config points at it by absolute path. An upgrade therefore installs beside the running
version, switches the config, and only then deletes the old subdirectory; venvs are never moved
(they are not relocatable).
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mcp_gateway.domain.names import server_slug
from mcp_gateway.domain.records import PackageRuntime
from mcp_gateway.errors import InstallFailed
from mcp_gateway.installer.process import LineCallback
from mcp_gateway.installer.validation import ensure_inside


@dataclass(frozen=True, slots=True)
class InstallSpec:
    """A validated install request for one runtime (validate with the installer first)."""

    name: str
    version: str | None = None  # npm range/tag or PEP 440 version/specifier; None = latest
    python_module: str | None = None
    # Index URLs may embed credentials (https://user:token@host/simple): kept out of reprs.
    index_url: str | None = field(default=None, repr=False)
    extra_index_url: str | None = field(default=None, repr=False)
    allow_scripts: bool = False
    # Python only: more requirements installed in the same pip/uv run (validated, canonical).
    pip_dependencies: tuple[str, ...] = ()
    fail_on_warning: bool = False  # mcp-api's failOnWarning: a warning fails the install


@dataclass(frozen=True, slots=True)
class InstallResult:
    name: str
    version: str  # exact, read back from the installed metadata
    install_dir: Path
    command: str | None  # None when the package declares no executable
    args: tuple[str, ...]
    log: str  # bounded installer output


class Installer(Protocol):
    runtime: PackageRuntime
    root: Path  # the directory holding one slot per server

    def validate(self, spec: InstallSpec) -> InstallSpec:
        """Check names/versions/URLs before anything runs; raise InvalidRequest (400)."""

    async def install(
        self, spec: InstallSpec, target: Path, *, on_line: LineCallback | None = None
    ) -> InstallResult:
        """Install into the fresh directory ``target``; raise InstallFailed with the log."""

    async def latest_version(self, spec: InstallSpec) -> str:
        """Newest stable version on the configured registry; raise InstallFailed."""

    def is_newer(self, candidate: str, installed: str) -> bool:
        """Real version ordering for this ecosystem."""


# npm 7+ "npm warn ...", npm 6 "npm WARN ...", pip "WARNING: ...", uv "warning: ...".
_WARNING_LINE = re.compile(r"^\s*(?:npm\s+warn\b|warning:).*$", re.IGNORECASE | re.MULTILINE)


def refuse_warnings(spec: InstallSpec, log: str) -> None:
    """With ``fail_on_warning``, raise InstallFailed (with the log) naming the installer's first
    warning line."""
    if not spec.fail_on_warning:
        return
    found = _WARNING_LINE.search(log)
    if found:
        raise InstallFailed(
            f"install of {spec.name} printed a warning and failOnWarning is set: "
            f"{found.group(0).strip()[:300]}",
            log,
        )


def slot_dir(root: Path, server_name: str) -> Path:
    """The server's slot under ``root`` (named by the name's slug), checked to resolve inside
    it."""
    return ensure_inside(root / server_slug(server_name), root)


def new_install_dir(root: Path, server_name: str) -> Path:
    """A fresh, not yet existing directory for one install attempt (created empty, 0755 like
    every directory from it up to ``root``)."""
    slot = slot_dir(root, server_name)
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return make_install_dir(slot / f"i-{stamp}-{secrets.token_hex(3)}", root)


def make_install_dir(target: Path, root: Path) -> Path:
    """Create the empty install directory ``target`` (inside ``root``; it must not exist),
    0755 like every directory from it up to ``root``: :func:`new_install_dir`, or the
    directory another replica recorded (services/package_reconcile.py)."""
    target = ensure_inside(target, root)
    target.mkdir(parents=True, exist_ok=False)
    # Sandboxed servers run under other uids: whatever the gateway's umask, they must be able
    # to traverse and read their package (the installer itself runs with umask 022).
    top = root.resolve()
    for directory in (target.resolve(), *target.resolve().parents):
        if directory != top and top not in directory.parents:
            break  # never above root
        directory.chmod(0o755)
    return target


def remove_tree(path: Path | str, root: Path) -> None:
    """Delete ``path`` after checking it resolves strictly inside ``root`` (no-op if absent).

    Raises InvalidRequest instead of deleting anything outside ``root``.
    """
    resolved = ensure_inside(Path(path), root)
    if resolved.exists():
        shutil.rmtree(resolved, ignore_errors=True)
