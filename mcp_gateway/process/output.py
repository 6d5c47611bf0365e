"""Bounded output: what the gateway keeps of a child's stdout/stderr."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

DEFAULT_OUTPUT_LIMIT = 64 * 1024

LineCallback = Callable[[str], None]


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
