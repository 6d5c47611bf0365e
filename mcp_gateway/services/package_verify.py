"""Verifying a package's new server before it is kept: the error of one that did not start,
and an upgrade's switch.

:func:`start_failure` is the 502 ``install_failed`` of an install or upgrade whose server did
not list its tools (with the most telling line of its stderr). :func:`switch` makes an
upgrade atomic: the new install is started as a temporary server and checked first, and the
real server points at it only if it starts; should recording the new version fail, the old
definition is put back.
"""

from __future__ import annotations

import logging
import time

import anyio

from mcp_gateway.domain.records import PackageRecord
from mcp_gateway.domain.servers import ServerConfig
from mcp_gateway.errors import InstallFailed
from mcp_gateway.installer.base import InstallResult
from mcp_gateway.installer.plan import (
    mark_upgraded,
    record_after_install,
    server_after_install,
    server_after_upgrade,
)
from mcp_gateway.services.servers import ServerService, StartCheck
from mcp_gateway.storage.ports import PackageStore

log = logging.getLogger("mcp_gateway.packages")


def start_failure(what: str, server: str, check: StartCheck, install_log: str) -> InstallFailed:
    """The error of a package whose server did not start: the message names the cause and
    ends with the most telling line of the server's stderr; ``log`` holds the stderr tail, then the
    installer's output. Also written to the gateway log (already masked)."""
    cause = _cause(check.stderr)
    last = f"; its stderr says: {cause}" if cause else ""
    message = f"{what}: server {server!r} did not start ({check.error}){last}"
    stderr = "\n".join(check.stderr) or "(nothing)"
    log.warning("%s; stderr tail: %s", message, " | ".join(check.stderr) or "(nothing)")
    return InstallFailed(
        message,
        f"--- server stderr (last lines) ---\n{stderr}\n--- installer output ---\n{install_log}",
    )


def _cause(stderr: tuple[str, ...]) -> str | None:
    """The last line that names an error (a Python traceback's last line, node's ``Error: ...``
    before its stack and version footer), else the last non-blank line."""
    lines = [line.strip() for line in stderr if line.strip()]
    named = [line for line in lines if "Error" in line or "Exception" in line]
    found = named or lines
    return found[-1] if found else None


async def switch(
    store: PackageStore,
    servers: ServerService,
    record: PackageRecord,
    result: InstallResult,
    *,
    within: float,
) -> None:
    """Verify the new install as a temporary server (for ``within`` seconds), then point the
    real one at it (a server removed with its package kept is not registered again)."""
    current = await servers.find(record.server_name)
    now = time.time()
    new_record = mark_upgraded(record_after_install(record, result, now=now), now=now)
    if current is None:
        base = ServerConfig(name=record.server_name, env=dict(record.env))
        candidate = server_after_install(base, new_record, result)
    else:
        candidate = server_after_upgrade(current, record, new_record, result)
    if candidate.enabled:
        check = await servers.trial(candidate, within=within)
        if check.failed:
            what = f"upgrade of {record.name} to {result.version} failed"
            raise start_failure(what, record.server_name, check, result.log)
    if current is not None:
        await servers.replace(candidate)
    try:
        await store.put_package(new_record)
    except BaseException:
        if current is not None:
            with anyio.CancelScope(shield=True):
                await servers.replace(current)
        raise
