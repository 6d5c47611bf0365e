"""What the package use cases share: the installers, their directories and the lock that lets
one operation at a time run per server name (a second gets 409 ``install_in_progress``;
in-process only, one gateway per packages dir)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import anyio

from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.errors import GatewayError, InstallInProgress, InvalidRequest
from mcp_gateway.installer.base import (
    Installer,
    InstallResult,
    InstallSpec,
    make_install_dir,
    new_install_dir,
    remove_tree,
    slot_dir,
)
from mcp_gateway.installer.models import InstallRequest
from mcp_gateway.installer.plan import INSTALL_DIR_PLACEHOLDER
from mcp_gateway.installer.process import LineCallback

log = logging.getLogger("mcp_gateway.packages")


class PackageDirs:
    def __init__(self, installers: Mapping[PackageRuntime, Installer]) -> None:
        self.installers = dict(installers)
        self._busy: set[str] = set()
        self._installing: set[str] = set()  # install directories being filled now
        # (runtime, outcome: ok or an error code, seconds) of every install run: metrics.
        self.observers: list[Callable[[str, str, float], None]] = []

    def busy(self, server_name: str) -> bool:
        return server_name in self._busy

    def installing(self, install_dir: str | Path) -> bool:
        """``install_dir`` exists but its install is still running here."""
        return str(install_dir) in self._installing

    @contextmanager
    def exclusive(self, server_name: str) -> Iterator[None]:
        """Hold the server's lock. Raises InstallInProgress when it is taken."""
        if server_name in self._busy:
            raise InstallInProgress(server_name)
        self._busy.add(server_name)
        try:
            yield
        finally:
            self._busy.discard(server_name)

    def installer(self, runtime: PackageRuntime | str) -> Installer:
        """Raises InvalidRequest for an unknown runtime."""
        try:
            return self.installers[PackageRuntime(runtime)]
        except (ValueError, KeyError):
            raise InvalidRequest("runtime must be 'node' or 'python'") from None

    async def install_new(
        self,
        installer: Installer,
        server_name: str,
        spec: InstallSpec,
        on_line: LineCallback | None,
        *,
        at: Path | None = None,
    ) -> InstallResult:
        """Install into a fresh attempt directory (or into ``at``, the directory recorded by
        another replica); a failed attempt leaves no directory (nor an empty slot when it was
        the slot's only attempt)."""
        marked = {str(at)} if at is not None else set()
        # Marked before it exists: a hold check must never see it there, empty and unmarked.
        self._installing |= marked
        try:
            if at is None:
                target = new_install_dir(installer.root, server_name)
            else:
                target = await anyio.to_thread.run_sync(make_install_dir, at, installer.root)
        except BaseException:
            self._installing -= marked
            raise
        marked.add(str(target))
        self._installing |= marked
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await installer.install(spec, target, on_line=on_line)
        except BaseException as exc:
            outcome = exc.code if isinstance(exc, GatewayError) else "interrupted"
            await self.remove(installer, target)
            slot = target.parent
            with anyio.CancelScope(shield=True):
                if not await anyio.to_thread.run_sync(_has_entries, slot):
                    await self.remove(installer, slot)
            raise
        finally:
            self._installing -= marked
            for observe in self.observers:
                observe(installer.runtime.value, outcome, time.perf_counter() - started)

    @staticmethod
    async def remove(installer: Installer, path: str | Path) -> None:
        """Delete an install directory (in a worker thread, finishing even when cancelled);
        a path outside the installer's root is logged and left alone."""
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(remove_tree, path, installer.root)
            except GatewayError:
                log.warning("not removing %s: outside %s", path, installer.root)

    async def remove_all(self, record: PackageRecord) -> None:
        """Delete every directory of ``record``'s server (its slot and its install, and the
        install's slot when it is elsewhere: installed before slots were named by slug)."""
        installer = self.installer(record.runtime)
        await self.remove(installer, slot_dir(installer.root, record.server_name))
        if record.install_dir:
            await self.remove_install(installer, record.install_dir)

    async def remove_install(self, installer: Installer, install_dir: str | Path) -> None:
        """Delete one install directory, and its slot once empty (the slot of an install made
        before slots were named by slug is never reused)."""
        await self.remove(installer, install_dir)
        slot = Path(install_dir).parent
        in_root = slot.parent.resolve() == installer.root.resolve()
        if in_root and not await anyio.to_thread.run_sync(_has_entries, slot):
            await self.remove(installer, slot)


def _has_entries(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


async def venv_command(request: InstallRequest, result: InstallResult) -> InstallRequest:
    """mcp-api runs a Python package's ``command`` with the venv first on PATH: a bare command
    (``python``, a console script) that is in the new venv's ``bin`` means that one."""
    command = request.command
    if request.runtime is not PackageRuntime.PYTHON or not command or "/" in command:
        return request
    if not await anyio.Path(result.install_dir / "bin" / command).is_file():
        return request
    return dataclasses.replace(request, command=f"{INSTALL_DIR_PLACEHOLDER}/bin/{command}")
