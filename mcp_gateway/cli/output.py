"""Output: tables for people, ``--json`` for scripts.

``--json`` writes exactly one JSON document to stdout (the command's data, no decoration,
keys in the gateway's order); everything else a command says goes to stderr. Consoles are made
per call so they follow whatever ``sys.stdout``/``sys.stderr`` are at that moment.

Text from upstream servers (tool names, descriptions, results, logs, ``lastError``) may carry
terminal control sequences: every string printed passes :func:`clean`, which drops escape
sequences and shows other control characters as visible ``\\xNN`` escapes.

Tables never wrap or cut data (ids must be copyable whole): on a terminal the table is as
wide as its widest row needs, even wider than the window; elsewhere (a pipe, a file) rows are
tab-separated plain text under a header line.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

# ESC sequences: CSI (ESC [ ... final), OSC/DCS/PM/APC/SOS (ESC ] ... BEL or ST), and the
# two-byte forms; their 8-bit C1 introducers too. Dropped whole.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# Left: C0 controls but tab and newline, DEL, C1, bidi embeddings/overrides/isolates.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """``text`` safe for a terminal: escape sequences removed, other control characters
    (and bidi overrides) shown as ``\\xNN``/``\\uNNNN``; tabs and newlines kept."""
    text = _SEQUENCE.sub("", text.replace("\r\n", "\n"))
    return _CONTROL.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def stdout_console() -> Console:
    return Console(soft_wrap=False, highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


# JSON escapes C0 itself; C1 and bidi controls pass through ensure_ascii=False raw.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def print_json(data: Any) -> None:
    """One JSON document on stdout, newline-terminated (terminal-unsafe characters escaped
    as ``\\uNNNN``, so it parses to the same data)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def plain(value: Any) -> str:
    """A value as one line of clean text: '-' for nothing, JSON for structures."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return clean(json.dumps(value, ensure_ascii=False))
    return clean(str(value))


def cell(value: Any) -> str:
    """A rich table cell: :func:`plain` with rich markup escaped."""
    return escape(plain(value))


def _tsv(value: Any) -> str:
    return plain(value).replace("\t", "\\t").replace("\n", "\\n")


def _print_unwrapped(console: Console, table: Table) -> None:
    """``table`` at its natural width, wider than the window if need be: never wrapped."""
    unbounded = console.options.update(width=1 << 16)
    needed = Measurement.get(console, unbounded, table).maximum
    console.width = max(console.width, needed)
    console.print(table, crop=False)


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """A table on a terminal; tab-separated lines (header first) anywhere else."""
    materialised = [list(row) for row in rows]
    console = stdout_console()
    if not materialised:
        console.print(f"(no {title.lower() if title else 'rows'})")
        return
    if not console.is_terminal:
        lines = ["\t".join(columns)] + ["\t".join(_tsv(v) for v in row) for row in materialised]
        write_text("\n".join(lines))
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=True, overflow="ignore")
    for row in materialised:
        table.add_row(*(cell(v) for v in row))
    _print_unwrapped(console, table)


def print_fields(fields: Iterable[tuple[str, Any]]) -> None:
    """A key/value listing (for ``show`` commands): aligned on a terminal, ``key<TAB>value``
    lines anywhere else."""
    pairs = list(fields)
    console = stdout_console()
    if not console.is_terminal:
        write_text("\n".join(f"{clean(key)}\t{_tsv(value)}" for key, value in pairs))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True, overflow="ignore")
    for key, value in pairs:
        table.add_row(escape(clean(key)), cell(value))
    _print_unwrapped(console, table)


def write_text(text: str, *, err: bool = False) -> None:
    """Upstream-provided text (tool results, logs), cleaned, as is: no markup, no wrapping."""
    stream = sys.stderr if err else sys.stdout
    stream.write(clean(text).rstrip("\n") + "\n")
    stream.flush()


def say(message: str) -> None:
    """A human confirmation line on stdout (suppressed by callers in ``--json`` mode)."""
    write_text(message)


def warn(message: str) -> None:
    write_text(f"mcp-gateway: {message}", err=True)


class _Elapsed:
    """A status text that shows the seconds elapsed each time rich re-renders it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.start = time.monotonic()

    def __rich__(self) -> str:
        return f"{escape(self.text)} [dim]{time.monotonic() - self.start:.0f}s[/dim]"


@contextmanager
def spinner(text: str) -> Iterator[None]:
    """A live spinner with elapsed time on stderr while the block runs (only on a terminal)."""
    console = stderr_console()
    if not console.is_terminal:
        yield
        return
    with console.status(_Elapsed(text), spinner="dots"):
        yield
