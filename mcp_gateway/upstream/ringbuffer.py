"""A bounded buffer of a child's last stderr lines (exposed as a server's ``logs``)."""

from __future__ import annotations

from collections import deque

MAX_LINE = 2000  # characters kept per line: one runaway line cannot hold megabytes


class LineRing:
    """Keeps the last ``maxlen`` complete lines fed to it as raw bytes chunks."""

    __slots__ = ("_lines", "_partial")

    def __init__(self, maxlen: int = 200) -> None:
        self._lines: deque[str] = deque(maxlen=maxlen)
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        if len(self._partial) > MAX_LINE:
            complete.append(self._partial)
            self._partial = b""
        for raw in complete:
            self._lines.append(raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r"))

    def flush(self) -> None:
        """Keep a trailing line that had no newline (called when the stream ends)."""
        if self._partial:
            self._lines.append(self._partial[:MAX_LINE].decode("utf-8", "replace"))
            self._partial = b""

    def append(self, line: str) -> None:
        self._lines.append(line[:MAX_LINE])

    def lines(self) -> tuple[str, ...]:
        return tuple(self._lines)
