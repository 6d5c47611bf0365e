"""Package directories are named by the server name's slug; removing a package also removes
the slot of an install made before slots were named that way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import anyio
import pytest

from mcp_gateway.domain.names import server_slug
from mcp_gateway.domain.records import PackageRecord, PackageRuntime
from mcp_gateway.installer import NpmInstaller
from mcp_gateway.installer.base import InstallSpec, new_install_dir
from mcp_gateway.installer.models import InstallRequest
from mcp_gateway.services import package_dirs
from mcp_gateway.services.package_dirs import PackageDirs
from mcp_gateway.services.packages import PackageService
from mcp_gateway.storage.ports import Store
from tests.installer.fixtures import artifacts, registry
from tests.installer.local_registry import NPM_NAME
from tests.services.package_setup import pool, servers, service

__all__ = ["artifacts", "pool", "registry", "servers", "service"]


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


@pytest.mark.anyio
async def test_an_upgrade_of_a_pre_slug_install_moves_it_into_the_slug_slot(
    service: PackageService, sqlite_store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "packages" / "node"
    await service.install(InstallRequest(NPM_NAME, "GitHub", version="1.9.0"))
    record = await service.get("GitHub")
    # as an install made before slots were named by slug: in the slot named "GitHub"
    legacy = root / "GitHub" / Path(record.install_dir).name
    await anyio.Path(legacy.parent).mkdir()
    await anyio.Path(record.install_dir).rename(legacy)
    await anyio.Path(record.install_dir).parent.rmdir()
    await sqlite_store.put_package(dataclasses.replace(record, install_dir=str(legacy)))
    await service.upgrade("GitHub", "1.10.0")
    upgraded = await service.get("GitHub")
    assert Path(upgraded.install_dir).parent == root / server_slug("GitHub")
    assert not (root / "GitHub").exists()  # the old slot went with the old install


class _Stop(Exception):
    pass


@pytest.mark.anyio
async def test_a_recorded_directory_counts_as_installing_from_before_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follower's hold check (services/package_replicas.py) must never find the directory
    it is about to fill there, empty and not marked as installing."""
    dirs, root = _dirs(tmp_path)
    installer = dirs.installers[PackageRuntime.NODE]
    at = (root / server_slug("fx")).resolve() / "i-recorded"
    seen: list[bool] = []
    real = package_dirs.make_install_dir

    def observed(target: Path, in_root: Path) -> Path:
        made = real(target, in_root)
        seen.append(dirs.installing(made))  # what a hold check would find at this moment
        raise _Stop

    monkeypatch.setattr(package_dirs, "make_install_dir", observed)
    spec = installer.validate(InstallSpec(NPM_NAME, "1.9.0"))
    with pytest.raises(_Stop):
        await dirs.install_new(installer, "fx", spec, None, at=at)
    assert seen == [True]
    assert not dirs.installing(at)
