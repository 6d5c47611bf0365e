"""Run one installer command: argv only, minimal environment, timeout, bounded output.

The child gets its own session (process group) so a timeout or a cancellation kills npm/pip/uv
*and* everything they spawned (node-gyp, build backends), not just the top process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from mcp_gateway.errors import InstallFailed

DEFAULT_OUTPUT_LIMIT = 64 * 1024

# Only these reach installer processes: never MCPGW_*, SECRETS_KEY, MONGO_*, PIP_INDEX_URL...
_INHERITED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    # TLS trust (corporate proxies): without these, installs fail behind an intercepting proxy.
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "UV_NATIVE_TLS",
)

LineCallback = Callable[[str], None]


def minimal_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of our environment plus ``extra`` (which wins)."""
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env.update(extra or {})
    return env


class OutputTail:
    """Keeps the last ``limit`` bytes of a stream and splits it into lines for a callback."""

    def __init__(self, limit: int = DEFAULT_OUTPUT_LIMIT, on_line: LineCallback | None = None):
        self._limit = limit
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._dropped = False
        self._on_line = on_line
        self._partial = b""

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        while self._size - len(self._chunks[0]) >= self._limit:
            self._size -= len(self._chunks.popleft())
            self._dropped = True
        if self._on_line is not None:
            *lines, self._partial = (self._partial + data).split(b"\n")
            self._partial = self._partial[-self._limit :]
            for line in lines:
                self._on_line(line.decode("utf-8", "replace").rstrip("\r"))

    def text(self) -> str:
        data = b"".join(self._chunks)
        if len(data) > self._limit:
            data = data[-self._limit :]
            self._dropped = True
        body = data.decode("utf-8", "replace")
        return ("[... earlier output dropped ...]\n" + body) if self._dropped else body


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int | None  # None when it was killed on timeout
    output: str  # bounded tail of stdout+stderr
    timed_out: bool
    duration: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        tool = Path(self.argv[0]).name
        if self.timed_out:
            return f"{tool} timed out after {self.duration:.0f} s and was killed"
        return f"{tool} exited with status {self.returncode}"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


async def run_command(
    argv: Sequence[str],
    *,
    time_limit: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> CommandResult:
    """Run ``argv`` (never through a shell) and return its status and output tail.

    ``env`` defaults to :func:`minimal_env`. After ``time_limit`` seconds, or on cancellation,
    the whole process group is killed. A non-zero exit is *not* raised (callers decide); a
    missing executable raises :class:`InstallFailed`.
    """
    tail = OutputTail(output_limit, on_line)
    started = time.monotonic()
    try:
        process = await anyio.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else minimal_env(),
            start_new_session=True,
        )
    except OSError as exc:
        raise InstallFailed(f"cannot run {Path(argv[0]).name}: {exc.strerror or exc}") from exc
    timed_out = False
    try:
        with anyio.move_on_after(time_limit) as scope:
            assert process.stdout is not None
            async for chunk in process.stdout:
                tail.feed(chunk)
            await process.wait()
        timed_out = scope.cancelled_caught
    finally:
        # Only while unreaped: the group id cannot have been reused by another process yet.
        if process.returncode is None:
            _kill_group(process.pid)
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()
    return CommandResult(
        argv=tuple(argv),
        returncode=None if timed_out else process.returncode,
        output=tail.text(),
        timed_out=timed_out,
        duration=time.monotonic() - started,
    )


async def run_checked(
    argv: Sequence[str],
    *,
    time_limit: float,
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
) -> CommandResult:
    """:func:`run_command`, raising :class:`InstallFailed` (with the log) unless it succeeded."""
    result = await run_command(argv, time_limit=time_limit, cwd=cwd, env=env, on_line=on_line)
    if not result.ok:
        raise InstallFailed(f"{what} failed: {result.describe()}", log=result.output)
    return result
