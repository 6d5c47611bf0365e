"""The console in a real browser: log in, add a server and see it connect, call a tool through
the generated form, set a secret, read a failing server's logs; hostile upstream text stays
text; a write without the CSRF token is refused; no CSP violation anywhere.

Screenshots of every page land in ``$MCPGW_CONSOLE_SCREENSHOTS`` when set (docs/console/).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.api.console.browser import launch, requires_chromium
from tests.gateway_process import GatewayProcess, gateway_env
from tests.installer.fixtures import artifacts  # noqa: F401 (a fixture)
from tests.installer.local_registry import NPM_NAME, Artifacts, LocalRegistry, start_registry

pytestmark = [requires_chromium, pytest.mark.slow]

HOSTILE = str(Path(__file__).resolve().parent / "hostile_server.py")
ADMIN_KEY = "console-admin-key-0123456789abcdef"
SHOTS = os.environ.get("MCPGW_CONSOLE_SCREENSHOTS")
TIMEOUT = 60_000
_REFUSED = re.compile(
    r"Failed to load resource: the server responded with a status of 4\d\d"
)  # ms: generous, the machine may be loaded


class Env:
    def __init__(self, url: str, http: httpx2.Client, browser: Any) -> None:
        self.url = url
        self.http = http
        self.browser = browser

    def new_key(self, role: str, username: str | None = None) -> str:
        body: dict[str, Any] = {"name": f"{role}-{username}-{time.monotonic_ns()}", "role": role}
        if username:
            body["username"] = username
        resp = self.http.post("/admin/apikeys", json=body)
        assert resp.status_code == 200, resp.text
        key: str = resp.json()["key"]
        return key

    def add_server(self, name: str, *args: str) -> None:
        body = {"name": name, "command": sys.executable, "args": [HOSTILE, *args]}
        resp = self.http.post("/mcp/servers", json=body)
        assert resp.status_code == 200, resp.text


def _wait_connected(http: httpx2.Client, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        server = http.get(f"/mcp/servers/{name}").json()["server"]
        if server["status"] == "connected" and server["toolsList"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} did not connect: {server}")


@pytest.fixture(scope="module")
def local_registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRegistry]:
    built: Artifacts = request.getfixturevalue("artifacts")  # npm packs the fixture package
    reg = start_registry(built, tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, local_registry: LocalRegistry) -> Iterator[Env]:
    from playwright.sync_api import sync_playwright

    data = tmp_path_factory.mktemp("console") / "data"
    with socket.socket() as probe:  # a free port, so MCPGW_PUBLIC_URL can name it (OAuth login)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    extra = {"MCPGW_PORT": str(port), "MCPGW_PUBLIC_URL": f"http://127.0.0.1:{port}",
             "MCPGW_NPM_REGISTRY": local_registry.npm_url}  # fmt: skip
    with GatewayProcess(gateway_env(data, MCPGW_ADMIN_API_KEY=ADMIN_KEY, **extra)) as gw:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx2.Client(base_url=gw.url, headers=headers, timeout=30) as http:
            resp = http.post(
                "/mcp/servers",
                json={"name": "hostile", "command": sys.executable, "args": [HOSTILE],
                      "secrets": [{"name": "API_TOKEN", "required": False}]},
            )  # fmt: skip
            assert resp.status_code == 200, resp.text
            _wait_connected(http, "hostile")
            with sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    yield Env(gw.url, http, browser)
                finally:
                    browser.close()


@pytest.fixture
def page(env: Env) -> Iterator[Any]:
    """A fresh browser context (no cookies); fails the test on any CSP violation or JS error."""
    context = env.browser.new_context(base_url=env.url, viewport={"width": 1100, "height": 760})
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def on_console(msg: Any) -> None:
        # The API's refusals (4xx) are expected in some tests; Chromium logs each as an error.
        if "Content Security Policy" in msg.text or (
            msg.type == "error" and not _REFUSED.search(msg.text)
        ):
            problems.append(msg.text)

    tab.on("console", on_console)
    yield tab
    context.close()
    assert problems == []


def login(page: Any, key: str) -> None:
    page.goto("/ui/login")
    page.fill("#key", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/ui/servers")


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_log_in_keeps_the_key_out_of_the_browser(env: Env, page: Any) -> None:
    page.goto("/ui/login")
    shot(page, "login")
    login(page, ADMIN_KEY)
    cookies = page.context.cookies()
    (session,) = [c for c in cookies if c["name"] == "mcpgw_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert ADMIN_KEY not in json.dumps(cookies)
    stored = page.evaluate(
        "() => JSON.stringify([document.cookie, {...localStorage}, {...sessionStorage}])"
    )
    assert ADMIN_KEY not in stored and "mcpgw_session" not in stored  # HttpOnly: unseen by JS
    assert ADMIN_KEY not in page.content()


def test_add_a_server_and_see_it_connect(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.fill("#f-name", "added")
    page.fill("#f-command", sys.executable)
    page.fill("#f-args", HOSTILE)
    page.click("#f-submit")
    row = page.locator('tr[data-server="added"]')
    expect(row.locator(".badge")).to_have_text("connected", timeout=TIMEOUT)
    expect(row.locator("td").nth(6)).to_have_text("4")  # the hostile server's four tools
    shot(page, "servers")


def test_adding_a_bad_server_shows_the_apis_validation_message(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.fill("#f-name", "needs-command")
    page.click("#f-submit")  # stdio without a command
    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("command", timeout=TIMEOUT)
    expect(errors).to_contain_text("invalid_request")
    assert env.http.get("/mcp/servers/needs-command").status_code == 404


def test_call_a_tool_through_the_generated_form(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/tools")
    page.fill("#tool-search", "hostile echoes")  # every word: server, name or description
    items = page.locator(".tool-item")
    expect(items).to_have_count(1)
    items.first.click()
    page.fill("#arg-args_title", "hello 'quoted'")
    page.fill("#arg-args_count", "3")
    page.select_option("#arg-args_mode", label='"slow"')
    page.select_option("#arg-args_verbose", "true")
    page.fill("#arg-args_options_depth", "1.5")
    page.click('fieldset[data-path="args.tags"] .add-item')
    page.click('fieldset[data-path="args.tags"] .add-item')
    page.fill("#arg-args_tags_0", "a")
    page.fill("#arg-args_tags_1", "b")
    page.click("#tool-call")
    result = page.locator("#tool-result .text-result")
    expect(result).to_have_count(1, timeout=TIMEOUT)
    expected = {
        "count": 3, "mode": "slow", "options": {"depth": 1.5}, "tags": ["a", "b"],
        "title": "hello 'quoted'", "verbose": True,
    }  # fmt: skip
    assert json.loads(result.text_content()) == expected
    shot(page, "tools")
    # The CLI command shown runs as is and makes the same call.
    cli = page.locator("#tool-cli").text_content()
    venv_bin = str(Path(sys.executable).parent)
    run = subprocess.run(
        ["bash", "-c", cli + " --json"],
        env={**os.environ, "PATH": venv_bin + os.pathsep + os.environ["PATH"],
             "MCPGW_API_KEY": ADMIN_KEY},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.dumps(expected, sort_keys=True) in run.stdout.replace("\\", "")
    curl = page.locator("#tool-curl").text_content()
    words = shlex.split(curl)
    assert words[:4] == ["curl", "-sS", "-X", "POST"]
    assert words[4] == env.url + "/mcp/tool/call"
    assert "Authorization: Bearer $MCPGW_API_KEY" in words  # a variable, never the key
    assert json.loads(words[-1]) == {
        "serverName": "hostile", "methodName": "form_demo", "args": expected,
    }  # fmt: skip


def test_a_required_field_left_empty_is_named_before_calling(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/tools")
    page.locator('.tool-item[data-tool="hostile/form_demo"]').click()
    page.click("#tool-call")
    expect(page.locator("#tool-result")).to_contain_text("args.title is required")


def test_an_image_result_is_shown_as_an_image(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/tools")
    page.locator('.tool-item[data-tool="hostile/image"]').click()
    page.click("#tool-call")
    image = page.locator("#tool-result img.image-result")
    expect(image).to_have_count(1, timeout=TIMEOUT)
    assert image.evaluate("img => img.complete && img.naturalWidth") == 1
    expect(page.locator("#tool-result .text-result")).to_have_text("one pixel")


def test_xss_in_a_tool_description_result_and_logs_stays_inert_text(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/tools")
    page.locator('.tool-item[data-tool="hostile/xss"]').click()
    description = page.locator("#tool-description")
    expect(description).to_contain_text('<img src=x onerror="window.__xss=1">')
    page.click("#tool-call")
    result = page.locator("#tool-result .text-result")
    expect(result).to_contain_text("<script>window.__xss=2</script>", timeout=TIMEOUT)
    shot(page, "tools-xss")
    page.goto("/ui/servers")
    page.locator('tr[data-server="hostile"] button.link').click()
    expect(page.locator("#logs")).to_contain_text('starting <img src=x onerror="window.__xss=1">')
    # Nothing ran, and no element came out of the payloads.
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0


def test_a_long_call_shows_progress_and_can_be_cancelled(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/tools")
    page.locator('.tool-item[data-tool="hostile/slow"]').click()
    page.fill("#arg-args_seconds", "120")
    page.click("#tool-call")
    expect(page.locator("#tool-progress")).to_contain_text("Calling")
    expect(page.locator("#tool-call")).to_be_disabled()
    # The call runs as an async run: the tool's progress notifications show as they come.
    expect(page.locator("#tool-run-progress")).to_contain_text("% step", timeout=TIMEOUT)
    page.click("#tool-cancel")
    expect(page.locator("#tool-result")).to_contain_text("cancelled", timeout=TIMEOUT)
    expect(page.locator("#tool-call")).to_be_enabled()
    expect(page.locator("#tool-progress")).to_be_empty()


def test_set_a_secret_as_a_user(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    key = env.new_key("user", "carol")
    login(page, key)
    page.goto("/ui/secrets")
    page.select_option("#secret-server", "hostile")
    # The names the server's definition injects are offered (hostile declares API_TOKEN).
    options = page.locator("#secret-names option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == ["API_TOKEN"]
    page.fill("#secret-name", "API_TOKEN")
    page.fill("#secret-value", "s3cret-canary-value")
    page.click("#secret-set")
    expect(page.locator('tr[data-secret="API_TOKEN"]')).to_have_count(1, timeout=TIMEOUT)
    assert page.input_value("#secret-value") == ""
    assert "s3cret-canary-value" not in page.content()
    shot(page, "secrets")
    names = env.http.get("/secrets", params={"serverName": "hostile", "username": "carol"})
    assert names.json()["secrets"] == ["API_TOKEN"]
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator('tr[data-secret="API_TOKEN"] button').click()
    expect(page.locator('tr[data-secret="API_TOKEN"]')).to_have_count(0)


def test_a_user_sees_status_but_no_logs_or_admin_controls(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, env.new_key("user", "erin"))
    expect(page.locator('tr[data-server="hostile"] .badge')).to_have_text("connected")
    page.locator('tr[data-server="hostile"] button.link').click()
    for hidden in ("#btn-restart", "#logs", "#server-form"):
        expect(page.locator(hidden)).to_be_hidden()
    assert page.locator("#logs").text_content() == ""  # the API sends no logs to a user
    assert page.locator("nav a", has_text="API keys").count() == 0
    page.goto("/ui/tools")
    expect(page.locator("#tool-username")).to_be_hidden()  # a user acts as itself only
    page.goto("/ui/keys")
    expect(page.locator("main")).to_contain_text("needs an admin API key")


def test_a_failing_servers_logs_and_error_are_shown(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    env.add_server("broken", "--fail-start", "boom: missing config file /etc/canary.conf")
    login(page, ADMIN_KEY)
    row = page.locator('tr[data-server="broken"]')
    expect(row.locator(".last-error")).not_to_be_empty(timeout=TIMEOUT)
    row.locator("button.link").click()
    page.check("#follow")
    expect(page.locator("#logs")).to_contain_text("missing config file /etc/canary.conf")
    expect(page.locator("#detail-meta")).to_contain_text("last error: ")
    shot(page, "servers-failing")


def test_a_write_without_the_csrf_token_is_refused_in_the_browser(env: Env, page: Any) -> None:
    login(page, ADMIN_KEY)
    script = """async (withToken) => {
        const headers = {'Content-Type': 'application/json'};
        if (withToken) headers['X-CSRF-Token'] =
            document.querySelector('meta[name="csrf-token"]').content;
        const resp = await fetch('/secrets/set', {method: 'POST', headers,
            body: JSON.stringify({serverName: 'hostile', secretName: 'CSRF_PROBE',
                                  secretValue: 'v'})});
        return [resp.status, (await resp.json()).code];
    }"""
    assert page.evaluate(script, False) == [403, "forbidden"]
    names = env.http.get("/secrets", params={"serverName": "hostile"}).json()["secrets"]
    assert "CSRF_PROBE" not in names
    assert page.evaluate(script, True) == [200, None]


def test_an_api_key_is_shown_once_and_can_be_revoked(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/keys")
    page.fill("#key-name", "ci-bot")
    page.select_option("#key-role", "service")
    page.click("#key-form button[type=submit]")
    created = page.locator("#key-value")
    expect(created).not_to_be_empty(timeout=TIMEOUT)
    key = created.text_content()
    assert env.http.get("/mcp/servers", headers={"Authorization": f"Bearer {key}"}).is_success
    shot(page, "keys")
    page.reload()
    assert key not in page.content()  # shown once
    page.on("dialog", lambda dialog: dialog.accept())
    row = page.locator("#keys-table tr", has_text="ci-bot")
    row.locator("button").click()
    expect(row).to_have_count(0)
    assert (
        env.http.get("/mcp/servers", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    )


def test_logout_ends_the_session(env: Env, page: Any) -> None:
    login(page, ADMIN_KEY)
    page.click("#logout")
    page.wait_for_url("**/ui/login")
    page.goto("/ui/servers")
    page.wait_for_url("**/ui/login")


def test_restart_and_edit_a_server(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    env.add_server("restartable")
    _wait_connected(env.http, "restartable")
    before = env.http.get("/mcp/servers/restartable").json()["server"]["pid"]
    login(page, ADMIN_KEY)
    page.locator('tr[data-server="restartable"] button.link').click()
    page.click("#btn-restart")
    deadline = time.monotonic() + 60  # a new process, connected (the old one may still show)
    while True:
        server = env.http.get("/mcp/servers/restartable").json()["server"]
        if server["pid"] not in (None, before) and server["status"] == "connected":
            break
        assert time.monotonic() < deadline, server
        time.sleep(0.05)
    badge = page.locator('tr[data-server="restartable"] .badge')
    expect(badge).to_have_text("connected", timeout=TIMEOUT)
    page.click("#btn-edit")
    expect(page.locator("#f-name")).to_have_value("restartable")
    assert page.locator("#f-name").evaluate("input => input.readOnly")
    page.fill("#f-startup", "45000")
    page.click("#f-submit")
    expect(page.locator("#status")).to_have_text("Saved restartable.", timeout=TIMEOUT)
    server = env.http.get("/mcp/servers/restartable").json()["server"]
    assert server["startupTimeout"] == 45000 and server["args"] == [HOSTILE]


def test_oauth_connect_runs_the_gateways_login_flow(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    resp = env.http.post(
        "/mcp/servers",
        json={
            "name": "remote", "transportType": "streamable_http", "url": "http://127.0.0.1:9/mcp",
            "enabled": False,
            "oauth": {"clientId": "console", "authorizationEndpoint": "http://127.0.0.1:9/auth",
                      "tokenEndpoint": "http://127.0.0.1:9/token"},
        },
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    key = env.new_key("user", "dave")
    login(page, key)
    page.goto("/ui/oauth")
    row = page.locator('tr[data-server="remote"]')
    expect(row).to_contain_text("127.0.0.1:9", timeout=TIMEOUT)
    expect(row.locator("td.connection")).to_have_text("not connected", timeout=TIMEOUT)
    shot(page, "oauth")
    with page.context.expect_page() as opened:
        row.locator("button").click()
    login_tab = opened.value
    login_tab.wait_for_load_state()
    # The session cookie authenticated /oauth/remote/authorize, which sent the tab on to the
    # gateway's login start page for this user and server.
    assert "/oauth/start?ticket=" in login_tab.url, login_tab.content()
    # The flow itself then refuses this fixture's plain-http authorization server: as far as
    # the console goes, the button started the gateway's own login flow for the session's user.
    expect(login_tab.locator("body")).to_contain_text("must use https")
    login_tab.close()


def test_a_refused_package_install_shows_why(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/packages")
    page.fill("#pkg-name", "--index-url=http://evil")
    page.fill("#pkg-server", "evil")
    page.click("#pkg-install")
    expect(page.locator("#status")).to_have_class("status error", timeout=TIMEOUT)
    expect(page.locator("#status")).to_contain_text("invalid_request")
    assert env.http.get("/mcp/servers/evil").status_code == 404


def test_a_package_install_shows_the_installer_output_as_it_comes(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/packages")
    page.fill("#pkg-name", NPM_NAME)
    page.fill("#pkg-server", "streamed")
    page.fill("#pkg-version", "1.9.0")
    page.click("#pkg-install")
    expect(page.locator("#status")).to_contain_text("Installed", timeout=TIMEOUT)
    expect(page.locator("#pkg-log")).to_contain_text("added 1 package")  # npm's own output
    expect(page.locator('#pkg-table tr[data-server="streamed"]')).to_contain_text("1.9.0")
    assert env.http.delete("/packages/streamed").status_code == 200


def test_the_audit_page_filters_records(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    call = {"serverName": "hostile", "methodName": "xss", "args": {}}
    assert env.http.post("/mcp/tool/call", json=call).status_code == 200
    login(page, ADMIN_KEY)
    page.goto("/ui/audit")
    # Audit records are written in order: once this login shows, the call before it is stored.
    expect(page.locator('#audit-table tr[data-action="console_login"]').first).to_be_visible()
    page.fill("#audit-server", "hostile")
    page.fill("#audit-tool", "xss")
    page.click("#audit-apply")
    rows = page.locator("#audit-table tbody tr")
    expect(rows.first).to_contain_text("tool_call", timeout=TIMEOUT)
    for i in range(rows.count()):  # only the filtered server's tool calls remain
        assert rows.nth(i).get_attribute("data-action") == "tool_call"
        expect(rows.nth(i)).to_contain_text("hostile")
    shot(page, "audit")
    page.fill("#audit-since", "yesterday")
    page.click("#audit-apply")
    expect(page.locator("#status")).to_contain_text("invalid_request")


def test_the_runs_page_shows_and_cancels_an_async_call(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    call = {"serverName": "hostile", "methodName": "slow", "args": {"seconds": 300}, "async": True}
    accepted = env.http.post("/mcp/tool/call", json=call)
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["runId"]
    login(page, ADMIN_KEY)
    page.goto("/ui/runs")
    row = page.locator(f'tr[data-run="{run_id}"]')
    expect(row).to_contain_text("slow", timeout=TIMEOUT)
    row.locator("button.link").click()
    expect(page.locator("#run-body")).to_contain_text(run_id)
    shot(page, "runs")
    row.locator(".cancel-run").click()
    expect(row).to_have_attribute("data-status", "cancelled", timeout=TIMEOUT)
    assert env.http.get(f"/runs/{run_id}").json()["run"]["status"] == "cancelled"


def test_every_page_renders_for_an_admin(env: Env, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, ADMIN_KEY)
    page.goto("/ui/packages")
    expect(page.locator("#pkg-table")).to_contain_text("No packages installed.", timeout=TIMEOUT)
    shot(page, "packages")
    for name in ("servers", "tools", "secrets", "oauth", "keys", "audit", "runs"):
        page.goto(f"/ui/{name}")
        expect(page.locator("h1")).to_be_visible()
