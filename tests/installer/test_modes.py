"""Install directories stay readable for sandboxed servers, which run under other uids."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_gateway.installer.base import new_install_dir
from mcp_gateway.process.run import run_command


@pytest.fixture
def strict_umask() -> Iterator[None]:
    old = os.umask(0o077)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("strict_umask")
def test_install_dirs_are_0755_up_to_the_root_whatever_the_umask(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = outside / "packages" / "node"
    target = new_install_dir(root, "fx")
    assert [_mode(p) for p in (target, target.parent, root)] == [0o755] * 3
    assert _mode(outside) == 0o700  # nothing above the installer's root is touched


@pytest.mark.anyio
@pytest.mark.usefixtures("strict_umask")
async def test_installer_commands_write_world_readable_files(tmp_path: Path) -> None:
    script = "import pathlib, sys; pathlib.Path(sys.argv[1], 'f').write_text('x')"
    result = await run_command([sys.executable, "-c", script, str(tmp_path)], time_limit=30)
    assert result.ok, result.output
    assert _mode(tmp_path / "f") == 0o644
