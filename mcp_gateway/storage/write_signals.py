"""This process's own store writes, as changes, the moment they are made.

The change feed (services/follow.py) tells every replica about every write, its own included,
but a poll or a change stream later. What this process caches from the store (the callers'
tool catalogues: services/catalogue.py) must not serve a value this process has just
overwritten, so :class:`WriteSignals`, a transparent proxy wrapped once around the store at the
composition root, reports each write that names a record (as a
:class:`~mcp_gateway.domain.changes.Change`) to ``note`` right after it returns (or fails: a
change reported in vain costs a re-read, a change missed would be a stale answer). Reads and
everything else pass through untouched. Key rotation's compare-and-swap rewrites of
ciphertexts are not changes (the values stay the same).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from mcp_gateway.domain.changes import Change, ChangeKind

ChangeSink = Callable[[Change], None]


def _secret(args: tuple[Any, ...]) -> Change:
    return Change(ChangeKind.SECRET, args[0].server, args[0].username)


def _tokens(args: tuple[Any, ...]) -> Change:
    return Change(ChangeKind.OAUTH, args[0].server, args[0].username)


def _install(args: tuple[Any, ...]) -> Change:
    return Change(ChangeKind.INSTALL, args[0].server, args[0].username)


#: write method -> the change it makes, from its positional arguments (the ports' order).
_WRITES: dict[str, Callable[[tuple[Any, ...]], Change]] = {
    "put_secret": _secret,
    "delete_secret": lambda a: Change(ChangeKind.SECRET, a[1], a[0]),  # (username, server, name)
    "delete_server_secrets": lambda a: Change(ChangeKind.SECRET, a[0]),
    "put_tokens": _tokens,
    "delete_tokens": lambda a: Change(ChangeKind.OAUTH, a[0], a[1]),  # (server, username)
    "delete_server_tokens": lambda a: Change(ChangeKind.OAUTH, a[0]),
    "put_install": _install,
    "delete_install": lambda a: Change(ChangeKind.INSTALL, a[0], a[1]),  # (server, username)
    "delete_server_installs": lambda a: Change(ChangeKind.INSTALL, a[0]),
    "put_toolset": lambda a: Change(ChangeKind.TOOLSET, a[0].name),
    "delete_toolset": lambda a: Change(ChangeKind.TOOLSET, a[0]),
    "create_server": lambda a: Change(ChangeKind.SERVER, a[0].name),
    "update_server": lambda a: Change(ChangeKind.SERVER, a[0].name),
    "delete_server": lambda a: Change(ChangeKind.SERVER, a[0]),
}


class WriteSignals:
    """Delegates everything to ``inner``; the write methods of :data:`_WRITES` also report
    their change to ``note``. The change is read from the positional arguments (every
    caller passes them so; keyword arguments are taken in the order given)."""

    def __init__(self, inner: Any, note: ChangeSink) -> None:
        self._inner = inner
        self._note = note

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        change_of = _WRITES.get(name)
        if change_of is None:
            if callable(value):
                self.__dict__[name] = value  # a method: later lookups skip __getattr__
            return value
        signalled = _signalled(value, change_of, self._note)
        self.__dict__[name] = signalled  # later lookups skip __getattr__
        return signalled


def _signalled(
    method: Callable[..., Awaitable[Any]],
    change_of: Callable[[tuple[Any, ...]], Change],
    note: ChangeSink,
) -> Callable[..., Awaitable[Any]]:
    @wraps(method)
    async def write(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        finally:
            note(change_of(args + tuple(kwargs.values())))

    return write
