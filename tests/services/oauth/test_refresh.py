"""Token storage and refresh against the real test AS (subprocess, real HTTP)."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client.exposition import generate_latest

from mcp_gateway.config import OAuthSettings
from mcp_gateway.crypto.keyring import Keyring
from mcp_gateway.domain.servers import ServerConfig, TransportType
from mcp_gateway.errors import GatewayError, InvalidRequest, ReauthRequired
from mcp_gateway.observability.metrics import GatewayMetrics
from mcp_gateway.services.oauth import TokenInput
from mcp_gateway.services.oauth.tokens import TokenSet, seal, unseal
from mcp_gateway.storage.factory import open_store
from tests.fixtures.oauth_as import FixtureProcess
from tests.services.oauth.conftest import PUBLIC_URL, AsControl, make_service, remote_server

CLIENT = "client-a"
ROOT = Path(__file__).resolve().parents[3]


async def _grant(auth_server: AsControl, method: str = "none", secret: str | None = None) -> Any:
    await auth_server.add_client(CLIENT, secret, method)
    return await auth_server.grant(CLIENT)


def _configured(auth_server: AsControl, mcp_url: str = "http://127.0.0.1:9/mcp") -> ServerConfig:
    return remote_server(mcp_url, tokenEndpoint=auth_server.url + "/token", clientId=CLIENT)


@pytest.mark.anyio
async def test_token_about_to_expire_is_refreshed_silently_with_resource(
    store: Any, keyring: Keyring, oauth_settings: OAuthSettings, auth_server: AsControl
) -> None:
    grant = await _grant(auth_server)
    server = _configured(auth_server)
    service = make_service(store, keyring, oauth_settings)
    await service.store_tokens(
        server,
        "bob",
        TokenInput(
            grant["access_token"], refresh_token=grant["refresh_token"], expires_in=30
        ),  # inside the 60 s margin
    )
    headers = await service.authorization_headers(server, "bob")
    assert headers["Authorization"].startswith("Bearer at-")
    assert headers["Authorization"] != f"Bearer {grant['access_token']}"
    stats = await auth_server.stats()
    assert stats["refresh_requests"] == 1
    assert stats["token_requests"][-1]["resource"] == "http://127.0.0.1:9/mcp"
    # Fresh now: a second call is served from the store, no new refresh.
    assert await service.authorization_headers(server, "bob") == headers
    assert (await auth_server.stats())["refresh_requests"] == 1


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
async def test_refresh_authenticates_the_client_with_the_stored_method(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    method: str,
) -> None:
    grant = await _grant(auth_server, method, "s3cr:et/+")
    server = _configured(auth_server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    await service.store_tokens(
        server,
        "bob",
        TokenInput(
            grant["access_token"],
            refresh_token=grant["refresh_token"],
            expires_in=1,
            client_id=CLIENT,
            client_secret="s3cr:et/+",
            auth_method=method,
        ),
    )
    await service.authorization_headers(server, "bob")
    request = (await auth_server.stats())["token_requests"][-1]
    assert request == {
        "grant_type": "refresh_token",
        "resource": "http://127.0.0.1:9/mcp",
        "auth_method": method,
        "client_id": CLIENT,
    }


@pytest.mark.anyio
async def test_restart_with_expired_token_refreshes_via_discovered_metadata(
    make_settings: Any,
    tmp_path: Path,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    grant = await _grant(auth_server)
    # No token endpoint configured: found through RFC 9728 then RFC 8414 discovery.
    server = remote_server(mcp_process.url + "/mcp", clientId=CLIENT)
    settings = make_settings(tmp_path)
    async with open_store(settings) as first:
        await first.create_server(server)
        await make_service(first, keyring, oauth_settings).store_tokens(
            server,
            "bob",
            TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=1),
        )
        record = await first.get_tokens("remote", "bob")
        assert record is not None and record.expires_at is not None
    # "Restart": a new store connection and a new service, nothing shared in memory.
    async with open_store(settings) as second:
        service = make_service(second, keyring, oauth_settings)
        headers = await service.authorization_headers(server, "bob")
        assert headers["Authorization"] != f"Bearer {grant['access_token']}"
        record = await second.get_tokens("remote", "bob")
        assert record is not None
        assert record.meta["token_endpoint"] == auth_server.url + "/token"
        assert record.meta["resource"] == mcp_process.url + "/mcp"
    assert (await auth_server.stats())["refresh_requests"] == 1


@pytest.mark.anyio
async def test_revoked_refresh_token_marks_reauth_and_offers_a_login(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    mcp_process: FixtureProcess,
) -> None:
    grant = await _grant(auth_server)
    server = remote_server(mcp_process.url + "/mcp")  # discovery; DCR for the new login
    await sqlite_store.create_server(server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    await service.store_tokens(
        server,
        "bob",
        TokenInput(
            grant["access_token"],
            refresh_token=grant["refresh_token"],
            expires_in=1,
            client_id=CLIENT,
        ),
    )
    await auth_server.revoke()
    with pytest.raises(ReauthRequired) as caught:
        await service.authorization_headers(server, "bob")
    assert caught.value.authorization_url is not None
    # A login link to the gateway's start page (binds the flow to the browser that opens it).
    assert caught.value.authorization_url.startswith(PUBLIC_URL + "/oauth/start?ticket=")
    record = await sqlite_store.get_tokens("remote", "bob")
    assert record is not None and record.state == "reauth_required"
    before = (await auth_server.stats())["refresh_requests"]
    with pytest.raises(ReauthRequired):  # no second attempt with the dead grant
        await service.authorization_headers(server, "bob")
    assert (await auth_server.stats())["refresh_requests"] == before


@pytest.mark.anyio
async def test_upstream_401_forces_one_refresh_and_a_stale_rejection_does_not(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
) -> None:
    grant = await _grant(auth_server)
    server = _configured(auth_server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    await service.store_tokens(
        server,
        "bob",
        TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=3600),
    )
    old = await service.authorization_headers(server, "bob")
    new = await service.force_refresh(server, "bob", old)
    assert new != old
    # A second caller that was also rejected with the old token gets the new one, no refresh.
    assert await service.force_refresh(server, "bob", old) == new
    assert (await auth_server.stats())["refresh_requests"] == 1


@pytest.mark.anyio
async def test_concurrent_callers_in_one_process_share_one_refresh(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
) -> None:
    grant = await _grant(auth_server)
    await auth_server.configure(refresh_delay=0.3)
    server = _configured(auth_server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    await service.store_tokens(
        server,
        "bob",
        TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=1),
    )
    seen: list[dict[str, str]] = []

    async def call() -> None:
        seen.append(await service.authorization_headers(server, "bob"))

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(call)
    assert len({h["Authorization"] for h in seen}) == 1
    assert (await auth_server.stats())["refresh_requests"] == 1


@pytest.mark.anyio
async def test_two_services_on_one_store_file_refresh_once(
    make_settings: Any,
    tmp_path: Path,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
) -> None:
    grant = await _grant(auth_server)
    await auth_server.configure(refresh_delay=0.3)
    server = _configured(auth_server)
    settings = make_settings(tmp_path)
    async with open_store(settings) as a, open_store(settings) as b:
        one, two = (
            make_service(a, keyring, oauth_settings),
            make_service(b, keyring, oauth_settings),
        )
        await one.store_tokens(
            server,
            "bob",
            TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=1),
        )
        results: list[dict[str, str]] = []

        async def call(service: Any) -> None:
            results.append(await service.authorization_headers(server, "bob"))

        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, one)
                tg.start_soon(call, two)
    assert results[0] == results[1]
    assert (await auth_server.stats())["refresh_requests"] == 1


@pytest.mark.anyio
async def test_tokens_only_for_http_servers(
    sqlite_store: Any, keyring: Keyring, oauth_settings: OAuthSettings
) -> None:
    stdio = ServerConfig(name="local", transport_type=TransportType.STDIO, command="x")
    with pytest.raises(InvalidRequest, match="streamable_http or sse"):
        await make_service(sqlite_store, keyring, oauth_settings).store_tokens(
            stdio, "bob", TokenInput("tok")
        )
    assert await sqlite_store.get_tokens("local", "bob") is None


@pytest.mark.anyio
async def test_server_without_oauth_and_without_tokens_gets_no_header(
    sqlite_store: Any, keyring: Keyring, oauth_settings: OAuthSettings
) -> None:
    plain = ServerConfig(
        name="plain", transport_type=TransportType.STREAMABLE_HTTP, url="https://example.com/mcp"
    )
    service = make_service(sqlite_store, keyring, oauth_settings)
    assert await service.authorization_headers(plain, "bob") == {}


@pytest.mark.anyio
async def test_token_values_never_reach_logs_reprs_or_the_store_file(
    make_settings: Any,
    tmp_path: Path,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    canary_secret = "CANARY-client-secret-7f3a"
    await auth_server.add_client(CLIENT, canary_secret, "client_secret_post")
    grant = await auth_server.grant(CLIENT)
    server = _configured(auth_server)
    settings = make_settings(tmp_path)
    async with open_store(settings) as store:
        service = make_service(store, keyring, oauth_settings)
        data = TokenInput(
            grant["access_token"],
            refresh_token=grant["refresh_token"],
            expires_in=1,
            client_secret=canary_secret,
            auth_method="client_secret_post",
            code_verifier="CANARY-verifier",
        )
        await service.store_tokens(server, "bob", data)
        headers = await service.authorization_headers(server, "bob")
        tokens = await service.refresher.load("remote", "bob")
        record = await store.get_tokens("remote", "bob")
        await auth_server.revoke()
        with pytest.raises(ReauthRequired) as caught:
            await service.force_refresh(server, "bob", headers)
    fresh = headers["Authorization"].split()[1]
    canaries = [
        canary_secret,
        "CANARY-verifier",
        grant["access_token"],
        grant["refresh_token"],
        fresh,
    ]
    assert tokens is not None and tokens.refresh_token
    canaries.append(tokens.refresh_token)
    texts = [
        caplog.text,
        repr(data),
        repr(tokens),
        repr(record),
        str(record.meta if record else ""),
        str(caught.value),
        repr(caught.value),
    ]
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    for canary in canaries:
        for text in texts:
            assert canary not in text
        assert canary.encode() not in raw


@pytest.mark.anyio
@pytest.mark.slow
async def test_two_gateway_processes_spend_the_refresh_token_once(
    make_settings: Any,
    tmp_path: Path,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
) -> None:
    key = os.urandom(32)
    keyring = Keyring([("t1", key)])
    grant = await _grant(auth_server)
    await auth_server.configure(refresh_delay=0.5)  # both are in flight at once
    server = _configured(auth_server)
    settings = make_settings(tmp_path)
    async with open_store(settings) as store:
        await make_service(store, keyring, oauth_settings).store_tokens(
            server,
            "bob",
            TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=1),
        )
    go = tmp_path / "go"
    env = {**os.environ, "MCPGW_TEST_KEY": base64.b64encode(key).decode()}
    argv = [
        sys.executable,
        "-m",
        "tests.services.oauth.refresh_worker",
        str(settings.store.data_dir),
        auth_server.url + "/token",
        str(go),
    ]
    outputs: list[str] = []

    async def run() -> None:
        async with await anyio.open_process(argv, env=env, cwd=ROOT) as proc:
            assert proc.stdout is not None
            out = b"".join([chunk async for chunk in proc.stdout])
            assert await proc.wait() == 0
            outputs.append(out.decode().strip())

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            tg.start_soon(run)
            # Release both only when both have opened the store (python start-up varies).
            while True:
                if len([p async for p in anyio.Path(tmp_path).glob("go.ready-*")]) >= 2:
                    break
                await anyio.sleep(0.02)
            await anyio.Path(go).touch()
    assert outputs[0] == outputs[1] and outputs[0].startswith("Bearer at-")
    assert outputs[0] != f"Bearer {grant['access_token']}"
    assert (await auth_server.stats())["refresh_requests"] == 1


@pytest.mark.anyio
async def test_configured_confidential_client_secret_authenticates_the_refresh(
    store: Any, keyring: Keyring, oauth_settings: OAuthSettings, auth_server: AsControl
) -> None:
    grant = await _grant(auth_server, "client_secret_post", "cs-configured")
    server = remote_server(
        "http://127.0.0.1:9/mcp",
        tokenEndpoint=auth_server.url + "/token",
        clientId=CLIENT,
        clientSecret="cs-configured",
        tokenEndpointAuthMethod="client_secret_post",
    )
    service = make_service(store, keyring, oauth_settings)
    tokens = TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=1)
    await service.store_tokens(server, "bob", tokens)
    await service.authorization_headers(server, "bob")
    last = (await auth_server.stats())["token_requests"][-1]
    assert (last["auth_method"], last["client_id"]) == ("client_secret_post", CLIENT)
    record = await store.get_tokens("remote", "bob")
    assert b"cs-configured" not in repr(record).encode()  # stored encrypted, like the tokens
    assert "cs-configured" not in repr(server)


def test_refresh_margin_fits_the_lifetime_the_gateway_obtained(keyring: Keyring) -> None:
    handed_in = TokenSet("remote", "bob", "at", expires_at=103.0, updated_at=100.0)
    assert handed_in.needs_refresh(now=100.0)  # age unknown: the fixed 60 s margin
    obtained = handed_in.with_response({"access_token": "at2", "expires_in": 3}, now=100.0)
    assert not obtained.needs_refresh(now=102.6)  # a 3 s token is used for 2.7 s
    assert obtained.needs_refresh(now=102.75)
    hour = obtained.with_response({"access_token": "at3", "expires_in": 3600}, now=0.0)
    assert not hour.needs_refresh(now=3539.0) and hour.needs_refresh(now=3541.0)
    # The lifetime survives the store (a restart keeps the same margin).
    assert unseal(seal(obtained, keyring), keyring).refresh_margin() == pytest.approx(0.3)


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_burst_of_calls_with_3_second_tokens_refreshes_once_per_lifetime(
    sqlite_store: Any,
    keyring: Keyring,
    oauth_settings: OAuthSettings,
    auth_server: AsControl,
) -> None:
    await auth_server.configure(access_ttl=3)
    grant = await _grant(auth_server)
    server = _configured(auth_server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    await service.store_tokens(
        server,
        "bob",
        TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=3),
    )

    async def call() -> None:
        await service.authorization_headers(server, "bob")

    # The handed-in token (age unknown) is refreshed once; the AS's new 3 s token then serves
    # every call of the burst.
    with anyio.fail_after(15):
        for _ in range(20):
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(call)
    assert (await auth_server.stats())["refresh_requests"] == 1
    # Over several lifetimes: one refresh per lifetime (2.7 s of use each), never per call.
    calls = 0
    start = time.monotonic()
    with anyio.fail_after(30):
        while time.monotonic() - start < 7.0:
            await call()
            calls += 1
            await anyio.sleep(0.02)  # pacing the burst, not waiting for a condition
    refreshes = (await auth_server.stats())["refresh_requests"] - 1
    assert calls > 100 and 2 <= refreshes <= 3


@pytest.mark.anyio
async def test_refreshes_and_refused_refreshes_reach_the_metrics_by_server(
    sqlite_store: Any, keyring: Keyring, oauth_settings: OAuthSettings, auth_server: AsControl
) -> None:
    metrics = GatewayMetrics()
    grant = await _grant(auth_server)
    server = _configured(auth_server)
    service = make_service(sqlite_store, keyring, oauth_settings)
    service.refresher.observers.append(metrics.oauth_refresh)
    tokens = TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=30)
    await service.store_tokens(server, "bob", tokens)
    await service.authorization_headers(server, "bob")  # inside the margin: one refresh
    grant = await auth_server.grant(CLIENT)
    tokens = TokenInput(grant["access_token"], refresh_token=grant["refresh_token"], expires_in=1)
    await service.store_tokens(server, "carol", tokens)
    await auth_server.revoke()
    with pytest.raises(ReauthRequired):
        await service.authorization_headers(server, "carol")
    text = generate_latest(metrics.registry).decode()
    assert 'mcpgw_oauth_refreshes_total{server="remote"} 2.0' in text
    assert 'mcpgw_oauth_refresh_failures_total{server="remote"} 1.0' in text
    assert "bob" not in text and "carol" not in text


@pytest.mark.anyio
async def test_configured_client_secret_never_goes_to_a_token_endpoint_the_caller_named(
    sqlite_store: Any, keyring: Keyring, oauth_settings: OAuthSettings, auth_server: AsControl
) -> None:
    # The operator configured a confidential client whose AS is unreachable here; a caller
    # (a user key may post its own tokens) names the configured clientId with a tokenEndpoint
    # of its choosing (the fixture AS stands in for the attacker's host, which logs the form).
    await auth_server.add_client(CLIENT, "operator-secret", "client_secret_post")
    server = remote_server(
        "http://127.0.0.1:9/mcp",
        tokenEndpoint="http://127.0.0.1:9/token",
        clientId=CLIENT,
        clientSecret="operator-secret",
        tokenEndpointAuthMethod="client_secret_post",
    )
    service = make_service(sqlite_store, keyring, oauth_settings)
    await service.store_tokens(
        server,
        "mallory",
        TokenInput(
            "at-mallory",
            refresh_token="rt-any",
            expires_in=1,
            client_id=CLIENT,
            token_endpoint=auth_server.url + "/token",
        ),
    )
    stored = await service.refresher.load(server.name, "mallory")
    assert stored is not None and stored.client_secret is None
    with contextlib.suppress(GatewayError):  # the AS refuses the refresh: beside the point
        await service.refresher.fresh(server, "mallory", rejected="at-mallory")
    requests = (await auth_server.stats())["token_requests"]
    assert requests and all(r["auth_method"] != "client_secret_post" for r in requests)
