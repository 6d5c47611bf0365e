"""Installer commands: :func:`mcp_gateway.process.run.run_command` with installer errors.

The generic runner (argv only, allow-listed environment, timeout, bounded output, the whole
tree killed) lives in :mod:`mcp_gateway.process`; this module turns its outcomes into
:class:`InstallFailed` with the bounded log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mcp_gateway.errors import InstallFailed
from mcp_gateway.process.output import LineCallback
from mcp_gateway.process.run import CommandResult, run_command
from mcp_gateway.process.sandbox import Sandbox

__all__ = ["LineCallback", "run_checked"]


async def run_checked(
    argv: Sequence[str],
    *,
    time_limit: float,
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
    sandbox: Sandbox | None = None,
) -> CommandResult:
    """Run ``argv``; raise :class:`InstallFailed` (with the log) unless it succeeded.

    With an enabled ``sandbox`` the command runs in namespaces that hide the data directory
    and the gateway's processes; the network stays open.
    """
    try:
        result = await run_command(
            argv,
            time_limit=time_limit,
            cwd=cwd,
            env=env,
            on_line=on_line,
            sandbox=sandbox,
        )
    except OSError as exc:
        raise InstallFailed(f"cannot run {Path(argv[0]).name}: {exc.strerror or exc}") from exc
    if not result.ok:
        raise InstallFailed(f"{what} failed: {result.describe()}", log=result.output)
    return result
