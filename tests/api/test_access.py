"""Authorization comes from the endpoint table: every endpoint's declared ``auth`` is enforced
by the one guard, on both stores, and refused attempts are audited without the key."""

from __future__ import annotations

import re

import anyio
import pytest

from mcp_gateway.api.app import api_endpoints
from mcp_gateway.api.endpoint import Endpoint
from mcp_gateway.domain.records import AuditEvent
from tests.api.conftest import Gateway

pytestmark = pytest.mark.anyio

ENDPOINTS = api_endpoints()
GUARDED = [e for e in ENDPOINTS if e.auth != "none"]
ADMIN_ONLY = [e for e in ENDPOINTS if e.auth == "admin"]


def _url(endpoint: Endpoint) -> str:
    return re.sub(r"\{[^}]+\}", "probe", endpoint.path)


async def _request(gw: Gateway, endpoint: Endpoint, headers: dict[str, str]) -> tuple[int, str]:
    body = {} if endpoint.method in ("POST", "PUT") else None
    resp = await gw.client.request(endpoint.method, _url(endpoint), json=body, headers=headers)
    return resp.status_code, resp.json().get("code", "")


def test_every_endpoint_declares_a_known_access_and_most_need_a_key() -> None:
    assert {e.auth for e in ENDPOINTS} <= {"none", "any key", "admin"}
    assert len(GUARDED) > 20 and len(ADMIN_ONLY) > 10


async def test_anonymous_requests_to_every_guarded_endpoint_get_401(any_gateway: Gateway) -> None:
    wrong = {"Authorization": "Bearer mcpgw_" + "x" * 43}
    for endpoint in GUARDED:
        for headers in ({}, wrong):
            status, code = await _request(any_gateway, endpoint, headers)
            assert (status, code) == (401, "unauthenticated"), (endpoint.method, endpoint.path)


async def test_user_and_service_keys_to_every_admin_endpoint_get_403(
    any_gateway: Gateway,
) -> None:
    user = any_gateway.auth(await any_gateway.new_key("user", "alice"))
    service = any_gateway.auth(await any_gateway.new_key("service"))
    for endpoint in ADMIN_ONLY:
        for headers in (user, service):
            status, code = await _request(any_gateway, endpoint, headers)
            assert (status, code) == (403, "forbidden"), (endpoint.method, endpoint.path)


async def test_openapi_security_follows_the_same_auth_field(gateway: Gateway) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    for endpoint in ENDPOINTS:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", endpoint.path)
        operation = document["paths"][path][endpoint.method.lower()]
        assert bool(operation.get("security")) == (endpoint.auth != "none"), endpoint.path


async def _audit_where(gw: Gateway, outcome: str) -> list[AuditEvent]:
    with anyio.fail_after(10):
        while True:
            events = [e for e in await gw.runtime.store.list_audit(50) if e.outcome == outcome]
            if events:
                return events
            await anyio.sleep(0.02)


async def test_a_wrong_key_is_audited_by_prefix_never_whole(any_gateway: Gateway) -> None:
    wrong = "mcpgw_" + "S3cretCanary" * 4
    status, _ = await _request(any_gateway, GUARDED[0], any_gateway.auth(wrong))
    assert status == 401
    events = await _audit_where(any_gateway, "unauthenticated")
    (event,) = events
    assert event.action == "api_access" and event.actor == "unknown"
    assert event.detail is not None and "mcpgw_S3cret..." in event.detail
    assert "S3cretCanary" not in repr(event) + str(event.detail)


async def test_a_foreign_credential_is_audited_by_length_only(gateway: Gateway) -> None:
    status, _ = await _request(gateway, GUARDED[0], {"Authorization": "Bearer hunter2-password"})
    assert status == 401
    (event,) = await _audit_where(gateway, "unauthenticated")
    assert event.detail is not None and "(not a gateway key, 16 characters)" in event.detail
    assert "hunter" not in repr(event) + event.detail


async def test_a_non_admin_key_on_an_admin_endpoint_is_audited_as_forbidden(
    gateway: Gateway,
) -> None:
    key = await gateway.new_key("user", "alice")
    endpoint = next(e for e in ADMIN_ONLY if "{" not in e.path)  # its path is its URL
    status, _ = await _request(gateway, endpoint, gateway.auth(key))
    assert status == 403
    (event,) = await _audit_where(gateway, "forbidden")
    assert event.role == "user" and event.username == "alice"
    assert event.detail == f"{endpoint.method} {endpoint.path}"
    assert key not in repr(event)


async def test_a_flood_of_requests_without_a_valid_key_cannot_fill_the_audit_trail(
    gateway: Gateway,
) -> None:
    """Anyone can send 401s for free: unbudgeted, a million of them (13 minutes) pushed every
    real event out of a trail kept to its newest MCPGW_AUDIT_MAX_EVENTS."""
    for n in range(300):
        status, _ = await _request(gateway, GUARDED[0], gateway.auth(f"mcpgw_flood{n:04d}x"))
        assert status == 401
    key = await gateway.new_key("user", "alice")
    assert (await _request(gateway, ADMIN_ONLY[0], gateway.auth(key)))[0] == 403
    await _audit_where(gateway, "forbidden")  # written after every refusal queued before it

    events = await gateway.runtime.store.list_audit(1000)
    anonymous = [e for e in events if e.outcome == "unauthenticated"]
    assert 100 <= len(anonymous) <= 110
    assert gateway.runtime.audit.anonymous_left_out >= 190
