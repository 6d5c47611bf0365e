"""Killing a child *and everything it started*, including daemons that left its group.

A process group is not enough: a grandchild that double-forks and calls ``setsid()`` leaves the
group and is re-parented to init, so ``killpg`` misses it. Two mechanisms close that gap:

- Sandboxed children run in their own PID namespace, whose init is bubblewrap's pid 1: when it
  dies (``--die-with-parent`` ties it to the outer ``bwrap`` we signal) the kernel kills every
  process in the namespace, wherever it moved.
- Unsandboxed children carry a random :data:`TREE_VAR` in their environment, which every
  descendant inherits unless it scrubs its environment on purpose. :func:`kill_tree` kills the
  group, the live ``ppid`` descendants and every process whose ``/proc/<pid>/environ`` holds that
  marker, and repeats until a scan finds none (a fork racing the kill is caught next round).

Without the sandbox a hostile server can still escape (clear its environment, then daemonise):
it runs as the gateway's own user and could kill the gateway anyway. docs/security.md says so.
"""

from __future__ import annotations

import os
import secrets
import signal
from contextlib import suppress
from pathlib import Path

TREE_VAR = "MCPGW_TREE"  # a random, non-secret id: which spawn a process descends from
_ROUNDS = 8
_PROC = Path("/proc")


def new_tree_id() -> str:
    return secrets.token_hex(8)


def _parents() -> dict[int, int]:
    """pid -> ppid of every live process (zombies left out: a signal cannot reach them)."""
    table: dict[int, int] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[1].split()
        if fields[0] != b"Z":
            table[int(entry.name)] = int(fields[1])
    return table


def _carries(pid: int, marker: bytes) -> bool:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:  # gone, or not ours to read (then it is not ours to kill either)
        return False
    return marker in environ.split(b"\0")


def descendants(root: int | None, tree_id: str | None = None) -> set[int]:
    """Live descendants of ``root`` by parentage, plus every process marked with ``tree_id``.

    Pass ``root=None`` once the root has been reaped: its pid may already belong to another
    process, whose children must not be mistaken for ours.
    """
    table = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root] if root is not None else []
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    if tree_id is not None:
        marker = f"{TREE_VAR}={tree_id}".encode()
        found.update(pid for pid in table if pid not in found and _carries(pid, marker))
    found.discard(os.getpid())
    return found - {root}


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def signal_tree(
    pgid: int, sig: signal.Signals, tree_id: str | None = None, *, root_alive: bool = True
) -> None:
    """Send ``sig`` once to the group ``pgid`` (its leader is the root) and to every
    descendant found now."""
    signal_group(pgid, sig)
    for pid in descendants(pgid if root_alive else None, tree_id):
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_tree(pgid: int, tree_id: str | None = None, *, root_alive: bool = True) -> None:
    """SIGKILL the group ``pgid`` and every descendant until a scan finds none left.

    A group id is not reused while any member lives, so signalling it after the leader was
    reaped is safe; only the parentage walk needs ``root_alive``.
    """
    signal_group(pgid, signal.SIGKILL)
    for _ in range(_ROUNDS):
        left = descendants(pgid if root_alive else None, tree_id)
        if not left:
            return
        for pid in left:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        signal_group(pgid, signal.SIGKILL)
