"""Root fixtures. Backends are real: SQLite files in tmp dirs, a MongoDB-wire server."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
