"""The data directory: created owner-only (0700) by whichever writer gets there first.

It holds the key file, the SQLite store and the bootstrap admin key, so it must never exist
with a looser mode, not even for the moment between the key file's creation and the store's.
Every writer into it (key file, SQLite store, admin-key file) goes through
:func:`ensure_private_dir`.
"""

from __future__ import annotations

import contextlib
import logging
import stat
from pathlib import Path

from mcp_gateway.errors import ConfigError

log = logging.getLogger(__name__)

PRIVATE_DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with the directory itself 0700; return it.

    An existing directory is left as it is (it may be shared on purpose, e.g. a mounted volume)
    but a group- or world-accessible one is logged as a warning. Raises ConfigError naming the
    path when it cannot be created.
    """
    path = path.expanduser()
    try:
        # mkdir's mode applies to the leaf only and is reduced by the umask, never widened.
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot create data dir {path}: {reason}") from None
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("data dir %s is open to other users (mode %o); chmod 700 it", path, mode)
    return path
