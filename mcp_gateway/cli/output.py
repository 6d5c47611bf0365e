"""Output: rich tables for people, ``--json`` for scripts.

``--json`` writes exactly one JSON document to stdout (the command's data, no decoration,
keys in the gateway's order); everything else a command says goes to stderr. Consoles are made
per call so they follow whatever ``sys.stdout``/``sys.stderr`` are at that moment.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def stdout_console() -> Console:
    return Console(soft_wrap=False, highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """One JSON document on stdout, newline-terminated."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def cell(value: Any) -> str:
    """A table cell: '-' for nothing, JSON for structures, escaped text otherwise."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return escape(json.dumps(value, ensure_ascii=False))
    return escape(str(value))


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    table = Table(*columns, title=title, title_justify="left", header_style="bold")
    count = 0
    for row in rows:
        table.add_row(*(cell(v) for v in row))
        count += 1
    console = stdout_console()
    if count == 0:
        console.print(f"(no {title.lower() if title else 'rows'})")
        return
    console.print(table)


def print_fields(fields: Iterable[tuple[str, Any]]) -> None:
    """A two-column key/value listing (for ``show`` commands)."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in fields:
        table.add_row(escape(key), cell(value))
    stdout_console().print(table)


def say(message: str) -> None:
    """A human confirmation line on stdout (suppressed by callers in ``--json`` mode)."""
    stdout_console().print(escape(message))


def warn(message: str) -> None:
    print(f"mcp-gateway: {message}", file=sys.stderr)


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
