"""Python installs from a local simple index: venv per attempt, uv or pip, exact version."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_gateway.errors import InstallFailed, InvalidRequest
from mcp_gateway.installer import InstallSpec, PythonInstaller
from mcp_gateway.installer.base import new_install_dir
from mcp_gateway.installer.python import find_uv
from tests.installer.local_registry import (
    PY_MODULE,
    PY_NAME,
    Artifacts,
    LocalRegistry,
    start_registry,
)
from tests.installer.mcp_probe import call_version_tool

pytestmark = pytest.mark.anyio


def _installer(tmp_path: Path, registry: LocalRegistry, *, use_uv: bool | None) -> PythonInstaller:
    return PythonInstaller(
        tmp_path / "packages" / "python",
        timeout=120,
        index_url=registry.index_url,
        use_uv=use_uv,
    )


@pytest.mark.parametrize(
    "use_uv",
    [
        False,
        pytest.param(True, marks=pytest.mark.skipif(find_uv() is None, reason="uv not installed")),
    ],
    ids=["pip", "uv"],
)
@pytest.mark.slow
async def test_installs_exact_version_with_its_console_script(
    tmp_path: Path, registry: LocalRegistry, use_uv: bool
) -> None:
    py = _installer(tmp_path, registry, use_uv=use_uv)
    assert (py.uv_bin is not None) is use_uv
    target = new_install_dir(py.root, "fx")
    result = await py.install(InstallSpec(PY_NAME, ">=0.9,<0.10"), target)
    assert result.version == "0.9.0"
    assert result.command == str((target / "bin" / PY_NAME).resolve())
    assert result.args == ()
    tools, text = await call_version_tool(result.command, result.args)
    assert tools == ["version"]
    assert text == "0.9.0"


async def test_python_module_runs_with_the_venv_interpreter(
    tmp_path: Path, registry: LocalRegistry
) -> None:
    py = _installer(tmp_path, registry, use_uv=None)
    target = new_install_dir(py.root, "fx")
    result = await py.install(InstallSpec(PY_NAME, "0.10.0", python_module=PY_MODULE), target)
    assert result.version == "0.10.0"
    assert result.command == str(target / "bin" / "python")
    assert result.args == ("-u", "-m", PY_MODULE)  # mcp-api's python -u -m <pythonModule>
    assert (await call_version_tool(result.command, [*result.args, "--flag"]))[1] == "0.10.0 --flag"


async def test_latest_version_uses_real_version_ordering(
    tmp_path: Path, artifacts: Artifacts
) -> None:
    registry = start_registry(artifacts, tmp_path, npm_versions=(), py_versions=("0.10.0", "0.9.0"))
    try:
        py = _installer(tmp_path, registry, use_uv=None)
        assert await py.latest_version(InstallSpec(PY_NAME)) == "0.10.0"
        assert py.is_newer("0.10.0", "0.9.0")
        assert not py.is_newer("1.0.0rc1", "1.0.0")
        with pytest.raises(InstallFailed, match="not on the registry"):
            await py.latest_version(InstallSpec("no-such-dist"))
    finally:
        registry.stop()


async def test_install_failure_reports_the_log(tmp_path: Path, registry: LocalRegistry) -> None:
    py = _installer(tmp_path, registry, use_uv=None)
    with pytest.raises(InstallFailed, match="install of mcpgw-fixture-server failed") as caught:
        await py.install(InstallSpec(PY_NAME, "==7.7.7"), new_install_dir(py.root, "fx"))
    assert "7.7.7" in caught.value.log


def _recording_python(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "python-started"
    fake = tmp_path / "fake-python"
    fake.write_text(f"#!/bin/sh\necho started > {marker}\nexit 1\n")
    fake.chmod(0o755)
    return fake, marker


@pytest.mark.parametrize(
    ("name", "version", "index"),
    [
        ("--index-url=http://evil.test/simple", None, None),
        ("x;touch /tmp/p", None, None),
        ("../../etc", None, None),
        ("git+https://github.com/x/y.git", None, None),
        ("x @ https://evil.test/x.whl", None, None),
        ("ok", "--extra-index-url=http://evil.test", None),
        ("ok", "1.0; os_name=='posix'", None),
        ("ok", None, "file:///etc"),
        ("ok", None, "--trusted-host=evil.test"),
    ],
)
async def test_malicious_input_is_refused_before_any_process_starts(
    tmp_path: Path, name: str, version: str | None, index: str | None
) -> None:
    fake, marker = _recording_python(tmp_path)
    py = PythonInstaller(tmp_path / "python", timeout=30, python_bin=str(fake), use_uv=False)
    with pytest.raises(InvalidRequest):
        await py.install(InstallSpec(name, version, index_url=index), new_install_dir(py.root, "x"))
    assert not marker.exists()
    # A well-formed request through the same installer does start the interpreter.
    with pytest.raises(InstallFailed):
        await py.install(InstallSpec("ok"), new_install_dir(py.root, "x"))
    assert marker.exists()


def _cmdlines_containing(needle: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle.encode() in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.mark.parametrize(
    "use_uv",
    [
        False,
        pytest.param(True, marks=pytest.mark.skipif(find_uv() is None, reason="uv not installed")),
    ],
    ids=["pip", "uv"],
)
@pytest.mark.slow
async def test_index_credentials_never_appear_on_a_command_line(
    tmp_path: Path, registry: LocalRegistry, use_uv: bool
) -> None:
    canary = "idx-pass-canary-40d9"
    index = registry.index_url.replace("http://", f"http://ci:{canary}@", 1)
    py = PythonInstaller(
        tmp_path / "packages" / "python", timeout=120, index_url=index, use_uv=use_uv
    )
    seen: list[str] = []

    def on_line(line: str) -> None:  # runs while the installer process is alive
        seen.extend(_cmdlines_containing(canary))

    result = await py.install(
        InstallSpec(PY_NAME, ">=0.9,<0.10"), new_install_dir(py.root, "fx"), on_line=on_line
    )
    assert result.version == "0.9.0"  # the credentialed index was used
    assert seen == []


@pytest.mark.slow  # pip retries an unreachable index for ~15 s
@pytest.mark.parametrize(
    "use_uv",
    [
        False,
        pytest.param(True, marks=pytest.mark.skipif(find_uv() is None, reason="uv not installed")),
    ],
)
async def test_an_index_url_credential_never_comes_back_in_the_install_error_or_log(
    tmp_path: Path, use_uv: bool
) -> None:
    # pip and uv print the index URL's query string as they fetch (pip also masks only a
    # password); the gateway masks every credential of the URL in what it reports.
    index = "http://ci-user-canary:pw-canary@127.0.0.1:9/simple?token=query-canary"
    python = PythonInstaller(tmp_path / "py", timeout=120, index_url=index, use_uv=use_uv)
    with pytest.raises(InstallFailed) as info:
        await python.install(
            InstallSpec("no-such-dist-x", "1.0.0"), new_install_dir(python.root, "fx")
        )
    text = f"{info.value.message}\n{info.value.log}"
    assert "127.0.0.1:9" in text  # the log still says where it looked
    assert "canary" not in text
