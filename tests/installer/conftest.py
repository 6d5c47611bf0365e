"""Fixtures for installer tests: the hermetic package artifacts and a local registry."""

from tests.installer.fixtures import artifacts, registry

__all__ = ["artifacts", "registry"]
