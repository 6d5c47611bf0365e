"""One way to start a child and one way to stop it, for upstream servers and installers.

:func:`spawn` starts ``argv`` (never through a shell) in a new session, so the child leads its
own process group, with exactly the environment it is given; with a :class:`Sandbox` it runs
under a leased uid inside namespaces, else it carries a tree marker (:mod:`.tree`).
:func:`stop` closes stdin, waits ``grace``, SIGTERMs the tree, waits ``grace``, then SIGKILLs
the group and every descendant, reaps the child and returns the uid. It is meant to run shielded
so that a cancelled owner never leaks a process.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.abc

from mcp_gateway.process.sandbox import Sandbox
from mcp_gateway.process.tree import TREE_VAR, kill_tree, new_tree_id, signal_tree

logger = logging.getLogger(__name__)

GRACE = 2.0  # seconds after closing stdin, then again after SIGTERM
_POLL = 0.01

Pipe = int | IO[Any] | None


@dataclass(eq=False, slots=True)
class Child:
    """A spawned process plus what :func:`stop` needs to end its whole tree."""

    process: anyio.abc.Process
    tree_id: str | None  # set when unsandboxed: the marker its descendants inherit
    uid: int | None  # the leased sandbox uid, returned by stop()
    sandbox: Sandbox | None
    home: Path | None = None  # its host-side HOME, removed by stop()

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        """Remove its HOME and return the leased uid (once the tree is dead)."""
        if self.sandbox is not None:
            self.sandbox.drop_home(self.home)
            self.home = None
            if self.uid is not None:
                self.sandbox.release_uid(self.uid)
                self.uid = None


async def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    sandbox: Sandbox | None = None,
    own_uid: bool = False,
    stdin: Pipe,
    stdout: Pipe,
    stderr: Pipe,
    umask: int = -1,
) -> Child:
    """Start ``argv``; sandboxed when ``sandbox`` is given and enabled. Raises OSError if it
    cannot be started (the leased uid is returned then).

    Sandboxed, it runs under a leased uid unless ``own_uid`` (installers: their files must stay
    the gateway's; see :meth:`Sandbox.launch` for that profile).

    The start itself is shielded. Cancelled while it connects the child's pipes, asyncio kills
    the child but leaves the pipes it connects afterwards open with no owner: their descriptors
    leak until garbage collection, and for good once the loop has closed. A cancellation lands
    at the caller's next await instead, where its cleanup stops the child.
    """
    if sandbox is None or not sandbox.enabled:
        tree_id = new_tree_id()
        with anyio.CancelScope(shield=True):  # never cancelled half-way (above)
            process = await anyio.open_process(
                list(argv),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env={**env, TREE_VAR: tree_id},
                cwd=cwd,
                start_new_session=True,
                umask=umask,
            )
        return Child(process, tree_id, None, None)
    _check_executable(argv[0], env.get("PATH", os.defpath))  # as exec would, before the wrapper
    uid = None if own_uid else sandbox.lease_uid()
    home: Path | None = None
    try:
        if uid is not None:
            home = await anyio.to_thread.run_sync(sandbox.make_home, uid)
        launch = sandbox.launch(argv, uid=uid, env=dict(env), cwd=cwd, home=home)
        with anyio.CancelScope(shield=True):  # as above
            process = await anyio.open_process(
                launch.argv,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=launch.env,
                cwd=launch.cwd,
                start_new_session=True,
                umask=umask,
            )
    except BaseException:
        sandbox.drop_home(home)
        if uid is not None:
            sandbox.release_uid(uid)
        raise
    return Child(process, None, uid, sandbox, home)


def _check_executable(command: str, search_path: str) -> None:
    """Raise what ``exec`` would for a missing or non-executable command: inside the sandbox
    the exec is bubblewrap's, whose failure would only be an exit status."""
    if "/" in command:
        found: str | None = command if os.path.exists(command) else None
    else:
        found = shutil.which(command, mode=os.F_OK, path=search_path)
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), command)
    if os.path.isdir(found) or not os.access(found, os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), command)


async def stop(child: Child, grace: float = GRACE) -> None:
    """Close stdin, then SIGTERM the tree, then SIGKILL it; always reaps the child."""
    process = child.process
    try:
        if process.stdin is not None:
            with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                await process.stdin.aclose()
        if not await _wait_exit(process, grace):
            signal_tree(process.pid, signal.SIGTERM, child.tree_id)
            if not await _wait_exit(process, grace):
                signal_group_kill(child)
                if not await _wait_exit(process, grace):
                    logger.warning("child %d survived SIGKILL", process.pid)
        # Grandchildren may have outlived their parent, inside or outside its group: they go.
        kill_tree(process.pid, child.tree_id, root_alive=False)
    finally:
        # Whatever happened above, the pipes' fds close now: a transport left to the garbage
        # collector leaks them until then (and warns).
        _close_pipes(process)
    await anyio.to_thread.run_sync(child.release)  # removing a HOME full of caches takes a while


def _close_pipes(process: anyio.abc.Process) -> None:
    """Close the child's pipe transports and its subprocess transport (as anyio's ``aclose``
    does, without waiting): asyncio otherwise keeps their fds open until garbage collection."""
    transport = getattr(getattr(process, "_process", None), "_transport", None)
    if transport is None:
        return
    for fd in (0, 1, 2):
        pipe = transport.get_pipe_transport(fd)
        if pipe is not None:
            pipe.close()
    with suppress(PermissionError):  # kill() of a child that is not ours to signal
        transport.close()


def signal_group_kill(child: Child) -> None:
    """SIGKILL the child's tree now (the process may still be running)."""
    kill_tree(child.pid, child.tree_id, root_alive=child.process.returncode is None)


async def _wait_exit(process: anyio.abc.Process, within: float) -> bool:
    # Poll returncode, not wait(): on asyncio wait() also waits for pipe EOF.
    with anyio.move_on_after(within):
        while process.returncode is None:  # noqa: ASYNC110 (no event exists for this)
            await anyio.sleep(_POLL)
        return True
    return process.returncode is not None
