"""Import rules from design.md, checked by parsing every module with ``ast``.

Layers, top to bottom: cli -> runtime -> api -> services | migration -> upstream | installer
-> process -> storage -> crypto | observability -> domain; ``config`` and ``errors`` are usable
everywhere.
Nothing imports ``runtime`` but ``cli`` (design.md): ``api`` describes what it needs of the
composition root with its own Protocol (``api.runtime_port``). An import is allowed only
downward (or inside its own layer); ``upstream`` and ``installer`` are siblings and do not
import each other; ``services`` and ``migration`` reach storage only through
``storage.ports``; only ``cli`` imports ``migration``. Imports under ``if TYPE_CHECKING:``
count too: a type-only upward import is still a dependency on the upper layer's shape.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mcp_gateway"

_RANK = {
    "domain": 0,
    "crypto": 1,
    "observability": 1,
    "storage": 2,
    "process": 3,
    "installer": 4,
    "upstream": 4,
    "services": 5,
    "migration": 5,
    "api": 6,
    "runtime": 7,
    "cli": 8,
}
_EVERYWHERE = {"config", "errors", "__init__", "__main__"}


def _layer_of(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # ``from mcp_gateway import runtime`` names the layer in the alias.
            if node.module == "mcp_gateway":
                found.extend((node.lineno, f"mcp_gateway.{a.name}") for a in node.names)
    return found


def _violation(layer: str, module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "mcp_gateway" or len(parts) < 2:
        return None
    target = parts[1]
    if target in _EVERYWHERE or target == layer or target not in _RANK:
        return None
    if layer not in _RANK:
        return None
    if target == "migration" and layer != "cli":
        return "only cli imports migration"
    if _RANK[target] > _RANK[layer]:
        return f"upward import of {target!r} from {layer!r}"
    if _RANK[target] == _RANK[layer]:
        return f"sibling import of {target!r} from {layer!r}"
    if layer in ("services", "migration") and target == "storage" and parts[2:3] != ["ports"]:
        return f"{layer} must use storage.ports, not a concrete store"
    return None


def _violations() -> list[str]:
    problems: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for lineno, module in _imported_modules(tree):
            why = _violation(layer, module)
            if why:
                rel = path.relative_to(PACKAGE.parent)
                problems.append(f"{rel}:{lineno}: {module} ({why})")
    return problems


def test_no_module_imports_a_higher_layer() -> None:
    assert _violations() == []


def test_checker_flags_upward_sibling_and_concrete_store_imports() -> None:
    # The rule itself must bite, or the test above could pass vacuously.
    assert _violation("storage", "mcp_gateway.services.secrets")
    assert _violation("services", "mcp_gateway.api.app")
    assert _violation("domain", "mcp_gateway.runtime")
    assert _violation("upstream", "mcp_gateway.installer.process")
    assert _violation("process", "mcp_gateway.upstream.session")
    assert _violation("process", "mcp_gateway.installer.npm")
    assert _violation("upstream", "mcp_gateway.process.spawn") is None
    assert _violation("installer", "mcp_gateway.process.run") is None
    assert _violation("services", "mcp_gateway.storage.sqlite.db")
    assert _violation("services", "mcp_gateway.storage.ports") is None
    assert _violation("api", "mcp_gateway.runtime")  # design.md: nothing imports runtime
    assert _violation("cli", "mcp_gateway.runtime") is None
    assert _violation("domain", "mcp_gateway.errors") is None
    assert _violation("api", "mcp_gateway.migration.mcp_api")  # only cli imports migration
    assert _violation("services", "mcp_gateway.migration.mcp_api")
    assert _violation("migration", "mcp_gateway.services.secrets")
    assert _violation("migration", "mcp_gateway.storage.mongo.store")
    assert _violation("migration", "mcp_gateway.storage.ports") is None
    assert _violation("cli", "mcp_gateway.migration.mcp_api") is None


def test_checker_sees_every_layer() -> None:
    layers = {_layer_of(p) for p in PACKAGE.rglob("*.py")}
    assert set(_RANK) - {"runtime"} <= layers
    assert "runtime" in layers


def _package_trees() -> list[tuple[Path, ast.AST]]:
    return [
        (p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p)))
        for p in sorted(PACKAGE.rglob("*.py"))
    ]


def test_no_call_runs_a_shell() -> None:
    # ruff's banned-api cannot see keyword arguments; argv lists only.
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for path, tree in _package_trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and not kw.value.value)
    ]
    assert offenders == []


def test_test_only_mongodb_server_is_never_imported_by_the_package() -> None:
    # secantusdb is GPL and test-only; storage/** is exempt from ruff's ban for its drivers.
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{lineno}"
        for path, tree in _package_trees()
        for lineno, module in _imported_modules(tree)
        if module.split(".")[0] == "secantus"
    ]
    assert offenders == []
