"""Helpers for tests that look at real processes through /proc."""

from __future__ import annotations

import os
from pathlib import Path


def processes_with(token: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in cmdline.split(b"\0") and state != b"Z":
            found.append(int(entry.name))
    return found
