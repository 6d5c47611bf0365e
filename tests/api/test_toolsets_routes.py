"""``/admin/toolsets``: create-or-replace, read, delete; validation; admin keys only. Both
stores."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Gateway

pytestmark = pytest.mark.anyio

TRIAGE = {
    "description": "issue work",
    "tools": [{"server": "github", "tool": "create_issue"}, {"server": "My Server.v2"}],
}


async def _put(gw: Gateway, name: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = gw.auth(key) if key is not None else gw.admin
    return await gw.client.put(f"/admin/toolsets/{name}", json=body, headers=headers)


async def test_put_creates_then_replaces_and_get_list_delete_follow(any_gateway: Gateway) -> None:
    gw = any_gateway
    created = await _put(gw, "triage", TRIAGE)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["success"] is True and body["created"] is True
    toolset = body["toolset"]
    assert toolset["name"] == "triage" and toolset["endpoint"] == "/mcp/toolsets/triage"
    assert toolset["tools"] == [
        {"server": "github", "tool": "create_issue", "mcpName": "github__create_issue"},
        {"server": "My Server.v2", "tool": "*", "mcpName": None},  # '*' is the default
    ]
    first_created = toolset["createdAt"]

    replaced = await _put(gw, "triage", {"tools": [{"server": "docs", "tool": "search"}]})
    assert replaced.status_code == 200 and replaced.json()["created"] is False
    got = (await gw.client.get("/admin/toolsets/triage", headers=gw.admin)).json()["toolset"]
    assert [e["server"] for e in got["tools"]] == ["docs"] and got["description"] == ""
    assert got["createdAt"] == first_created and got["updatedAt"] >= first_created

    posted = await gw.client.post(
        "/admin/toolsets", json={"name": "alpha", "tools": []}, headers=gw.admin
    )
    assert posted.status_code == 200 and posted.json()["created"] is True
    listed = (await gw.client.get("/admin/toolsets", headers=gw.admin)).json()["toolsets"]
    assert [t["name"] for t in listed] == ["alpha", "triage"]

    gone = await gw.client.delete("/admin/toolsets/triage", headers=gw.admin)
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    again = await gw.client.delete("/admin/toolsets/triage", headers=gw.admin)
    assert again.status_code == 200 and again.json()["deleted"] is False
    missing = await gw.client.get("/admin/toolsets/triage", headers=gw.admin)
    assert missing.status_code == 404
    assert missing.json() == {
        "success": False,
        "error": "toolset 'triage' not found",
        "code": "toolset_not_found",
    }


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        ("bad name", TRIAGE, "invalid toolset name"),
        ("t", {"tools": [{"server": "a/b", "tool": "x"}]}, "tools[0]: invalid server name"),
        ("t", {"tools": [{"server": "fx", "tool": ""}]}, "tools[0]: invalid tool name"),
        (
            "t",
            {"tools": [{"server": "fx", "tool": "echo"}, {"server": "fx", "tool": "echo"}]},
            "tools[1]: duplicate entry for server 'fx', tool 'echo'",
        ),
        ("t", {"name": "other", "tools": []}, "the body's name differs from the path's"),
        ("t", {"tools": "everything"}, "tools: Input should be a valid array"),
    ],
)
async def test_a_bad_toolset_is_a_400_naming_the_problem_and_writes_nothing(
    gateway: Gateway, name: str, body: dict[str, Any], problem: str
) -> None:
    before = await _put(gateway, "t", {"description": "kept", "tools": [{"server": "fx"}]})
    assert before.status_code == 200
    refused = await _put(gateway, name, body)
    assert refused.status_code == 400, refused.text
    answer = refused.json()
    assert answer["code"] == "invalid_request"
    assert problem in answer["error"] + str(answer.get("details", ""))
    kept = (await gateway.client.get("/admin/toolsets/t", headers=gateway.admin)).json()
    assert kept["toolset"]["description"] == "kept"
    assert kept["toolset"]["tools"] == [{"server": "fx", "tool": "*", "mcpName": None}]


async def test_post_without_a_name_and_a_bad_path_name_are_400(gateway: Gateway) -> None:
    posted = await gateway.client.post("/admin/toolsets", json={"tools": []}, headers=gateway.admin)
    assert posted.status_code == 400 and posted.json()["error"] == "name is required"
    for method in ("GET", "DELETE"):
        resp = await gateway.client.request(method, "/admin/toolsets/a%20b", headers=gateway.admin)
        assert resp.status_code == 400 and "invalid toolset name" in resp.json()["error"]
    assert (await gateway.client.get("/admin/toolsets", headers=gateway.admin)).json()[
        "toolsets"
    ] == []


@pytest.mark.parametrize("role", ["user", "service"])
async def test_only_admin_keys_may_read_or_change_toolsets(gateway: Gateway, role: str) -> None:
    assert (await _put(gateway, "t", TRIAGE)).status_code == 200
    key = await gateway.new_key(role, "alice" if role == "user" else None)
    headers = gateway.auth(key)
    for method, path, body in (
        ("GET", "/admin/toolsets", None),
        ("GET", "/admin/toolsets/t", None),
        ("PUT", "/admin/toolsets/t", {"tools": []}),
        ("POST", "/admin/toolsets", {"name": "u", "tools": []}),
        ("DELETE", "/admin/toolsets/t", None),
    ):
        resp = await gateway.client.request(method, path, json=body, headers=headers)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["code"] == "forbidden"
    anonymous = await gateway.client.get("/admin/toolsets")
    assert anonymous.status_code == 401
    kept = (await gateway.client.get("/admin/toolsets/t", headers=gateway.admin)).json()
    assert len(kept["toolset"]["tools"]) == 2
