"""npm / pip(uv) installs into isolated directories under the packages dir.

The composition root calls :func:`build_installers` and hands the result to
:class:`~mcp_gateway.services.packages.PackageService`.
"""

from __future__ import annotations

from mcp_gateway.config import Settings
from mcp_gateway.domain.records import PackageRuntime
from mcp_gateway.installer.base import Installer, InstallResult, InstallSpec
from mcp_gateway.installer.npm import NpmInstaller
from mcp_gateway.installer.python import PythonInstaller
from mcp_gateway.process.sandbox import Sandbox

__all__ = [
    "InstallResult",
    "InstallSpec",
    "Installer",
    "NpmInstaller",
    "PythonInstaller",
    "build_installers",
]


def build_installers(
    settings: Settings, sandbox: Sandbox | None = None
) -> dict[PackageRuntime, Installer]:
    """One installer per runtime from the installer settings (validates the index URLs).

    With an enabled ``sandbox``, npm/pip/uv run in namespaces that hide the data directory and
    the gateway's processes (as the gateway's uid, with the network)."""
    cfg = settings.installer
    return {
        PackageRuntime.NODE: NpmInstaller(
            cfg.packages_dir / "node",
            timeout=cfg.install_timeout,
            registry=cfg.npm_registry,
            sandbox=sandbox,
        ),
        PackageRuntime.PYTHON: PythonInstaller(
            settings.venv_root,
            timeout=cfg.install_timeout,
            python_bin=cfg.python_bin,
            index_url=cfg.pip_index_url,
            extra_index_url=cfg.pip_extra_index_url,
            sandbox=sandbox,
        ),
    }
