"""Pytest fixtures shared by installer and package-service tests (import them by name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.installer.local_registry import (
    Artifacts,
    LocalRegistry,
    build_artifacts,
    npm_available,
    start_registry,
)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """Every fixture version built once per session (npm pack, wheels)."""
    if not npm_available():
        pytest.skip("node and npm are needed to build the npm fixture package")
    base = tmp_path_factory.getbasetemp() / "package-artifacts"
    base.mkdir(exist_ok=True)
    return build_artifacts(base)


@pytest.fixture
def registry(artifacts: Artifacts, tmp_path: Path) -> Iterator[LocalRegistry]:
    """All fixture versions published; npm ``latest`` and the index's highest are broken."""
    reg = start_registry(artifacts, tmp_path)
    yield reg
    reg.stop()
