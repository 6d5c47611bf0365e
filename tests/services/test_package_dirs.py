"""Package directories are named by the server name's slug; removing a package also removes
the slot of an install made before slots were named that way."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_gateway.domain.names import server_slug
from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.installer import NpmInstaller
from mcp_gateway.installer.base import new_install_dir
from mcp_gateway.services.package_dirs import PackageDirs


def _dirs(tmp_path: Path) -> tuple[PackageDirs, Path]:
    root = tmp_path / "packages" / "node"
    root.mkdir(parents=True)
    return PackageDirs({PackageRuntime.NODE: NpmInstaller(root, timeout=10)}), root


def test_a_new_install_goes_into_the_slug_slot_never_a_path_made_of_the_name(
    tmp_path: Path,
) -> None:
    _, root = _dirs(tmp_path)
    for name in ("My Server.v2", "..x", "GitHub"):
        target = new_install_dir(root, name)
        assert target.parent == root / server_slug(name) and target.is_dir()
    assert sorted(p.name for p in root.iterdir()) == sorted(
        server_slug(n) for n in ("My Server.v2", "..x", "GitHub")
    )


@pytest.mark.anyio
async def test_removing_a_package_installed_before_slugs_removes_its_old_slot_too(
    tmp_path: Path,
) -> None:
    dirs, root = _dirs(tmp_path)
    legacy = root / "GitHub" / "i-20250101000000-abcdef"  # the slot was the name itself
    legacy.mkdir(parents=True)
    (legacy / "package.json").write_text("{}")
    neighbour = root / "github" / "i-20250101000000-123456"
    neighbour.mkdir(parents=True)
    record = PackageRecord("GitHub", "pkg", PackageRuntime.NODE, "1.0.0", install_dir=str(legacy))
    await dirs.remove_all(record)
    assert not (root / "GitHub").exists()
    assert neighbour.is_dir()  # another server's slot is left alone
