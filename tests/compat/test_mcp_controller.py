"""mcp-api's MCP controller testing plan (mcp-api-mcp-testing-plan.md) and its README's
server, tool and health sections, replayed against a gateway process with mcp-api's own
request bodies; the answers are checked for mcp-api's shapes and keys.

Where the gateway answers differently on purpose (a 4xx where mcp-api answered 500 for a client
error) the test says so; docs/mcp-api-compat.md lists each difference and why.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.compat.conftest import (
    FIXTURE_SERVER,
    STATUSES,
    McpApiClient,
    assert_error,
    assert_server_shape,
    unique,
)


def _text(resp: Any) -> str:
    text: str = resp.json()["data"]["content"][0]["text"]
    return text


# -- 1. POST /mcp/tool/call ----------------------------------------------------------------


def test_tool_call_with_all_parameters_answers_success_and_the_call_tool_result(
    mcp_api: McpApiClient,
) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name)
    body = {
        "username": "testuser",
        "serverName": name,
        "methodName": "echo",
        "args": {"text": "San Francisco"},
    }
    resp = mcp_api.post("/mcp/tool/call", body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["success"] is True and _text(resp) == "San Francisco"
    assert answer["data"]["isError"] is False and "warnings" not in answer


def test_tool_call_without_username_acts_as_default(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name)
    set_body = {"serverName": name, "secretName": "token", "secretValue": "dt1"}
    assert mcp_api.post("/secrets/set", set_body).json() == {"success": True}
    resp = mcp_api.call(name, "echo_args", {})
    assert json.loads(_text(resp))["token"] == "dt1"
    # Another username does not get "default"'s secret.
    resp = mcp_api.call(name, "echo_args", {}, username="testuser")
    assert json.loads(_text(resp))["token"] == ""


def test_tool_call_to_an_unknown_server_is_a_404_naming_it(mcp_api: McpApiClient) -> None:
    resp = mcp_api.call("no-such-server", "echo", {"text": "x"}, username="testuser")
    body = assert_error(resp, 404, "server_not_found")  # mcp-api: 500
    assert (body["serverName"], body["username"]) == ("no-such-server", "testuser")


def test_tool_call_to_an_unknown_method_is_an_mcp_tool_error(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name)
    body = {"serverName": name, "methodName": "get_forecast", "args": {"city": "SF", "days": 5}}
    resp = mcp_api.post("/mcp/tool/call", body)
    # The upstream reports the unknown tool; a tool error is still HTTP 200 with the result.
    assert resp.status_code == 200 and resp.json()["data"]["isError"] is True


def test_tool_call_with_args_that_are_not_an_object_is_a_400(mcp_api: McpApiClient) -> None:
    for args in ("San Francisco", [1, 2], 5):
        resp = mcp_api.post(
            "/mcp/tool/call", {"serverName": "s", "methodName": "echo", "args": args}
        )
        body = assert_error(resp, 400, "invalid_request")  # mcp-api: 500
        assert "args" in body["error"]


def test_tool_call_ignores_unknown_fields_and_names_them(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name)
    resp = mcp_api.call(name, "echo", {"text": "x"}, requestId="r-1")
    assert resp.status_code == 200 and resp.json()["warnings"] == [
        "unknown field 'requestId' ignored"
    ]


# -- 2./3. GET /mcp/servers, GET /mcp/servers/:name ------------------------------------------


def test_get_servers_answers_wrapped_server_objects_with_mcp_api_keys(
    mcp_api: McpApiClient,
) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name)
    resp = mcp_api.get("/mcp/servers")
    assert resp.status_code == 200 and resp.json()["success"] is True
    servers = {s["name"]: s for s in resp.json()["servers"]}
    assert_server_shape(servers[name])
    assert servers[name]["status"] == "connected" and servers[name]["toolsList"]


def test_get_server_answers_one_wrapped_server_object(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name)
    resp = mcp_api.get(f"/mcp/servers/{name}")
    assert resp.status_code == 200
    server = resp.json()["server"]
    assert_server_shape(server)
    tool = next(t for t in server["toolsList"] if t["name"] == "echo")
    assert {"name", "description", "inputSchema"} <= tool.keys()


def test_get_an_unknown_server_is_a_404_naming_it(mcp_api: McpApiClient) -> None:
    body = assert_error(mcp_api.get("/mcp/servers/weather-server-x"), 404, "server_not_found")
    assert body["serverName"] == "weather-server-x"


# -- 4. POST /mcp/servers --------------------------------------------------------------------


def test_add_server_with_all_parameters_of_the_plan(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    body = {
        "name": name,
        "command": sys.executable,
        "args": [FIXTURE_SERVER],
        "env": {"API_KEY": "abc123", "DEBUG": "true"},
        "enabled": True,
    }
    resp = mcp_api.post("/mcp/servers", body)
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert_server_shape(server)
    assert (server["name"], server["command"], server["args"]) == (
        name, sys.executable, [FIXTURE_SERVER]
    )  # fmt: skip
    assert server["env"] == {"API_KEY": "abc123", "DEBUG": "true"} and server["enabled"] is True
    assert server["status"] in {"connecting", "connected"}
    mcp_api.wait_status(name, "connected")


def test_a_tool_call_right_after_adding_a_server_waits_for_its_connection(
    mcp_api: McpApiClient,
) -> None:
    # mcp-api answered POST /mcp/servers once the server had started; the gateway answers at
    # once (status connecting) and a call made meanwhile waits for the connection.
    name = unique("weather-server")
    body = {"name": name, "command": sys.executable, "args": [FIXTURE_SERVER]}
    assert mcp_api.post("/mcp/servers", body).json()["server"]["status"] in STATUSES
    resp = mcp_api.call(name, "echo", {"text": "first"})
    assert resp.status_code == 200 and _text(resp) == "first"


def test_add_server_with_only_the_required_parameters(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    resp = mcp_api.post("/mcp/servers", {"name": name, "command": sys.executable})
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert (server["args"], server["env"], server["enabled"]) == ([], {}, True)
    assert server["transportType"] == "stdio"
    assert mcp_api.delete(f"/mcp/servers/{name}").status_code == 200  # (python without a script)


def test_add_server_with_mcp_api_fields_returns_them(mcp_api: McpApiClient) -> None:
    name = unique("helper-tools")
    server = mcp_api.add_fixture_server(
        name,
        transportType="stdio",
        secretNames=["API_KEY", "API_SECRET"],
        startupTimeout=60000,
        displayName="Helper tools",
        description="d",
        source="platform",
        homepageUrl="https://example.com/h",
        createdBy="ops",
    )
    assert server["secretNames"] == ["API_KEY", "API_SECRET"]
    assert server["startupTimeout"] == 60000
    assert (server["displayName"], server["source"], server["createdBy"]) == (
        "Helper tools", "platform", "ops"
    )  # fmt: skip
    legacy = mcp_api.add_fixture_server(unique("legacy"), secretName="API_KEY", enabled=False)
    assert legacy["secretNames"] == ["API_KEY"]


def test_add_server_with_a_duplicate_name_is_a_409_naming_it(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name, enabled=False)
    resp = mcp_api.post("/mcp/servers", {"name": name, "command": sys.executable})
    body = assert_error(resp, 409, "server_already_exists")  # mcp-api: 500
    assert body["serverName"] == name


def test_add_server_with_an_invalid_command_is_a_400(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    resp = mcp_api.post("/mcp/servers", {"name": name, "command": "/nonexistent/weather"})
    assert_error(resp, 400, "invalid_request")  # mcp-api: 500
    assert_error(mcp_api.get(f"/mcp/servers/{name}"), 404, "server_not_found")  # nothing written


def test_server_names_mcp_api_accepted_work(mcp_api: McpApiClient) -> None:
    name = f"My.Server {unique('v')}"
    mcp_api.add_fixture_server(name)
    resp = mcp_api.call(name, "echo", {"text": "ok"}, username="Alice Smith")
    assert resp.status_code == 200 and _text(resp) == "ok"
    resp = mcp_api.call(name, "echo", {"text": "ok"}, username="alice@example.com")
    assert resp.status_code == 200


# -- 5. PUT /mcp/servers/:name ---------------------------------------------------------------


def test_update_all_fields_of_an_existing_server(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name)
    body = {
        "command": sys.executable,
        "args": [FIXTURE_SERVER],
        "env": {"API_KEY": "new-key-123", "DEBUG": "false"},
        "secretNames": ["API_KEY"],
        "startupTimeout": 60000,
        "enabled": False,
    }
    resp = mcp_api.put(f"/mcp/servers/{name}", body)
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert_server_shape(server)
    assert server["env"] == {"API_KEY": "new-key-123", "DEBUG": "false"}
    assert (server["status"], server["enabled"]) == ("disconnected", False)
    assert (server["secretNames"], server["startupTimeout"]) == (["API_KEY"], 60000)


def test_update_only_some_fields_keeps_the_others(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name, env={"KEEP": "1"})
    resp = mcp_api.put(f"/mcp/servers/{name}", {"args": [FIXTURE_SERVER, "--quiet"]})
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert server["env"] == {"KEEP": "1"} and server["args"] == [FIXTURE_SERVER, "--quiet"]
    assert mcp_api.delete(f"/mcp/servers/{name}").status_code == 200  # (may not start)


def test_update_streamable_http_fields_with_reconnection_options(mcp_api: McpApiClient) -> None:
    name = unique("remote-http-server")
    mcp_api.add_fixture_server(name, enabled=False)
    body = {
        "transportType": "streamable_http",
        "url": "https://example.com/mcp",
        "headers": {"X-Custom-Header": "value"},
        "reconnectionOptions": {
            "maxReconnectionDelay": 30000,
            "initialReconnectionDelay": 1000,
            "reconnectionDelayGrowFactor": 1.5,
            "maxRetries": 2,
        },
    }
    resp = mcp_api.put(f"/mcp/servers/{name}", body)
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert (server["transportType"], server["url"]) == (
        "streamable_http",
        "https://example.com/mcp",
    )
    assert server["headers"] == {"X-Custom-Header": "value"}
    assert {k: server["reconnectionOptions"][k] for k in body["reconnectionOptions"]} == body[
        "reconnectionOptions"
    ]


def test_update_an_unknown_server_is_a_404_naming_it(mcp_api: McpApiClient) -> None:
    resp = mcp_api.put("/mcp/servers/nope-server", {"enabled": False})
    assert assert_error(resp, 404, "server_not_found")["serverName"] == "nope-server"


# -- 6. DELETE /mcp/servers/:name ------------------------------------------------------------


def test_delete_a_server_and_again_both_answer_success(mcp_api: McpApiClient) -> None:
    name = unique("weather-server")
    mcp_api.add_fixture_server(name, enabled=False)
    for _ in range(2):  # the second one is mcp-api's "handle gracefully"
        resp = mcp_api.delete(f"/mcp/servers/{name}")
        assert resp.status_code == 200 and resp.json()["success"] is True
    assert_error(mcp_api.get(f"/mcp/servers/{name}"), 404, "server_not_found")


# -- 7./8. PUT /mcp/servers/:name/enable|disable ---------------------------------------------


def test_disable_shows_disconnected_and_enable_reconnects(mcp_api: McpApiClient) -> None:
    name = unique("helper-tools")
    mcp_api.add_fixture_server(name)
    for _ in range(2):  # disabling an already disabled server is fine too
        resp = mcp_api.put(f"/mcp/servers/{name}/disable")
        assert resp.status_code == 200, resp.text
        server = resp.json()["server"]
        assert_server_shape(server)
        assert (server["status"], server["enabled"]) == ("disconnected", False)
    listed = {s["name"]: s for s in mcp_api.get("/mcp/servers").json()["servers"]}
    assert (listed[name]["status"], listed[name]["enabled"]) == ("disconnected", False)
    resp = mcp_api.call(name, "echo", {"text": "x"})
    assert assert_error(resp, 409, "server_disabled")["serverName"] == name
    for _ in range(2):
        resp = mcp_api.put(f"/mcp/servers/{name}/enable")
        assert resp.status_code == 200 and resp.json()["server"]["enabled"] is True
        assert resp.json()["server"]["status"] in STATUSES
    mcp_api.wait_status(name, "connected")


def test_enable_or_disable_an_unknown_server_is_a_404_naming_it(mcp_api: McpApiClient) -> None:
    for action in ("enable", "disable"):
        resp = mcp_api.put(f"/mcp/servers/ghost-server/{action}")
        assert assert_error(resp, 404, "server_not_found")["serverName"] == "ghost-server"


# -- 9. GET /mcp/tools -----------------------------------------------------------------------


def test_get_tools_answers_one_object_per_enabled_server(mcp_api: McpApiClient) -> None:
    name = unique("server-name")
    off = unique("server-off")
    mcp_api.add_fixture_server(name)
    mcp_api.add_fixture_server(off, enabled=False)
    resp = mcp_api.get("/mcp/tools")
    assert resp.status_code == 200 and resp.json()["success"] is True
    entries = resp.json()["tools"]
    assert all(isinstance(e, dict) and len(e) == 1 for e in entries)
    by_server = {k: v for e in entries for k, v in e.items()}
    assert off not in by_server  # mcp-api lists enabled servers only
    echo = next(t for t in by_server[name] if t["name"] == "echo")
    assert echo["inputSchema"]["type"] == "object" and "text" in echo["inputSchema"]["required"]


# -- health --------------------------------------------------------------------------------


def test_healthz_answers_status_ok_and_uptime_in_milliseconds(mcp_api: McpApiClient) -> None:
    name = unique("uptime")
    mcp_api.add_fixture_server(name)
    server_up = mcp_api.get(f"/mcp/servers/{name}").json()["server"]["uptime"]
    health = mcp_api.get("/healthz").json()
    assert health["status"] == "ok"
    # The gateway was up before the server connected: in one unit, its uptime is the larger.
    assert isinstance(server_up, int | float) and server_up > 0
    assert health["uptime"] >= server_up


def test_unknown_routes_answer_the_error_shape(mcp_api: McpApiClient) -> None:
    assert_error(mcp_api.get("/mcp/nothing/here"), 404, "not_found")


def test_error_bodies_never_echo_a_name_that_failed_validation(mcp_api: McpApiClient) -> None:
    bad = "evil\u0007name"
    resp = mcp_api.call(bad, "echo", {"text": "x"}, username="ok-user")
    body = assert_error(resp, 400, "invalid_request")
    assert "serverName" not in body and "username" not in body  # the body did not parse
    body = assert_error(mcp_api.get("/mcp/servers/%2E%2E"), 400, "invalid_request")
    assert "serverName" not in body
    resp = mcp_api.call("weather", "echo", {}, username="bad\u0000user")
    assert "username" not in assert_error(resp, 400, "invalid_request")
