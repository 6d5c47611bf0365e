"""Hypothesis drives every operation of /openapi.json with generated bodies, queries and path
parameters (valid-looking and hostile); no response may be a 5xx or non-JSON."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Gateway

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=10,
)  # fmt: skip


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]


def _field_values(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Plausible values for a property (so validation gets past the first field)."""
    if "$ref" in schema:
        return _field_values(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | JSON
    kind = schema.get("type")
    if kind == "string":
        return st.sampled_from(["fx", "echo", "alice", "token", "x" * 70, "a/b", ""]) | JSON
    return JSON


def _bodies(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    props = schema.get("properties", {})
    shaped = st.fixed_dictionaries(
        {}, optional={name: _field_values(p, components) for name, p in props.items()}
    )
    return shaped | JSON


@pytest.mark.anyio
async def test_generated_requests_never_cause_a_server_error(gateway: Gateway) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    components = document["components"]["schemas"]
    operations = [op for op in _operations(document) if op[1] not in ("/metrics",)]
    assert len(operations) >= 15
    await gateway.add_server("fx", wait=False, enabled=False)
    user = await gateway.new_key("user", "alice")
    keys = st.sampled_from([gateway.admin_key, user, "bogus"])

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        method, path, op = data.draw(st.sampled_from(operations))
        for param in op.get("parameters", []):
            if param["in"] == "path":
                value = data.draw(st.sampled_from(["fx", "nosuch", "bad.name", "%2e%2e"]))
                path = path.replace("{" + param["name"] + "}", value)
        query = {
            p["name"]: data.draw(st.text(max_size=12))
            for p in op.get("parameters", [])
            if p["in"] == "query" and data.draw(st.booleans())
        }
        body = None
        if "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            body = data.draw(_bodies(schema, components))
        cases.append((method, path, query, body, data.draw(keys)))

    cases: list[tuple[str, str, dict[str, str], Any, str]] = []
    run()
    for method, path, query, body, key in cases:
        if method == "DELETE" and path.startswith("/mcp/servers/fx"):
            continue  # keep the fixture server registered for the rest of the run
        resp = await gateway.client.request(
            method, path, params=query, json=body, headers=gateway.auth(key)
        )
        assert resp.status_code < 500, (method, path, query, body, resp.text)
        kind = resp.headers.get("content-type", "")
        if resp.status_code < 400 and not kind.startswith("application/json"):
            continue  # a stream (audit export as JSON lines): may well be empty
        payload = resp.json()
        if resp.status_code >= 400:
            assert payload["success"] is False and payload["code"], (method, path, payload)
