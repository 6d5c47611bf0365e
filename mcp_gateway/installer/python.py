"""Python installs: one venv per install attempt, built with uv when present, else venv + pip."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mcp_gateway.domain.exposure import definition_secrets
from mcp_gateway.domain.records import PackageRuntime
from mcp_gateway.domain.redaction import Masker
from mcp_gateway.errors import InstallFailed, InvalidRequest
from mcp_gateway.installer.base import InstallResult, InstallSpec, refuse_warnings
from mcp_gateway.installer.process import LineCallback, run_checked
from mcp_gateway.installer.registry import python_latest_version
from mcp_gateway.installer.validation import (
    ensure_inside,
    python_requirement_suffix,
    validate_index_url,
    validate_pip_dependencies,
    validate_pypi_name,
    validate_python_module,
)
from mcp_gateway.process.env import minimal_env
from mcp_gateway.process.sandbox import Sandbox

# Runs inside the new venv (argv, isolated mode): exact version and console scripts.
_METADATA_SCRIPT = (
    "import importlib.metadata as m, json, sys\n"
    "d = m.distribution(sys.argv[1])\n"
    "print(json.dumps({'version': d.version, 'scripts': sorted(e.name for e in d.entry_points "
    "if e.group == 'console_scripts')}))\n"
)


def find_uv() -> str | None:
    """``uv`` on PATH, else beside the gateway's own interpreter (a venv install of uv)."""
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


class PythonInstaller:
    """Installs PyPI distributions into ``<root>/<server>/<attempt>`` venvs."""

    runtime = PackageRuntime.PYTHON

    def __init__(
        self,
        root: Path,
        *,
        timeout: float,
        python_bin: str | None = None,
        index_url: str | None = None,
        extra_index_url: str | None = None,
        use_uv: bool | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        """``use_uv``: None picks uv when found, True requires it, False forces venv + pip.
        ``sandbox``: run uv/pip in namespaces that hide the data directory."""
        self.root = root
        self.sandbox = sandbox
        self.timeout = timeout
        self.python_bin = python_bin or sys.executable
        self.index_url = validate_index_url(index_url, "pipIndexUrl")
        self.extra_index_url = validate_index_url(extra_index_url, "pipExtraIndexUrl")
        self.uv_bin = find_uv() if use_uv is not False else None
        if use_uv and self.uv_bin is None:
            raise InstallFailed("uv was requested but is not installed")

    def validate(self, spec: InstallSpec) -> InstallSpec:
        validate_pypi_name(spec.name)
        python_requirement_suffix(spec.version)
        validate_python_module(spec.python_module)
        validate_index_url(spec.index_url, "pipIndexUrl")
        validate_index_url(spec.extra_index_url, "pipExtraIndexUrl")
        validate_pip_dependencies(list(spec.pip_dependencies))
        if spec.allow_scripts:
            raise InvalidRequest("allowScripts applies to npm packages only")
        return spec

    def _index_env(self, spec: InstallSpec) -> dict[str, str]:
        """Index URLs as environment variables, not flags: a URL may embed a credential, and
        a command line is readable by every local user (``ps``)."""
        index = spec.index_url or self.index_url
        extra = spec.extra_index_url or self.extra_index_url
        names = (
            ("UV_DEFAULT_INDEX", "UV_INDEX")
            if self.uv_bin
            else ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
        )
        return {name: url for name, url in zip(names, (index, extra), strict=True) if url}

    async def install(
        self, spec: InstallSpec, target: Path, *, on_line: LineCallback | None = None
    ) -> InstallResult:
        """Create a venv at ``target`` and install ``spec`` into it.

        Raises InvalidRequest for bad input, InstallFailed (with the bounded log) when the venv
        or the install fails or times out, or no command can be derived.
        """
        self.validate(spec)
        venv = ensure_inside(target, self.root)
        python = venv / "bin" / "python"
        requirements = [
            spec.name + (python_requirement_suffix(spec.version) or ""),
            *validate_pip_dependencies(list(spec.pip_dependencies)),
        ]
        # The operator's pip.conf/uv.toml (mirror, CA) still apply; request URLs override them.
        index_env = self._index_env(spec)
        env = minimal_env({"PIP_NO_INPUT": "1", **index_env})
        # pip and uv print index URLs (pip masks a password only, never a query string).
        masker = Masker.of(
            value for url in index_env.values() for value in definition_secrets({}, {}, url)
        )
        if masker and on_line is not None:
            on_line = _masking(on_line, masker)
        what = f"install of {spec.name}"
        logs: list[str] = []
        if self.uv_bin:
            steps = [
                [self.uv_bin, "venv", "--python", self.python_bin, str(venv)],
                [self.uv_bin, "pip", "install", "--python", str(python), *requirements],
            ]
        else:
            steps = [
                [self.python_bin, "-m", "venv", str(venv)],
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    *requirements,
                ],
            ]
        try:
            for argv in steps:
                result = await run_checked(
                    argv,
                    time_limit=self.timeout,
                    what=what,
                    cwd=venv,
                    env=env,
                    on_line=on_line,
                    sandbox=self.sandbox,
                )
                logs.append(result.output)
            meta = await run_checked(
                [str(python), "-I", "-c", _METADATA_SCRIPT, spec.name],
                time_limit=min(self.timeout, 60.0),
                what=f"reading the metadata of {spec.name}",
                cwd=venv,
                env=env,
                sandbox=self.sandbox,
            )
        except InstallFailed as exc:
            if not masker:
                raise
            raise InstallFailed(masker.mask(exc.message), masker.mask(exc.log)) from None
        log = masker.mask("".join(logs)[-64 * 1024 :])
        refuse_warnings(spec, log)
        try:
            info = json.loads(meta.output.strip().splitlines()[-1])
            version = str(info["version"])
            scripts = [str(s) for s in info["scripts"]]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise InstallFailed(f"cannot read the installed version of {spec.name}", log) from exc
        command, args = self._command(spec, venv, scripts)
        return InstallResult(spec.name, version, venv, command, args, log)

    def _command(
        self, spec: InstallSpec, venv: Path, scripts: list[str]
    ) -> tuple[str | None, tuple[str, ...]]:
        if spec.python_module:
            # unbuffered, as mcp-api runs it: a server's replies must not sit in a buffer
            return str(venv / "bin" / "python"), ("-u", "-m", spec.python_module)
        wanted = canonicalize_name(spec.name)
        named = [s for s in scripts if canonicalize_name(s) == wanted]
        if named:
            script = named[0]
        elif len(scripts) == 1:
            script = scripts[0]
        elif not scripts:
            return None, ()
        else:
            raise InstallFailed(
                f"{spec.name} has several console scripts ({', '.join(scripts)}); "
                "give pythonModule or command"
            )
        return str(ensure_inside(venv / "bin" / script, venv)), ()

    async def latest_version(self, spec: InstallSpec) -> str:
        return await python_latest_version(
            validate_pypi_name(spec.name),
            spec.index_url or self.index_url,
            spec.extra_index_url or self.extra_index_url,
        )

    def is_newer(self, candidate: str, installed: str) -> bool:
        try:
            return Version(candidate) > Version(installed)
        except InvalidVersion:
            return False


def _masking(on_line: LineCallback, masker: Masker) -> LineCallback:
    def masked(line: str) -> None:
        on_line(masker.mask(line))

    return masked
