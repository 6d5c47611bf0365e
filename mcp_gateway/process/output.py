"""Bounded output: what the gateway keeps of a child's stdout/stderr.

One class for both users: an upstream server's stderr (its ``logs``: the last 200 lines) and an
installer's combined output (the last 64 KB, shown when an install fails). Lines are kept
decoded, each cut at :data:`MAX_LINE` characters, so one runaway line cannot hold megabytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

MAX_LINE = 2000  # characters kept per line
DEFAULT_OUTPUT_LIMIT = 64 * 1024
DROPPED = "[... earlier output dropped ...]"

LineCallback = Callable[[str], None]


class OutputTail:
    """The last lines of a stream fed as raw byte chunks: at most ``max_lines`` lines and
    ``max_bytes`` bytes (UTF-8, one newline each), either bound optional. ``on_line`` sees
    every complete line as it arrives (progress), before any is dropped."""

    __slots__ = ("_bytes", "_dropped", "_lines", "_max_bytes", "_max_lines", "_on_line", "_partial")

    def __init__(
        self,
        max_lines: int | None = 200,
        *,
        max_bytes: int | None = None,
        on_line: LineCallback | None = None,
    ) -> None:
        self._lines: deque[str] = deque()
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._bytes = 0
        self._dropped = False
        self._on_line = on_line
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        if len(self._partial) > MAX_LINE:  # no newline in sight: keep it as a line
            complete.append(self._partial)
            self._partial = b""
        for raw in complete:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if self._on_line is not None:
                self._on_line(line)
            self._keep(line)

    def flush(self) -> None:
        """Keep a trailing line that had no newline (called when the stream ends)."""
        if self._partial:
            self._keep(self._partial.decode("utf-8", "replace").rstrip("\r"))
            self._partial = b""

    def append(self, line: str) -> None:
        """Add a line of the gateway's own (a note about the stream)."""
        self._keep(line)

    def _keep(self, line: str) -> None:
        line = line[:MAX_LINE]
        self._lines.append(line)
        self._bytes += len(line.encode()) + 1
        while self._lines and (
            (self._max_lines is not None and len(self._lines) > self._max_lines)
            or (self._max_bytes is not None and self._bytes > self._max_bytes)
        ):
            self._bytes -= len(self._lines.popleft().encode()) + 1
            self._dropped = True

    def lines(self) -> tuple[str, ...]:
        return tuple(self._lines)

    def text(self) -> str:
        """The kept lines, newline-terminated, after a marker if earlier output was dropped."""
        body = "".join(f"{line}\n" for line in self._lines)
        return f"{DROPPED}\n{body}" if self._dropped else body
