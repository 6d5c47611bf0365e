"""The console's session: an API key exchanged for an HttpOnly, SameSite=Strict cookie that the
REST API accepts like a bearer key, with a CSRF token required on every write."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import httpx2
import pytest

from mcp_gateway.api.console import pages
from mcp_gateway.api.console.pages import LOGIN_CSRF_COOKIE
from mcp_gateway.api.console.sessions import COOKIE, ConsoleSessions
from mcp_gateway.domain.records import AuditEvent
from tests.api.conftest import Gateway, MakeGateway
from tests.api.console.helpers import csrf_token, login

pytestmark = pytest.mark.anyio


def _cookie_header(resp: httpx2.Response, name: str) -> str:
    for value in resp.headers.get_list("set-cookie"):
        if value.startswith(name + "="):
            return value
    raise AssertionError(f"no {name} cookie in {resp.headers}")


async def test_login_sets_an_httponly_samesite_strict_session_cookie(gateway: Gateway) -> None:
    resp = await login(gateway.client, gateway.admin_key)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/ui/servers"
    cookie = _cookie_header(resp, COOKIE).lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP here: a Secure cookie would never come back
    assert gateway.admin_key.lower() not in cookie  # an opaque id, never the key


async def test_login_over_tls_marks_the_cookie_secure(make_gateway: MakeGateway) -> None:
    async with make_gateway() as gw:
        transport = httpx2.ASGITransport(app=gw.app)
        async with httpx2.AsyncClient(transport=transport, base_url="https://gw") as client:
            resp = await login(client, gw.admin_key)
    assert resp.status_code == 303
    assert "; secure" in _cookie_header(resp, COOKIE).lower()


async def test_behind_a_tls_proxy_an_https_public_url_marks_the_cookie_secure(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway(oauth={"public_url": "https://gw.example"}) as gw:
        form = await gw.client.get("/ui/login")  # plain HTTP from the proxy
        assert "; secure" in _cookie_header(form, LOGIN_CSRF_COOKIE).lower()
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        # The browser (on https) sends the Secure form cookie back; httpx2 on http would not.
        resp = await gw.client.post(
            "/ui/login",
            data={"key": gw.admin_key, "csrf": token.group(1)},
            headers={"cookie": f"{LOGIN_CSRF_COOKIE}={token.group(1)}"},
        )
    assert resp.status_code == 303
    assert "; secure" in _cookie_header(resp, COOKIE).lower()


async def test_the_session_cookie_reads_the_api_with_the_keys_role(gateway: Gateway) -> None:
    user_key = await gateway.new_key("user", "alice")
    await login(gateway.client, user_key)
    resp = await gateway.client.get("/secrets", params={"serverName": "nope"})
    assert resp.status_code == 404  # authenticated (not 401), then the server is unknown
    resp = await gateway.client.get("/admin/apikeys")
    assert resp.status_code == 403  # a user key's session is a user, not an admin
    resp = await gateway.client.get("/secrets", params={"serverName": "x", "username": "bob"})
    assert resp.status_code == 403


async def test_a_write_with_the_session_cookie_but_no_csrf_token_is_refused(
    gateway: Gateway,
) -> None:
    await gateway.add_server("s1")
    await login(gateway.client, gateway.admin_key)
    body = {"serverName": "s1", "secretName": "TOKEN", "secretValue": "v-canary"}
    resp = await gateway.client.post("/secrets/set", json=body)
    assert resp.status_code == 403
    assert resp.json()["code"] == "forbidden"
    assert "CSRF" in resp.json()["error"]
    wrong = await gateway.client.post("/secrets/set", json=body, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    names = await gateway.client.get("/secrets", params={"serverName": "s1"})
    assert names.json()["secrets"] == []  # nothing was written
    token = await csrf_token(gateway.client)
    ok = await gateway.client.post("/secrets/set", json=body, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200, ok.text
    names = await gateway.client.get("/secrets", params={"serverName": "s1"})
    assert names.json()["secrets"] == ["TOKEN"]


async def test_a_csrf_refusal_is_audited_as_the_sessions_principal(gateway: Gateway) -> None:
    await login(gateway.client, gateway.admin_key)
    resp = await gateway.client.put("/mcp/servers/x/disable")
    assert resp.status_code == 403
    with anyio.fail_after(10):
        while True:
            events = await gateway.runtime.store.list_audit(50)
            refused = [e for e in events if e.outcome == "forbidden"]
            if refused:
                break
            await anyio.sleep(0.02)
    assert refused[-1].role == "admin" and refused[-1].actor != "unknown"
    assert refused[-1].detail == "PUT /mcp/servers/x/disable"


async def test_bearer_keys_need_no_csrf_token(gateway: Gateway) -> None:
    await login(gateway.client, gateway.admin_key)  # a cookie is present but a key is sent
    resp = await gateway.client.post(
        "/admin/apikeys", json={"name": "k", "role": "service"}, headers=gateway.admin
    )
    assert resp.status_code == 200


async def test_logout_ends_the_session(gateway: Gateway) -> None:
    await login(gateway.client, gateway.admin_key)
    session = gateway.client.cookies.get(COOKIE)
    token = await csrf_token(gateway.client)
    resp = await gateway.client.post("/ui/logout", data={"csrf": token})
    assert resp.status_code == 303
    assert resp.headers["location"] == "/ui/login"
    # Replaying the old cookie (a copy kept by someone) no longer works.
    gateway.client.cookies.set(COOKIE, session or "")
    replay = await gateway.client.get("/mcp/servers")
    assert replay.status_code == 401
    assert "log in again" in replay.json()["error"]
    page = await gateway.client.get("/ui/servers")
    assert page.status_code == 303 and page.headers["location"] == "/ui/login"


async def test_logout_without_the_csrf_token_keeps_the_session(gateway: Gateway) -> None:
    await login(gateway.client, gateway.admin_key)
    resp = await gateway.client.post("/ui/logout", data={})
    assert resp.status_code == 403
    assert (await gateway.client.get("/mcp/servers")).status_code == 200


async def test_revoking_the_key_ends_its_console_sessions(any_gateway: Gateway) -> None:
    gateway = any_gateway  # the session re-authenticates the key's hash in either store
    key = await gateway.new_key("service")
    await login(gateway.client, key)
    assert (await gateway.client.get("/mcp/servers")).status_code == 200
    token = await csrf_token(gateway.client)
    created = await gateway.client.post(
        "/admin/apikeys", json={"name": "x", "role": "user"}, headers={"X-CSRF-Token": token}
    )
    assert created.status_code == 403  # a service key's session is no admin
    listed = await gateway.client.get("/admin/apikeys", headers=gateway.admin)
    key_id = next(k["id"] for k in listed.json()["keys"] if k["name"] == "service-None")
    await gateway.client.delete(f"/admin/apikeys/{key_id}", headers=gateway.admin)
    assert (await gateway.client.get("/mcp/servers")).status_code == 401


async def _audited(gw: Gateway, action: str, outcome: str) -> list[AuditEvent]:
    with anyio.fail_after(10):
        while True:
            events = await gw.runtime.store.list_audit(50)
            found = [e for e in events if e.action == action and e.outcome == outcome]
            if found:
                return found
            await anyio.sleep(0.02)


async def test_a_wrong_key_does_not_log_in_and_is_audited_by_prefix(gateway: Gateway) -> None:
    resp = await login(gateway.client, "mcpgw_S3cretCanary-0000000000")
    assert resp.status_code == 401
    assert "invalid or revoked API key" in resp.text
    assert COOKIE not in gateway.client.cookies
    assert "S3cretCanary" not in resp.text  # the key is not echoed
    (event,) = await _audited(gateway, "console_login", "unauthenticated")
    assert event.actor == "unknown" and event.detail is not None
    assert "mcpgw_S3cret..." in event.detail and "S3cretCanary" not in event.detail


async def test_a_login_is_audited_and_gets_a_fresh_session_id(gateway: Gateway) -> None:
    await login(gateway.client, gateway.admin_key)
    first = gateway.client.cookies.get(COOKIE)
    await login(gateway.client, gateway.admin_key)
    second = gateway.client.cookies.get(COOKIE)
    assert first and second and first != second
    assert len(gateway.app.state.console_sessions) == 1  # the old one ended
    events = await _audited(gateway, "console_login", "ok")
    assert events[0].role == "admin" and events[0].actor != "unknown"


async def test_a_login_post_without_the_form_token_is_refused(gateway: Gateway) -> None:
    resp = await gateway.client.post("/ui/login", data={"key": gateway.admin_key, "csrf": "x"})
    assert resp.status_code == 403
    assert COOKIE not in gateway.client.cookies


async def test_the_console_root_leads_to_the_servers_page(gateway: Gateway) -> None:
    for root in ("/ui", "/ui/"):
        resp = await gateway.client.get(root)
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/servers", root


async def test_pages_without_a_session_redirect_to_login(gateway: Gateway) -> None:
    for page in ("servers", "tools", "secrets", "oauth", "keys", "packages", "audit", "runs"):
        resp = await gateway.client.get(f"/ui/{page}")
        assert resp.status_code == 303, page
        assert resp.headers["location"] == "/ui/login"


async def test_admin_pages_are_refused_to_a_user_session(gateway: Gateway) -> None:
    await login(gateway.client, await gateway.new_key("user", "alice"))
    for page in ("keys", "packages"):
        resp = await gateway.client.get(f"/ui/{page}")
        assert resp.status_code == 403, page
        assert "admin API key" in resp.text
    servers = await gateway.client.get("/ui/servers")
    assert servers.status_code == 200
    assert 'href="/ui/keys"' not in servers.text  # not offered in the navigation


_PAGES = ("login", "servers", "tools", "secrets", "oauth", "keys", "packages", "audit", "runs")


async def test_every_console_response_carries_a_strict_csp_and_no_inline_script(
    gateway: Gateway,
) -> None:
    await login(gateway.client, gateway.admin_key)
    for page in _PAGES:
        resp = await gateway.client.get(f"/ui/{page}")
        assert resp.status_code == 200, page
        csp = resp.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
        html = resp.text
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(" src=" in tag for tag in scripts), page
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), page  # no inline body
        assert not re.search(r"\son[a-z]+\s*=", html), page  # no inline handlers
        assert "<style" not in html and " style=" not in html, page
    static_dir = Path(pages.__file__).parent / "static"
    scripts = sorted(static_dir.glob("*.js"))
    assert len(scripts) >= 2
    for script in scripts:
        static = await gateway.client.get(f"/ui/static/{script.name}")
        assert static.status_code == 200
        assert static.headers["content-type"].startswith("text/javascript")
        assert "content-security-policy" in static.headers
        code = re.sub(r"/\*.*?\*/", "", static.text, flags=re.S)  # comments may name them
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, (script.name, sink)


async def test_sessions_expire_when_idle_and_at_their_maximum_age() -> None:
    now = [0.0]
    sessions = ConsoleSessions(idle_ttl=10, max_age=25, clock=lambda: now[0])
    sid, _ = sessions.open("hash")
    now[0] = 9
    assert sessions.get(sid) is not None  # touched: idle time restarts
    now[0] = 18
    assert sessions.get(sid) is not None
    now[0] = 26
    assert sessions.get(sid) is None  # past the maximum age though active
    sid, _ = sessions.open("hash")
    now[0] = 37
    assert sessions.get(sid) is None  # idle longer than 10 s
    assert len(sessions) == 0


async def test_a_malformed_or_oversized_login_form_is_a_clean_400(gateway: Gateway) -> None:
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    resp = await gateway.client.post("/ui/login", content=b"garbage", headers=multipart)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_request"
    form = {"content-type": "application/x-www-form-urlencoded"}
    resp = await gateway.client.post("/ui/login", content=b"key=" + b"k" * 100_000, headers=form)
    assert resp.status_code == 400 and "Traceback" not in resp.text


async def test_with_the_console_off_there_is_no_ui_and_no_cookie_login(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as on:
        await login(on.client, on.admin_key)
        cookie = on.client.cookies.get(COOKIE)
    async with make_gateway(http={"console": False}) as gw:
        assert (await gw.client.get("/ui/login")).status_code == 404
        assert (await gw.client.get("/ui/static/console.js")).status_code == 404
        gw.client.cookies.set(COOKIE, cookie or "x")
        resp = await gw.client.get("/mcp/servers")
        assert resp.status_code == 401 and "Bearer" in resp.json()["error"]


def test_abandoned_sessions_are_dropped_at_the_next_login() -> None:
    now = [0.0]
    sessions = ConsoleSessions(idle_ttl=10, max_age=100, clock=lambda: now[0])
    old, _ = sessions.open("a")
    kept, _ = sessions.open("b")
    now[0] = 8
    assert sessions.get(kept) is not None  # used: moves to the recent end
    now[0] = 15
    sessions.open("c")
    assert len(sessions) == 2  # "a" went idle and was never used again: dropped
    assert sessions.get(old) is None and sessions.get(kept) is not None
