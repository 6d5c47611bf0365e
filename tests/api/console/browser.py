"""A real headless Chromium (Debian's ``chromium``, driven by Playwright) against a real
``mcp-gateway serve`` process. Playwright's own browser download is never used: the tests
skip, saying why, when the executable (``MCPGW_TEST_CHROMIUM``, default
``/usr/bin/chromium``) or the playwright package is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("MCPGW_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def skip_reason() -> str | None:
    if not Path(CHROMIUM).is_file():
        return (
            f"no chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium) "
            "or set MCPGW_TEST_CHROMIUM"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


requires_chromium = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def launch(playwright: Any) -> Any:
    # --no-sandbox: CI runs as root, where Chromium's own sandbox refuses to start.
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
