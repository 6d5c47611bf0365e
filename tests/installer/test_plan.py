"""How an install request's command becomes the record's command (pure rules)."""

from __future__ import annotations

from mcp_gateway.domain.records import PackageRuntime
from mcp_gateway.installer.models import InstallRequest
from mcp_gateway.installer.plan import command_request

NODE = "@acme/mcp-server"


def node(command: str | None, *args: str) -> InstallRequest:
    return InstallRequest(NODE, "srv", command=command, args=args)


def test_no_command_derives_it_and_keeps_the_args_for_after_it() -> None:
    assert command_request(node(None, "/data")) == (None, (), ("/data",))
    python = InstallRequest("p", "srv", PackageRuntime.PYTHON, args=("a",), python_args=("b",))
    assert command_request(python) == (None, (), ("a", "b"))


def test_command_node_without_a_script_keeps_the_package_entry_script() -> None:
    assert command_request(node("node")) == (None, (), ())
    assert command_request(node("node", "/data", "--x")) == (None, (), ("/data", "--x"))


def test_command_node_with_a_script_is_custom_and_mcp_api_paths_point_into_the_install() -> None:
    script = "{installDir}/node_modules/@acme/mcp-server/dist/other.js"
    assert command_request(node("node", script, "/data")) == ("node", (script, "/data"), ())
    for layout in (
        "./packages/acme-mcp-server/node_modules/@acme/mcp-server/dist/index.js",
        "/app/packages/acme-mcp-server/node_modules/@acme/mcp-server/dist/index.js",
    ):
        assert command_request(node("node", layout, "/data")) == (
            "node",
            ("{installDir}/node_modules/@acme/mcp-server/dist/index.js", "/data"),
            (),
        )
    # a script of its own elsewhere is left alone (it is not mcp-api's layout)
    own = "/opt/tools/node_modules/@acme/mcp-server/index.js"
    assert command_request(node("node", own)) == ("node", (own,), ())


def test_other_commands_are_custom_and_python_venv_paths_point_into_the_install() -> None:
    assert command_request(node("npx", "-y", "x")) == ("npx", ("-y", "x"), ())
    python = InstallRequest(
        "klaviyo-mcp-server",
        "klaviyo",
        PackageRuntime.PYTHON,
        command="/app/packages/python/klaviyo/bin/klaviyo-mcp-server",
        args=("--flag",),
    )
    assert command_request(python) == (
        "{installDir}/bin/klaviyo-mcp-server",
        ("--flag",),
        (),
    )
    other = InstallRequest("x", "klaviyo", PackageRuntime.PYTHON, command="/usr/bin/python3")
    assert command_request(other) == ("/usr/bin/python3", (), ())
