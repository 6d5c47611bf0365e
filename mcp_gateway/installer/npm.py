"""npm installs: ``npm install --prefix <dir>`` with scripts off, command derived from ``bin``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp_gateway.domain.records import PackageRuntime
from mcp_gateway.errors import InstallFailed, InvalidRequest
from mcp_gateway.installer.base import InstallResult, InstallSpec, refuse_warnings
from mcp_gateway.installer.process import LineCallback, run_checked
from mcp_gateway.installer.registry import npm_latest_version
from mcp_gateway.installer.semver import semver_newer
from mcp_gateway.installer.validation import (
    ensure_inside,
    validate_index_url,
    validate_npm_name,
    validate_npm_version,
)
from mcp_gateway.process.env import minimal_env
from mcp_gateway.process.sandbox import Sandbox


class NpmInstaller:
    """Installs npm packages into ``<root>/<server>/<attempt>`` (``root`` = packages/node)."""

    runtime = PackageRuntime.NODE

    def __init__(
        self,
        root: Path,
        *,
        timeout: float,
        registry: str | None = None,
        npm_bin: str = "npm",
        node_bin: str = "node",
        sandbox: Sandbox | None = None,
    ) -> None:
        """``sandbox``: run npm in namespaces that hide the data directory."""
        self.root = root
        self.sandbox = sandbox
        self.timeout = timeout
        # Operator setting; tests point it at a local registry. Validated like a request URL.
        self.registry = validate_index_url(registry, "npmRegistry")
        self.npm_bin = npm_bin
        self.node_bin = node_bin

    def validate(self, spec: InstallSpec) -> InstallSpec:
        validate_npm_name(spec.name)
        validate_npm_version(spec.version)
        if spec.python_module or spec.index_url or spec.extra_index_url or spec.pip_dependencies:
            raise InvalidRequest(
                "pythonModule, pipDependencies and pip index URLs apply to Python packages only"
            )
        return spec

    def _env(self) -> dict[str, str]:
        # The operator's npmrc (mirror, CA) still applies; our flags on the command line win
        # over it, so an npmrc cannot turn install scripts back on. The registry goes in the
        # environment (which also wins over an npmrc), never on the command line that every
        # local user can read: its URL may embed a credential.
        env = {"npm_config_update_notifier": "false", "npm_config_loglevel": "warn"}
        if self.registry:
            env["npm_config_registry"] = self.registry
        return minimal_env(env)

    async def install(
        self, spec: InstallSpec, target: Path, *, on_line: LineCallback | None = None
    ) -> InstallResult:
        """Install ``spec`` into the (fresh, existing) directory ``target``.

        Raises InvalidRequest for a bad name/version, InstallFailed (with the bounded log) when
        npm fails or times out or the package has no usable ``bin``.
        """
        self.validate(spec)
        target = ensure_inside(target, self.root)
        # A package.json of our own keeps npm from walking up to a parent project.
        (target / "package.json").write_text('{"name": "mcpgw-install", "private": true}\n')
        argv = [
            self.npm_bin,
            "install",
            "--prefix",
            str(target),
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--no-package-lock",
        ]
        if not spec.allow_scripts:
            argv.append("--ignore-scripts")
        argv.append(f"{spec.name}@{spec.version or 'latest'}")
        result = await run_checked(
            argv,
            time_limit=self.timeout,
            what=f"npm install {spec.name}",
            cwd=target,
            env=self._env(),
            on_line=on_line,
            sandbox=self.sandbox,
        )
        refuse_warnings(spec, result.output)
        package_dir = target / "node_modules" / spec.name
        manifest = _read_manifest(package_dir, spec.name, result.output)
        version = manifest.get("version")
        if not isinstance(version, str) or not version:
            raise InstallFailed(f"{spec.name} has no version in its package.json", result.output)
        bin_path = _pick_bin(manifest, spec.name, package_dir)
        return InstallResult(
            name=spec.name,
            version=version,
            install_dir=target,
            command=self.node_bin if bin_path else None,
            args=(str(bin_path),) if bin_path else (),
            log=result.output,
        )

    async def latest_version(self, spec: InstallSpec) -> str:
        return await npm_latest_version(validate_npm_name(spec.name), self.registry)

    def is_newer(self, candidate: str, installed: str) -> bool:
        try:
            return semver_newer(candidate, installed)
        except ValueError:
            return False


def _read_manifest(package_dir: Path, name: str, log: str) -> dict[str, Any]:
    try:
        manifest = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InstallFailed(f"npm did not install {name} (no package.json)", log) from exc
    if not isinstance(manifest, dict):
        raise InstallFailed(f"{name} has an unreadable package.json", log)
    return manifest


def _pick_bin(manifest: dict[str, Any], name: str, package_dir: Path) -> Path | None:
    """The executable script of the package, or None if it declares none.

    ``bin`` is a string (named like the unscoped package) or an object; with several entries
    the one named like the unscoped package wins, else the only one. Ambiguity is an error.
    Without ``bin``, ``main`` is the entry script (as mcp-api resolves it).
    """
    declared = manifest.get("bin")
    unscoped = name.rsplit("/", 1)[-1]
    entries: dict[str, str] = {}
    if isinstance(declared, str):
        entries = {unscoped: declared}
    elif isinstance(declared, dict):
        entries = {str(k): v for k, v in declared.items() if isinstance(v, str)}
    main = manifest.get("main")
    if not entries and isinstance(main, str) and main:
        entries = {unscoped: main}
    if not entries:
        return None
    if unscoped in entries:
        relative = entries[unscoped]
    elif len(entries) == 1:
        relative = next(iter(entries.values()))
    else:
        raise InstallFailed(
            f"{name} declares several executables ({', '.join(sorted(entries))}); "
            "give command and args"
        )
    try:
        return ensure_inside(package_dir / relative, package_dir)
    except InvalidRequest as exc:  # a bin pointing outside its own package is refused
        raise InstallFailed(f"{name} declares an executable outside its package") from exc
