"""The one error tree: every GatewayError subclass lives in mcp_gateway.errors and is drawn in
its docstring (with its status and code)."""

from __future__ import annotations

import importlib
import pkgutil

import mcp_gateway
from mcp_gateway import errors
from mcp_gateway.errors import GatewayError


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def test_every_gateway_error_is_defined_in_errors_and_drawn_in_its_tree() -> None:
    for info in pkgutil.walk_packages(mcp_gateway.__path__, "mcp_gateway."):
        if info.name != "mcp_gateway.__main__":
            importlib.import_module(info.name)
    subclasses = _all_subclasses(GatewayError)
    assert len(subclasses) > 20
    doc = errors.__doc__ or ""
    for cls in subclasses:
        assert cls.__module__ == "mcp_gateway.errors", f"{cls.__qualname__} in {cls.__module__}"
        line = next((ln for ln in doc.splitlines() if f" {cls.__name__} " in ln), None)
        assert line is not None, f"{cls.__name__} missing from the tree in errors.py"
        assert str(cls.status) in line or cls.status == 500, line
