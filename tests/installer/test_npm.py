"""npm installs from a local registry: exact version, command from ``bin``, scripts off."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_gateway.errors import InstallFailed, InvalidRequest
from mcp_gateway.installer import InstallSpec, NpmInstaller
from mcp_gateway.installer.base import new_install_dir
from mcp_gateway.installer.npm import _pick_bin
from tests.installer.local_registry import NPM_NAME, Artifacts, LocalRegistry
from tests.installer.mcp_probe import call_version_tool

pytestmark = pytest.mark.anyio


def _installer(tmp_path: Path, registry: LocalRegistry) -> NpmInstaller:
    return NpmInstaller(tmp_path / "packages" / "node", timeout=120, registry=registry.npm_url)


async def test_installs_the_exact_version_and_derives_the_command_from_bin(
    tmp_path: Path, registry: LocalRegistry, artifacts: Artifacts
) -> None:
    artifacts.marker.unlink(missing_ok=True)
    npm = _installer(tmp_path, registry)
    target = new_install_dir(npm.root, "fx")
    result = await npm.install(InstallSpec(NPM_NAME, "~1.9"), target)
    assert result.version == "1.9.0"  # read back from node_modules, not the range
    assert result.command == "node"
    bin_path = target / "node_modules" / NPM_NAME / "index.js"
    assert result.args == (str(bin_path.resolve()),)
    tools, text = await call_version_tool(result.command, result.args)
    assert tools == ["version"]
    assert text == "1.9.0"
    # The package has a postinstall script; it must not have run.
    assert not artifacts.marker.exists()


async def test_latest_installs_the_dist_tag_version(
    tmp_path: Path, registry: LocalRegistry
) -> None:
    registry.npm[NPM_NAME]["dist-tags"]["latest"] = "1.10.0"
    npm = _installer(tmp_path, registry)
    result = await npm.install(InstallSpec(NPM_NAME), new_install_dir(npm.root, "fx"))
    assert result.version == "1.10.0"


async def test_install_scripts_run_only_when_allowed(
    tmp_path: Path, registry: LocalRegistry, artifacts: Artifacts
) -> None:
    artifacts.marker.unlink(missing_ok=True)
    npm = _installer(tmp_path, registry)
    await npm.install(
        InstallSpec(NPM_NAME, "1.9.0", allow_scripts=True), new_install_dir(npm.root, "fx")
    )
    assert artifacts.marker.read_text() == "postinstall ran"
    artifacts.marker.unlink()


async def test_latest_version_and_semver_ordering(tmp_path: Path, registry: LocalRegistry) -> None:
    registry.npm[NPM_NAME]["dist-tags"]["latest"] = "1.10.0"
    npm = _installer(tmp_path, registry)
    assert await npm.latest_version(InstallSpec(NPM_NAME)) == "1.10.0"
    assert npm.is_newer("1.10.0", "1.9.0")  # not string order
    assert not npm.is_newer("1.9.0", "1.10.0")
    assert npm.is_newer("2.0.0", "2.0.0-rc.1")
    assert npm.is_newer("2.0.0-rc.10", "2.0.0-rc.9")
    assert not npm.is_newer("1.0.0", "1.0.0")


async def test_unknown_package_fails_with_npm_log(tmp_path: Path, registry: LocalRegistry) -> None:
    npm = _installer(tmp_path, registry)
    with pytest.raises(InstallFailed, match="npm install no-such-pkg failed") as caught:
        await npm.install(InstallSpec("no-such-pkg"), new_install_dir(npm.root, "fx"))
    assert "404" in caught.value.log
    with pytest.raises(InstallFailed, match="not on the registry"):
        await npm.latest_version(InstallSpec("no-such-pkg"))


def _recording_npm(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in npm that records its arguments and registry setting, then fails."""
    marker = tmp_path / "npm-started"
    fake = tmp_path / "fake-npm"
    record = f'printf "%s\\n" "$@" "env-registry=$npm_config_registry" > {marker}'
    fake.write_text(f"#!/bin/sh\n{record}\nexit 1\n")
    fake.chmod(0o755)
    return fake, marker


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("--index-url=http://evil.test/", None),
        (f"x;touch /tmp/p-{__name__}", None),
        ("../../etc", None),
        ("git+https://github.com/x/y.git", None),
        ("file:../evil", None),
        ("http://evil.test/x.tgz", None),
        ("ok-name", "--registry=http://evil.test/"),
        ("ok-name", "1.0.0;touch /tmp/p"),
        ("ok-name", "file:../../etc"),
        ("ok-name", "git+ssh://git@github.com/x/y"),
        ("ok-name", "github:user/repo"),
    ],
)
async def test_malicious_input_is_refused_before_npm_starts(
    tmp_path: Path, name: str, version: str | None
) -> None:
    fake, marker = _recording_npm(tmp_path)
    npm = NpmInstaller(tmp_path / "node", timeout=30, npm_bin=str(fake))
    with pytest.raises(InvalidRequest):
        await npm.install(InstallSpec(name, version), new_install_dir(npm.root, "fx"))
    assert not marker.exists()
    # The same installer does start npm for a well-formed request (the probe works).
    with pytest.raises(InstallFailed):
        await npm.install(InstallSpec("ok-name", "1.0.0"), new_install_dir(npm.root, "fx"))
    assert marker.exists()


def test_bin_selection_rules(tmp_path: Path) -> None:
    assert _pick_bin({"name": "x"}, "x", tmp_path) is None
    assert _pick_bin({"bin": "cli.js"}, "@s/x", tmp_path) == (tmp_path / "cli.js").resolve()
    assert (
        _pick_bin({"bin": {"a": "a.js", "x": "x.js"}}, "@s/x", tmp_path)
        == (tmp_path / "x.js").resolve()
    )
    with pytest.raises(InstallFailed, match="several executables"):
        _pick_bin({"bin": {"a": "a.js", "b": "b.js"}}, "x", tmp_path)
    with pytest.raises(InstallFailed, match="outside its package"):
        _pick_bin({"bin": "../../evil.js"}, "x", tmp_path / "pkg")


async def test_a_registry_credential_is_passed_in_the_environment_not_on_the_command_line(
    tmp_path: Path,
) -> None:
    # A process's command line is readable by every local user (ps, /proc/<pid>/cmdline).
    fake, marker = _recording_npm(tmp_path)
    registry = "https://ci:npm-canary-31a7@npm.internal.example/"
    npm = NpmInstaller(tmp_path / "node", timeout=30, npm_bin=str(fake), registry=registry)
    with pytest.raises(InstallFailed):
        await npm.install(InstallSpec("ok-name", "1.0.0"), new_install_dir(npm.root, "fx"))
    lines = marker.read_text().splitlines()
    assert f"env-registry={registry}" in lines
    assert not any("npm-canary" in line for line in lines if not line.startswith("env-"))
