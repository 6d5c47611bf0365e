"""The sandbox of a child process: its own uid, PID and mount namespaces, a private HOME.

Each sandboxed child runs under a uid/gid ``U`` leased from a configured range (one per running
child, so every server and every user's instance of a ``per_user`` server is a different user;
no supplementary groups, no capabilities) in its own PID namespace (it sees only its own
processes: no ``/proc/<gateway>/environ``, no other user's instance), IPC/UTS namespaces and a
mount namespace. Two launch orders reach that:

- gateway is root: ``bwrap ... --cap-add CAP_SETUID --cap-add CAP_SETGID -- setpriv
  --reuid=U ... -- <command>``: bubblewrap needs no user namespace, and ``setpriv`` inside
  drops to ``U``, which clears every capability; HOME is a fresh host directory owned by ``U``
  (:meth:`Sandbox.make_home`), removed when the child stops;
- gateway holds CAP_SETUID+CAP_SETGID+CAP_KILL (the Docker image): ``setpriv --reuid=U
  --inh-caps=-all -- bwrap ... -- <command>``: bubblewrap runs unprivileged in a user namespace
  mapping ``U`` to itself; HOME is a tmpfs ``U`` owns.

In the mount namespace:

- ``/`` is the host's root, read-only (file permissions still apply as uid ``U``);
- ``/tmp``, ``/run`` and ``/home`` are fresh tmpfs; HOME is ``/home/mcpgw`` (``/tmp/home``
  when the host has no ``/home``) and the working directory unless the definition sets ``cwd``;
- hidden paths (the data directory: gateway.db, secrets.key, admin-api-key; the gateway's
  ``.env``) are covered by an empty tmpfs or ``/dev/null``;
- directories the command line names are bound back read-only when the sandbox would hide
  them: the top-level one under ``/tmp``, ``/run`` or ``/home`` (a server kept in
  ``/home/ops/mcp`` still starts) and, as root, the one below a private parent (``/root/src``);
- as root only, exposed paths (package directories, the gateway's interpreter) are bound
  read-only below a 0755 tmpfs that masks a private parent such as ``/root``, so a root-owned
  Python stays usable without opening the rest of ``/root`` (an unprivileged bubblewrap
  cannot read below such a parent, so there they must be world-readable to begin with).

The network is shared: MCP servers call remote APIs. See docs/security.md.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

SandboxMode = Literal["auto", "required", "off"]

# CAP_KILL (5): stop children of another uid; CAP_SETGID (6), CAP_SETUID (7): setpriv.
_NEEDED_CAPS = {5: "CAP_KILL", 6: "CAP_SETGID", 7: "CAP_SETUID"}
_PROBE_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    enabled: bool
    mode: SandboxMode
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"enabled": self.enabled, "mode": self.mode}
        if self.reason is not None:
            body["reason"] = self.reason
        return body


@dataclass(frozen=True, slots=True)
class Launch:
    """What ``spawn`` runs: the wrapped argv, the host-side cwd, the environment."""

    argv: list[str] = field(repr=False)  # a server's args may carry a token
    cwd: str
    env: dict[str, str] = field(repr=False)  # injected secrets


@dataclass(eq=False)
class Sandbox:
    """Leases uids and wraps commands. Build it with :meth:`detect`; use only if ``enabled``."""

    status: SandboxStatus
    bwrap: str = "/usr/bin/bwrap"
    setpriv: str = "/usr/bin/setpriv"
    uid_base: int = 100_000
    uid_count: int = 1_000
    hidden: tuple[Path, ...] = ()
    exposed: tuple[Path, ...] = ()
    homes: Path | None = None  # where make_home puts per-child HOMEs (root only)
    _leased: set[int] = field(default_factory=set)

    @property
    def enabled(self) -> bool:
        return self.status.enabled

    @classmethod
    def detect(
        cls,
        mode: SandboxMode,
        *,
        bwrap: str,
        setpriv: str,
        uid_base: int,
        uid_count: int,
        hidden: Iterable[Path] = (),
        exposed: Iterable[Path] = (),
        homes: Path | None = None,
    ) -> Sandbox:
        """Decide whether children can be sandboxed here (blocking: runs one trial sandbox).

        Never raises: ``status`` says why not. ``mode="required"`` is the caller's to enforce.
        ``homes``: where per-child HOMEs go (root only), one subdirectory per gateway pid.
        """
        box = cls(
            SandboxStatus(False, mode, "disabled by MCPGW_SANDBOX=off"),
            bwrap=bwrap,
            setpriv=setpriv,
            uid_base=uid_base,
            uid_count=uid_count,
            hidden=tuple(Path(p).resolve() for p in hidden),
            exposed=tuple(dict.fromkeys(Path(p).resolve() for p in exposed)),
            # One directory per gateway process: another gateway on the same data dir keeps its own.
            homes=homes.resolve() / str(os.getpid()) if homes is not None else None,
        )
        if mode == "off":
            return box
        reason = box._unavailable()
        box.status = SandboxStatus(reason is None, mode, reason)
        return box

    def _unavailable(self) -> str | None:
        for tool, name in ((self.bwrap, "bubblewrap"), (self.setpriv, "setpriv")):
            if not os.access(tool, os.X_OK):
                return f"{name} not found at {tool}"
        missing = _missing_capabilities()
        if missing:
            return f"the gateway (uid {os.geteuid()}) lacks {', '.join(missing)}"
        if self.homes is not None and self._as_root:
            _remove_orphaned_homes(self.homes.parent)
        home = self.make_home(self.uid_base)
        env = {"PATH": "/usr/bin:/bin"}
        launch = self.launch(["true"], uid=self.uid_base, env=env, cwd=None, home=home)
        try:
            result = subprocess.run(  # noqa: S603 (argv of fixed, configured executables)
                launch.argv,
                env=launch.env,
                cwd=launch.cwd,
                capture_output=True,
                timeout=_PROBE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"a trial sandbox could not run: {exc}"
        finally:
            self.drop_home(home)
        if result.returncode != 0:
            first = result.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
            return "a trial sandbox failed: " + (first[0] if first else f"exit {result.returncode}")
        return None

    # -- uids ------------------------------------------------------------------------------

    def lease_uid(self) -> int:
        """A uid (and gid of the same number) that no running child of ours holds and no
        process on the host runs as (a survivor of a crashed gateway, another gateway sharing
        the range)."""
        busy = _uids_in_use()
        for uid in range(self.uid_base, self.uid_base + self.uid_count):
            if uid not in self._leased and uid not in busy:
                self._leased.add(uid)
                return uid
        raise OSError(errno.EAGAIN, f"all {self.uid_count} sandbox uids are in use")

    def release_uid(self, uid: int) -> None:
        self._leased.discard(uid)

    @property
    def leased(self) -> frozenset[int]:
        return frozenset(self._leased)

    # -- argv ------------------------------------------------------------------------------

    # -- homes ---------------------------------------------------------------------------

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def make_home(self, uid: int) -> Path | None:
        """A fresh, empty HOME owned by ``uid`` on the host (root only; an unprivileged
        bubblewrap gives the child a tmpfs it owns instead). Remove it with :meth:`drop_home`."""
        if not self._as_root or self.homes is None:
            return None
        # Every directory made here is 0700, the data directory included if it is new.
        for directory in [*reversed(self.homes.parents), self.homes]:
            if not directory.exists():
                directory.mkdir(mode=0o700, exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix=f"{uid}-", dir=self.homes))
        os.chown(home, uid, uid)
        return home

    def drop_home(self, home: Path | None) -> None:
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)

    # -- argv ------------------------------------------------------------------------------

    def launch(
        self,
        argv: Sequence[str],
        *,
        uid: int | None,
        env: dict[str, str],
        cwd: str | None,
        home: Path | None = None,
    ) -> Launch:
        """Wrap ``argv`` to run as ``uid`` inside the namespaces, HOME being the host directory
        ``home`` (from :meth:`make_home`) or a tmpfs.

        ``uid=None`` is the installer profile: the gateway's own uid, the host's root
        read-write (npm/pip/uv keep their caches and config), a PID namespace, and the hidden
        paths still hidden.
        """
        cwd = os.path.abspath(cwd) if cwd else None  # relative to the gateway's, as unsandboxed
        if uid is None:
            box = [*self._namespaces(), "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
            rw = self.exposed
            box += [*self._hide(self.hidden), *self._expose(rw, writable=True, privates=False)]
            box += [*self._hide(self._revealed(rw)), "--chdir", cwd or "/", "--"]
            return Launch([*box, *argv], "/", dict(env))
        inside = "/home/mcpgw" if Path("/home").is_dir() else "/tmp/home"
        box = [*self._namespaces(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        box += ["--perms", "1777", "--tmpfs", "/tmp"]
        for private in ("/run", "/home"):
            if Path(private).is_dir():
                box += ["--tmpfs", private]
        box += ["--bind", str(home), inside] if home is not None else ["--dir", inside]
        box += self._hide(self.hidden)
        # After hiding, so packages kept inside the data dir stay usable; then hidden paths that
        # an exposed directory contains are hidden again. As root, bubblewrap can bind what the
        # child's uid cannot reach (below /root); unprivileged, it binds only what it can read.
        named = _named_tops(argv, cwd, privates=self._as_root, hidden=self.hidden)
        shown = [*(self.exposed if self._as_root else ()), *named]
        box += [*self._expose(shown, privates=self._as_root), *self._hide(self._revealed(shown))]
        box += ["--chdir", cwd or inside]
        drop = [
            self.setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ]
        child_env = {**env, "HOME": inside, "TMPDIR": "/tmp"}
        if self._as_root:
            # Root's bubblewrap keeps only these two for setpriv, which drops them with root.
            caps = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
            return Launch([*box, *caps, *drop, *argv], "/", child_env)
        return Launch([*drop, *box, "--", *argv], "/", child_env)

    def _namespaces(self) -> list[str]:
        # As root: no user namespace (the child gets a real host uid); else bubblewrap needs one.
        if self._as_root:
            spaces = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        else:
            spaces = ["--unshare-all", "--share-net"]
        return [self.bwrap, *spaces, "--die-with-parent", "--new-session"]

    def _expose(
        self, paths: Iterable[Path], *, writable: bool = False, privates: bool = True
    ) -> list[str]:
        """Bind ``paths`` back where a hidden path (packages kept in the data dir), one of our
        tmpfs (``/tmp``) or, with ``privates``, a parent others cannot traverse (``/root``)
        would keep them out."""
        args: list[str] = []
        masked: set[Path] = set()
        for path in dict.fromkeys(paths):
            if not path.exists():
                continue
            private = _private_ancestor(path) if privates else None
            hiding = [h for h in self.hidden if h in path.parents or h == path]
            if not writable:  # the server profile's own tmpfs; the installer's / is the host's
                hiding += [m for m in _MASKED if m in path.parents]
            if private is None and not hiding:
                continue  # already reachable
            if private is not None and private not in masked:
                if not any(m in private.parents for m in masked):
                    args += ["--perms", "0755", "--tmpfs", str(private)]
                    masked.add(private)
            base = min([p for p in (private, *hiding) if p is not None], key=lambda p: len(p.parts))
            # bubblewrap would create the directories in between as 0700 root: not traversable.
            for directory in reversed([p for p in path.parents if base in p.parents]):
                args += ["--perms", "0755", "--dir", str(directory)]
            args += ["--bind" if writable else "--ro-bind", str(path), str(path)]
        return args

    def _revealed(self, shown: Iterable[Path]) -> list[Path]:
        """Hidden paths inside an exposed directory: the exposure bound them back."""
        shown = list(shown)
        return [h for h in self.hidden if any(e in h.parents or e == h for e in shown)]

    def _hide(self, paths: Iterable[Path]) -> list[str]:
        args: list[str] = []
        for path in paths:
            if path.is_dir():
                args += ["--tmpfs", str(path)]
            elif path.exists():
                args += ["--ro-bind", "/dev/null", str(path)]
        return args


def _uids_in_use() -> set[int]:
    uids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uids.add(entry.stat().st_uid)
            except OSError:
                continue
    return uids


def _remove_orphaned_homes(root: Path) -> None:
    """Remove the HOMEs of gateway processes that are gone (a crash leaves them behind)."""
    if not root.is_dir():
        return
    for owner in root.iterdir():
        if owner.name.isdigit() and not Path("/proc", owner.name).exists():
            shutil.rmtree(owner, ignore_errors=True)


_MASKED = (Path("/tmp"), Path("/run"), Path("/home"))


def _named_tops(
    argv: Sequence[str], cwd: str | None, *, privates: bool, hidden: Sequence[Path] = ()
) -> list[Path]:
    """What the command line or ``cwd`` name that the sandbox would otherwise hide, to bind
    back read-only (file permissions still apply): with ``privates`` (bubblewrap runs as root)
    the entry just below the deepest directory others cannot traverse (``/root/src`` for a
    checkout in ``/root/src/app``; a test's own file in pytest's 0700 tmp dirs), else the
    top-level directory under ``/tmp``, ``/run`` or ``/home`` (a server in /home/ops/mcp).
    Never a hidden path nor one holding the named path below a hidden one: then the entry one
    level nearer the named path (packages kept in the data dir), or nothing if it is hidden."""
    found: list[Path] = []
    for raw in [*argv, *([cwd] if cwd else [])]:
        if not raw.startswith("/"):
            continue
        for path in (Path(raw), Path(raw).resolve()):
            if not path.exists():
                continue
            private = [d for d in path.parents if _closed(d)] if privates else []
            masks = [m for m in _MASKED if m in path.parents]
            base = private[0] if private else masks[0] if masks else None
            if base is None:
                continue
            top: Path | None = base / path.relative_to(base).parts[0]
            while top is not None:
                on_way = [h for h in hidden if (h == path or h in path.parents)]
                on_way = [h for h in on_way if h == top or top in h.parents]
                if not on_way:
                    break  # hidden paths in sibling branches are hidden again after binding
                deepest = max(on_way, key=lambda h: len(h.parts))
                top = None if deepest == path else deepest / path.relative_to(deepest).parts[0]
            if top is not None and top not in found:
                found.append(top)
    return found


def _closed(directory: Path) -> bool:
    """Others may not traverse it."""
    try:
        return not directory.stat().st_mode & stat.S_IXOTH
    except OSError:
        return False


def _private_ancestor(path: Path) -> Path | None:
    """The topmost ancestor of ``path`` that others cannot traverse, if any."""
    return next((parent for parent in reversed(path.parents) if _closed(parent)), None)


def _missing_capabilities() -> list[str]:
    if os.geteuid() == 0:
        return []
    effective = 0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                effective = int(line.split()[1], 16)
    except OSError:
        pass
    return [name for bit, name in _NEEDED_CAPS.items() if not effective >> bit & 1]
