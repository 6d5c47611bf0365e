"""Private MCP SDK API is reached from one module per side only: upstream/sdk.py (the client
side) and api/downstream/sdk_sessions.py (the server side: the session manager's internals)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mcp_gateway"
BOUNDARIES = (
    PACKAGE / "upstream" / "sdk.py",
    PACKAGE / "api" / "downstream" / "sdk_sessions.py",
)
INTERNAL_NAMES = {"StreamableHTTPTransport", "create_context_streams"}


def _private_sdk_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        modules: list[str] = []
        names: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            names = [alias.name for alias in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] != "mcp":
                continue
            if any(part.startswith("_") for part in parts) or INTERNAL_NAMES & set(names):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {module}")
            found.extend(
                f"{path.relative_to(PACKAGE)}:{node.lineno} {module}.{name}"
                for name in names
                if name.startswith("_")
            )
    return found


def test_only_upstream_sdk_imports_private_sdk_modules_or_internals() -> None:
    offenders = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in BOUNDARIES
        for hit in _private_sdk_imports(path)
    ]
    assert offenders == []
    for boundary in BOUNDARIES:
        assert _private_sdk_imports(boundary)  # the boundary itself is where they live
