"""CLI behaviour that needs no gateway: exit codes, hints, help, input checks."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from mcp_gateway.cli.main import app

SECRET_KEY = "mgw_offline_test_key_do_not_print"


@pytest.fixture
def refused_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def runner(refused_url: str) -> CliRunner:
    return CliRunner(env={"MCPGW_URL": refused_url, "MCPGW_API_KEY": SECRET_KEY})


@pytest.mark.parametrize(
    "args",
    [
        ["servers", "list"],
        ["servers", "show", "x", "--json"],
        ["tools", "list"],
        ["tools", "call", "s", "t", "--arg", "a=1"],
        ["secrets", "list", "s"],
        ["apikeys", "list"],
        ["status"],
        ["packages", "list"],
    ],
)
def test_gateway_down_exits_2_with_a_one_line_hint(
    runner: CliRunner, refused_url: str, args: list[str]
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"cannot reach the gateway at {refused_url}" in lines[0]
    assert "MCPGW_URL" in lines[0] and "mcp-gateway serve" in lines[0]
    assert "Traceback" not in result.output
    assert SECRET_KEY not in result.output


def test_url_with_credentials_is_not_echoed(refused_url: str) -> None:
    url = refused_url.replace("http://", "http://admin:pw-hunter2@")
    result = CliRunner().invoke(app, ["servers", "list", "--url", url])
    assert result.exit_code == 2
    assert "hunter2" not in result.output and refused_url in result.stderr


def test_non_http_url_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["status", "--url", "ftp://example.com"])
    assert result.exit_code == 2
    assert "--url must start with http:// or https://" in result.stderr


def test_unknown_option_is_a_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(app, ["servers", "list", "--no-such-option"]).exit_code == 2


def test_malformed_tool_arg_fails_before_any_request(runner: CliRunner) -> None:
    result = runner.invoke(app, ["tools", "call", "s", "t", "--arg", "oops"])
    assert result.exit_code == 2
    assert "key=value" in result.stderr and "cannot reach" not in result.stderr


def test_secret_value_from_empty_stdin_is_refused_before_any_request(runner: CliRunner) -> None:
    result = runner.invoke(app, ["secrets", "set", "s", "TOKEN"], input="")
    assert result.exit_code == 2
    assert "empty secret value" in result.stderr and "cannot reach" not in result.stderr


def test_secret_value_is_not_accepted_on_the_command_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["secrets", "set", "s", "TOKEN", "hunter2"])
    assert result.exit_code == 2  # no positional for the value: usage error


def test_import_of_unreadable_or_broken_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["servers", "import", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    result = runner.invoke(app, ["servers", "import", str(broken)])
    assert result.exit_code == 2 and "not valid JSON" in result.stderr


def test_add_without_command_or_url_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["servers", "add", "x"])
    assert result.exit_code == 2 and "--command" in result.stderr


def _leaf_commands() -> list[list[str]]:
    def walk(command: object, path: list[str]) -> list[list[str]]:
        subs = getattr(command, "commands", None)
        if not subs:
            return [path]
        return [p for name, sub in subs.items() for p in walk(sub, [*path, name])]

    return walk(get_command(app), [])


@pytest.mark.parametrize("path", _leaf_commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path: list[str]) -> None:
    result = CliRunner(env={"MCPGW_API_KEY": SECRET_KEY}).invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout, f"{' '.join(path)} --help has no example"
    assert SECRET_KEY not in result.stdout


def test_shell_completion_is_installable() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.stdout
    assert isinstance(app, typer.Typer)
