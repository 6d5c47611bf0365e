"""Where the keyring comes from, including the embedded mode's ``<data dir>/secrets.key``.

The key file holds ``id:base64key`` lines (first = primary; ``#`` comments and blank lines are
ignored). It is created on first start with mode 0600 (in a data dir created 0700, see
:mod:`.privatedir`), atomically and never over an existing file; rotation rewrites it
atomically with a new primary key in front of the old ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

from mcp_gateway.config import Settings
from mcp_gateway.crypto.keyring import (
    Keyring,
    format_key_line,
    generate_key,
    keyring_from_passphrase,
    parse_key_line,
    parse_keys,
)
from mcp_gateway.crypto.privatedir import ensure_private_dir
from mcp_gateway.errors import ConfigError

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secrets.key"
_HEADER = (
    "# mcp-gateway secrets keys: id:base64key per line, the first is the primary.\n"
    "# Keep this file private (mode 0600) and back it up: without it stored secrets are lost.\n"
)


def key_file_path(settings: Settings) -> Path:
    return settings.store.data_dir / KEY_FILE_NAME


def load_keyring(settings: Settings, *, mongodb: bool | None = None) -> Keyring:
    """The keyring for this process.

    Order: ``MCPGW_SECRETS_KEYS``; else the ``SECRETS_KEY`` passphrase; else, in MongoDB mode
    (``mongodb``, default ``settings.uses_mongodb``), :class:`ConfigError`; else the data dir's
    key file, created on first use. Raises :class:`ConfigError` naming the variable or path.
    """
    if mongodb is None:
        mongodb = settings.uses_mongodb
    if settings.secrets.keys is not None:
        return parse_keys(settings.secrets.keys.get_secret_value())
    if settings.secrets.passphrase is not None:
        return keyring_from_passphrase(settings.secrets.passphrase.get_secret_value())
    if mongodb:
        raise ConfigError(
            "MongoDB mode needs MCPGW_SECRETS_KEYS or SECRETS_KEY: a key file on one host "
            "cannot be shared by every gateway using the database (run "
            "'mcp-gateway keys generate' to make a key)"
        )
    return load_or_create_key_file(key_file_path(settings))


def uses_key_file(settings: Settings) -> bool:
    """True when :func:`load_keyring` would read the data dir's key file."""
    return (
        settings.secrets.keys is None
        and settings.secrets.passphrase is None
        and not settings.uses_mongodb
    )


def load_or_create_key_file(path: Path) -> Keyring:
    """Read the key file at ``path``, creating it with one fresh key if it does not exist."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        _create_key_file(path)
        text = _read(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read key file {path}: {_reason(exc)}") from None
    _warn_if_shared(path)
    return _parse_file(path, text)


def read_key_file(path: Path) -> Keyring:
    """Read an existing key file (no creation). Raises ConfigError naming ``path``."""
    return _parse_file(path, _read(path))


def add_primary_key(path: Path, key_id: str | None = None) -> str:
    """Put a new random key first in the key file, keeping every old key; return its id.

    The file is replaced atomically (temp file + rename, mode 0600). The file must exist.
    """
    old = read_key_file(path)
    lines = _read(path).splitlines()
    new_id, new_key = generate_key(key_id)
    if new_id in old.key_ids:
        raise ConfigError(f"key file {path}: key id {new_id!r} already exists")
    old_lines = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    content = _HEADER + "\n".join([format_key_line(new_id, new_key), *old_lines]) + "\n"
    tmp = _write_temp(path, content)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise ConfigError(f"cannot write key file {path}: {_reason(exc)}") from None
    _fsync_dir(path.parent)
    return new_id


def _create_key_file(path: Path) -> None:
    """Write a new key file without ever replacing one that exists (a racing start wins)."""
    key_id, key = generate_key()
    content = _HEADER + format_key_line(key_id, key) + "\n"
    ensure_private_dir(path.parent)
    tmp = _write_temp(path, content)
    created = True
    try:
        # link() fails if the target exists, so a concurrent creator's file is kept and a
        # reader never sees a half-written file.
        os.link(tmp, path)
    except FileExistsError:
        created = False
    except OSError:
        # Filesystems without hard links: exclusive create, still never overwriting.
        created = _create_exclusive(path, content)
    finally:
        _unlink_quietly(tmp)
    _fsync_dir(path.parent)
    if created:
        log.info("created key file %s (key id %s); back it up", path, key_id)


def _create_exclusive(path: Path, content: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(f"cannot create key file {path}: {_reason(exc)}") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def _write_temp(path: Path, content: str) -> str:
    """A fsynced 0600 temp file next to ``path``; returns its name."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot create key file {path}: {_reason(exc)}") from None
    try:
        os.fchmod(fd, 0o600)  # mkstemp already uses 0600; be explicit about the contract
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        _unlink_quietly(tmp)
        raise ConfigError(f"cannot write key file {path}: {_reason(exc)}") from None
    return tmp


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read key file {path}: {_reason(exc)}") from None


def _parse_file(path: Path, text: str) -> Keyring:
    source = f"key file {path}"
    entries = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not entries:
        raise ConfigError(f"{source}: no keys in the file")
    return Keyring((parse_key_line(e, source=source) for e in entries), source=source)


def _warn_if_shared(path: Path) -> None:
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("key file %s is readable by others (mode %o); chmod 600 it", path, mode)


def _fsync_dir(directory: Path) -> None:
    # Make the new directory entry durable; not every platform allows opening a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unlink_quietly(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return "not an ASCII text file"
    return type(exc).__name__
