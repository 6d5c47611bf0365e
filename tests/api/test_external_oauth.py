"""External servers' OAuth over HTTP: POST /mcp/external/discover, the gateway's client id
metadata document, and a CIMD login end to end (the test AS fetches the document from the
gateway, served on a real loopback port), then tool calls and a refresh."""

from __future__ import annotations

import html
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn

from mcp_gateway.api.app import create_app
from mcp_gateway.runtime import Runtime
from mcp_gateway.services.oauth.external_discovery import discover_external
from tests.conftest import MakeSettings
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import (  # noqa: F401 (fixtures)
    AsControl,
    as_process,
    auth_server,
    mcp_process,
)


class Served:
    def __init__(self, runtime: Runtime, url: str, admin: str) -> None:
        self.runtime, self.url, self.admin = runtime, url, admin
        self.client = httpx2.AsyncClient(base_url=url, timeout=20.0)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin}"}


@asynccontextmanager
async def served_gateway(make_settings: MakeSettings, tmp_path: Path) -> AsyncIterator[Served]:
    """The real app on a loopback port whose URL is the gateway's public URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    oauth = {"allowed_hosts": ["127.0.0.1"], "external_allowed_hosts": ["127.0.0.1"]}
    settings = make_settings(tmp_path, oauth={**oauth, "public_url": url})
    announced: list[str] = []
    runtime = Runtime(settings, announce=announced.append, reconcile_packages=False)
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), log_level="warning", lifespan="on"))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            with anyio.fail_after(30):
                while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
                    await anyio.sleep(0.02)
            gateway = Served(runtime, url, announced[0].rsplit(" ", 1)[-1])
            try:
                yield gateway
            finally:
                await gateway.client.aclose()
                server.should_exit = True
    finally:
        sock.close()


@pytest.fixture
async def served(make_settings: MakeSettings, tmp_path: Path) -> AsyncIterator[Served]:
    async with served_gateway(make_settings, tmp_path) as gateway:
        yield gateway


async def discover(served: Served, url: str, key: str | None = None, **extra: Any) -> Any:
    return await served.client.post(
        "/mcp/external/discover", json={"url": url, **extra}, headers=served.auth(key)
    )


@pytest.mark.anyio
async def test_discover_answers_mcp_apis_shape_to_a_user_key(
    served: Served,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    _record, key = await served.runtime.apikeys.create("u", "user", "alice")
    canary = "CANARY-query-secret-7f3a"  # a URL query may carry an API key: never echoed
    answer = await discover(served, mcp_process.url + f"/mcp?apiKey={canary}", key)
    assert answer.status_code == 200, answer.text
    assert canary not in answer.text
    refused = await discover(served, mcp_process.url + f"/other?apiKey={canary}", key)
    assert refused.status_code == 400 and canary not in refused.text
    body = answer.json()
    assert body["success"] is True and body["recommendedRegistrationMode"] == "dcr"
    assert body["resourceUri"] == mcp_process.url + "/mcp"
    assert body["authorizationServers"][0]["issuer"] == auth_server.url
    unauthenticated = await served.client.post("/mcp/external/discover", json={"url": "x"})
    assert unauthenticated.status_code == 401


@pytest.mark.anyio
async def test_discover_refusals_are_400_with_a_code_and_no_traceback(
    served: Served,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    await auth_server.configure(profile="no_s256")
    refused = await discover(served, mcp_process.url + "/mcp")
    assert refused.status_code == 400
    body = refused.json()
    assert (body["success"], body["code"], body["reason"]) == (
        False,
        "discovery_failed",
        "pkce_s256_unsupported",
    )
    assert body["attemptedUrls"] and "Traceback" not in refused.text
    blocked = await discover(served, "https://169.254.169.254/latest/meta-data")
    assert blocked.status_code == 400 and blocked.json()["code"] == "invalid_request"
    missing = await served.client.post("/mcp/external/discover", json={}, headers=served.auth())
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_request"


@pytest.mark.anyio
async def test_client_metadata_document_is_public_and_names_the_gateways_callback(
    served: Served,
) -> None:
    answer = await served.client.get("/oauth/client-metadata.json")
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["client_id"] == served.url + "/oauth/client-metadata.json"
    assert doc["redirect_uris"] == [served.url + "/oauth/callback"]
    assert doc["token_endpoint_auth_method"] == "none"


async def browser_login(served: Served, username: str) -> None:
    """A login link from the API, opened in a browser: gateway start page, the AS (which
    fetches the client metadata document from the gateway), the gateway's callback."""
    link = await served.client.get(
        "/oauth/ext/authorize", params={"username": username}, headers=served.auth()
    )
    assert link.status_code == 302, link.text
    async with httpx2.AsyncClient(timeout=20.0) as browser:
        page = await browser.get(link.headers["location"], headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text
        found = re.search(r'<a href="([^"]+)"', page.text)
        assert found is not None
        at_as = await browser.get(html.unescape(found.group(1)) + "&login_hint=" + username)
        assert at_as.status_code == 302, at_as.text
        done = await browser.get(at_as.headers["location"], headers={"Accept": "text/html"})
        assert done.status_code == 200, done.text


async def call_echo(served: Served, username: str) -> httpx2.Response:
    body = {"serverName": "ext", "methodName": "echo", "args": {"text": "hi"}}
    return await served.client.post(
        "/mcp/tool/call", json={**body, "username": username}, headers=served.auth()
    )


@pytest.mark.anyio
@pytest.mark.slow
async def test_cimd_login_end_to_end_then_tool_calls_and_a_refresh(
    served: Served,
    auth_server: AsControl,  # noqa: F811
    mcp_process: FixtureProcess,  # noqa: F811
) -> None:
    await auth_server.configure(profile="cimd")
    found = (await discover(served, mcp_process.url + "/mcp")).json()
    assert found["recommendedRegistrationMode"] == "cimd"
    template = (await discover_external(served.runtime.oauth.http, found["serverUrl"])).template()
    created = await served.client.post(
        "/mcp/servers",
        headers=served.auth(),
        json={
            "name": "ext",
            "username": "alice",  # the creator (an admin key names them); her install
            "transportType": "streamable_http",
            "url": found["serverUrl"],
            "source": "external",
            "authMode": "oauth2",
            "oauthTemplate": template,
        },
    )
    assert created.status_code == 200, created.text
    before = await call_echo(served, "alice")
    assert before.status_code == 401 and before.json()["code"] == "reauth_required"
    assert before.json()["authorizationUrl"].startswith(served.url + "/oauth/start?ticket=")
    await browser_login(served, "alice")
    answer = await call_echo(served, "alice")
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["content"][0]["text"] == "hi"
    stats = await auth_server.stats()
    client_id = served.url + "/oauth/client-metadata.json"
    assert stats["cimd_fetches"] >= 1 and stats["registrations"] == 0
    assert stats["token_requests"][-1]["client_id"] == client_id
    await auth_server.expire()  # the upstream now refuses the access token
    again = await call_echo(served, "alice")
    assert again.status_code == 200, again.text
    stats = await auth_server.stats()
    assert stats["refresh_requests"] == 1
    assert stats["token_requests"][-1]["client_id"] == client_id
    other = await call_echo(served, "bob")  # bob has no install of alice's server...
    assert other.status_code == 409 and other.json()["code"] == "not_installed"
    install = await served.client.post(
        "/mcp/user/servers/ext/install", json={"username": "bob"}, headers=served.auth()
    )
    assert install.status_code == 200, install.text
    other = await call_echo(served, "bob")  # ...and, installed, never signed in
    assert other.status_code == 401 and other.json()["code"] == "reauth_required"
