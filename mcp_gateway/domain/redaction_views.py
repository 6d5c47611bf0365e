"""Decoded views of a text, each with a map back to the original offsets (pure).

:func:`views` yields the text itself and every decoding an upstream's output may hide a
secret under: JSON / Python escapes (once, and twice for JSON inside a JSON string), URL
percent-encoding (``+`` as a space or not, also of the unescaped text), base64 (each run
of base64 characters decoded at its four possible alignments, bytes as Latin-1 characters) and
hex (each run of hex digits decoded at both alignments, e.g. ``bytes.hex()`` or a hexdump).
:mod:`.redaction` searches the raw values in each view and masks the original spans.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_LINEAR, _TOKEN, _BASE64, _HEX = 0, 1, 2, 3

_ESCAPE = re.compile(
    r"\\(?:u(?:[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|[0-9a-fA-F]{4})"
    r"|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[\\\"'/bfnrtva0])"
)
_SHORT = {
    "\\": "\\",
    '"': '"',
    "'": "'",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "a": "\a",
    "0": "\0",
}
_PERCENT = re.compile(r"(?:%[0-9a-fA-F]{2})+")
_PERCENT_PLUS = re.compile(r"(?:%[0-9a-fA-F]{2}|\+)+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{6,}")  # a 4-byte value encodes to 6
_HEX_RUN = re.compile(r"[0-9a-fA-F]{8,}")  # a 4-byte value encodes to 8

# (decoded text, start, end): one decoded piece and its offsets inside the match.
Piece = tuple[str, int, int]


@dataclass
class View:
    """A decoded text. ``segments`` are (decoded start, decoded end, source start, source
    end, kind) in the parent's offsets; the root view has no parent and maps to itself."""

    text: str
    parent: View | None = None
    segments: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)

    def _local(self, offset: int, *, end: bool) -> int:
        index = bisect_right(self._starts, offset - 1 if end else offset) - 1
        d_start, _d_end, s_start, s_end, kind = self.segments[max(index, 0)]
        delta = offset - d_start
        if kind == _LINEAR:
            return s_start + delta
        if kind == _BASE64:
            return s_start + (-(-8 * delta // 6) if end else 8 * delta // 6)
        if kind == _HEX:
            return s_start + 2 * delta
        return s_end if end else s_start

    def start(self, offset: int) -> int:
        if self.parent is None:
            return offset
        return self.parent.start(self._local(offset, end=False))

    def end(self, offset: int) -> int:
        if self.parent is None:
            return offset
        return self.parent.end(self._local(offset, end=True))

    def original(self, start: int, end: int) -> tuple[int, int]:
        return self.start(start), self.end(end)


def _decode(
    parent: View, token: re.Pattern[str], pieces: Callable[[re.Match[str]], list[Piece]]
) -> View | None:
    """``parent`` with each match of ``token`` replaced by its decoded pieces; None when
    nothing matched."""
    text = parent.text
    out: list[str] = []
    segments: list[tuple[int, int, int, int, int]] = []
    position = 0  # in the parent
    length = 0  # of the decoded text so far
    for match in token.finditer(text):
        if match.start() > position:
            run = text[position : match.start()]
            segments.append((length, length + len(run), position, match.start(), _LINEAR))
            out.append(run)
            length += len(run)
        for piece, start, end in pieces(match):
            segments.append(
                (length, length + len(piece), match.start() + start, match.start() + end, _TOKEN)
            )
            out.append(piece)
            length += len(piece)
        position = match.end()
    if not segments:
        return None
    if position < len(text):
        segments.append((length, length + len(text) - position, position, len(text), _LINEAR))
        out.append(text[position:])
    return View("".join(out), parent, segments, [s[0] for s in segments])


def _utf8_pieces(data: bytes, width: int) -> list[Piece]:
    """Decode ``data`` (each byte written with ``width`` characters) as UTF-8 one character at
    a time; a byte that starts no valid sequence becomes its Latin-1 character."""
    out: list[Piece] = []
    i = 0
    while i < len(data):
        lead = data[i]
        size = 1 if lead < 0x80 else 2 if lead >> 5 == 6 else 3 if lead >> 4 == 14 else 4
        try:
            char = data[i : i + size].decode("utf-8")
        except UnicodeDecodeError:
            char, size = chr(lead), 1
        out.append((char, i * width, (i + size) * width))
        i += size
    return out


def _escape_pieces(match: re.Match[str]) -> list[Piece]:
    token = match.group()
    kind = token[1]
    if kind == "u":
        high = int(token[2:6], 16)
        if len(token) == 12:
            low = int(token[8:12], 16)
            return [(chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)), 0, 12)]
        return [(chr(high), 0, 6)]
    if kind == "U":
        code = int(token[2:], 16)
        return [(chr(code) if code < 0x110000 else "\ufffd", 0, len(token))]
    if kind == "x":
        return [(chr(int(token[2:], 16)), 0, 4)]
    return [(_SHORT[kind], 0, 2)]


def _percent_pieces(match: re.Match[str]) -> list[Piece]:
    out: list[Piece] = []
    run = match.group()
    start = 0
    for part in re.split(r"(\+)", run):
        if part == "+":
            out.append((" ", start, start + 1))
        elif part:
            data = bytes.fromhex(part.replace("%", ""))
            out.extend((c, start + s, start + e) for c, s, e in _utf8_pieces(data, 3))
        start += len(part)
    return out


def _base64_view(parent: View) -> View | None:
    """Each base64 run decoded at its four alignments, bytes as Latin-1, runs separated by a
    NUL (a value never spans two runs)."""
    text = parent.text
    out: list[str] = []
    segments: list[tuple[int, int, int, int, int]] = []
    length = 0
    for match in _BASE64_RUN.finditer(text):
        run = match.group().replace("-", "+").replace("_", "/")
        for align in range(4):
            chunk = run[align:]
            chunk = chunk[: len(chunk) - 1] if len(chunk) % 4 == 1 else chunk
            try:
                data = base64.b64decode(chunk + "=" * (-len(chunk) % 4))
            except (binascii.Error, ValueError):
                continue
            decoded = data.decode("latin-1") + "\0"
            source = match.start() + align
            segments.append((length, length + len(decoded), source, match.end(), _BASE64))
            out.append(decoded)
            length += len(decoded)
    if not segments:
        return None
    return View("".join(out), parent, segments, [s[0] for s in segments])


def _hex_view(parent: View) -> View | None:
    """Each run of hex digits decoded at both alignments, bytes as Latin-1, runs separated by
    a NUL (like :func:`_base64_view`)."""
    text = parent.text
    out: list[str] = []
    segments: list[tuple[int, int, int, int, int]] = []
    length = 0
    for match in _HEX_RUN.finditer(text):
        for align in range(2):
            chunk = match.group()[align:]
            decoded = bytes.fromhex(chunk[: len(chunk) // 2 * 2]).decode("latin-1") + "\0"
            segments.append(
                (length, length + len(decoded), match.start() + align, match.end(), _HEX)
            )
            out.append(decoded)
            length += len(decoded)
    if not segments:
        return None
    return View("".join(out), parent, segments, [s[0] for s in segments])


def views(text: str) -> Iterator[View]:
    """The text and every decoded view of it that differs from it."""
    root = View(text)
    yield root
    unescaped: list[View] = []
    if "\\" in text:
        once = _decode(root, _ESCAPE, _escape_pieces)
        if once is not None:
            unescaped.append(once)
            yield once
            if "\\" in once.text:
                twice = _decode(once, _ESCAPE, _escape_pieces)
                if twice is not None:
                    yield twice
    for base in (root, *unescaped):
        if "%" in base.text:
            percent = _decode(base, _PERCENT, _percent_pieces)
            if percent is not None:
                yield percent
        if "+" in base.text:
            plus = _decode(base, _PERCENT_PLUS, _percent_pieces)
            if plus is not None:
                yield plus
        for decode in (_base64_view, _hex_view):
            decoded = decode(base)
            if decoded is not None:
                yield decoded
