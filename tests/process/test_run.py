"""The command runner (installers use it): argv only, minimal env, bounded output, the tree
killed on timeout; run_checked turns failures into InstallFailed with the log."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from mcp_gateway.errors import InstallFailed
from mcp_gateway.installer.process import run_checked
from mcp_gateway.process.output import OutputTail
from mcp_gateway.process.run import run_command

pytestmark = pytest.mark.anyio


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def test_installer_env_carries_no_gateway_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPGW_SECRETS_KEYS", "k1:c2VjcmV0")
    monkeypatch.setenv("SECRETS_KEY", "passphrase-that-is-long-enough-0000000")
    monkeypatch.setenv("MONGO_PASS", "hunter2")
    monkeypatch.setenv("PIP_INDEX_URL", "https://u:tok@private.test/simple")
    result = await run_command(["env"], time_limit=10)
    assert result.ok
    names = {line.split("=", 1)[0] for line in result.output.splitlines()}
    assert "PATH" in names
    assert not {"MCPGW_SECRETS_KEYS", "SECRETS_KEY", "MONGO_PASS", "PIP_INDEX_URL"} & names


async def test_arguments_are_never_interpreted_by_a_shell(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    result = await run_command(["echo", f"x;touch {target}", f"$(touch {target})"], time_limit=10)
    assert result.ok
    assert f"x;touch {target}" in result.output
    assert not target.exists()


async def test_output_is_bounded_to_its_tail() -> None:
    script = "import sys\nfor i in range(20000): print(f'line {i:05d} ' + 'x' * 40)"
    result = await run_command([sys.executable, "-c", script], time_limit=30)
    assert result.ok
    assert len(result.output.encode()) <= 64 * 1024 + 64
    assert result.output.rstrip().endswith("line 19999 " + "x" * 40)
    assert "line 00000" not in result.output
    assert result.output.startswith("[... earlier output dropped ...]")


def test_output_tail_feeds_lines_to_the_progress_callback() -> None:
    lines: list[str] = []
    tail = OutputTail(None, max_bytes=20, on_line=lines.append)
    for chunk in (b"Collec", b"ting x\nDownloa", b"ding y\r\nDone\n"):
        tail.feed(chunk)
    assert lines == ["Collecting x", "Downloading y", "Done"]  # every line, as it arrives
    assert tail.text() == "[... earlier output dropped ...]\nDownloading y\nDone\n"


def test_output_tail_keeps_the_last_lines_each_cut_to_a_bounded_length() -> None:
    tail = OutputTail(3)
    tail.feed(b"one\ntwo\nthree\n" + b"x" * 5000 + b"\nfour")
    assert tail.lines() == ("two", "three", "x" * 2000)
    tail.feed(b"y" * 3000)  # no newline in sight: kept as a line, not buffered without end
    assert tail.lines() == ("three", "x" * 2000, "four" + "y" * 1996)
    tail.flush()
    assert tail.lines() == ("three", "x" * 2000, "four" + "y" * 1996)


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = tmp_path / "slow-installer"
    script.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\necho started\nsleep 60\n")
    script.chmod(0o755)
    with anyio.fail_after(20):
        with pytest.raises(InstallFailed, match="timed out") as caught:
            await run_checked([str(script)], time_limit=1.0, what="slow install")
    assert "started" in caught.value.log
    child = int(pidfile.read_text())
    with anyio.fail_after(10):
        while _alive(child):  # noqa: ASYNC110 (another process's state: nothing to await)
            await anyio.sleep(0.05)


async def test_cancellation_kills_the_installer(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = tmp_path / "slow"
    script.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n")
    script.chmod(0o755)
    with anyio.move_on_after(1.0):
        await run_command([str(script)], time_limit=60)
    pid = int(pidfile.read_text())
    assert not _alive(pid)


async def test_missing_executable_is_an_install_failure(tmp_path: Path) -> None:
    with pytest.raises(InstallFailed, match="cannot run"):
        await run_checked([str(tmp_path / "no-such-npm")], time_limit=5, what="npm install")


async def test_nonzero_exit_is_reported_with_the_log() -> None:
    with pytest.raises(InstallFailed, match="exited with status 3") as caught:
        await run_checked(
            [sys.executable, "-c", "print('E404 not found'); raise SystemExit(3)"],
            time_limit=10,
            what="npm install x",
        )
    assert "E404 not found" in caught.value.log
