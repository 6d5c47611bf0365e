"""ApiKeyService on a real store: create, authenticate, revoke, bootstrap."""

from __future__ import annotations

import stat
from pathlib import Path

import anyio
import pytest

from mcp_gateway.domain.records import Role
from mcp_gateway.errors import ConfigError, InvalidRequest, Unauthenticated
from mcp_gateway.services.apikeys import ApiKeyService
from mcp_gateway.storage.ports import Store
from tests.conftest import MakeSettings


@pytest.mark.anyio
async def test_created_key_authenticates_until_revoked(store: Store) -> None:
    service = ApiKeyService(store)
    record, key = await service.create("backend", Role.SERVICE)
    principal = await service.authenticate(key)
    assert (principal.role, principal.key_id) == (Role.SERVICE, record.id)
    assert key not in repr(await service.list())
    await service.revoke(record.id)
    with pytest.raises(Unauthenticated):
        await service.authenticate(key)
    with pytest.raises(Unauthenticated):
        await service.authenticate(key + "x")


@pytest.mark.anyio
async def test_user_keys_are_bound_to_a_valid_username(sqlite_store: Store) -> None:
    service = ApiKeyService(sqlite_store)
    _, key = await service.create("u", "user", "alice")
    assert (await service.authenticate(key)).username == "alice"
    with pytest.raises(InvalidRequest):
        await service.create("u", "user")
    with pytest.raises(InvalidRequest):
        await service.create("u", "user", "bad\nname")
    with pytest.raises(InvalidRequest):
        await service.create("x", "superuser")


@pytest.mark.anyio
async def test_bootstrap_creates_one_admin_key_file_once(
    sqlite_store: Store, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    service = ApiKeyService(sqlite_store)
    message = await service.bootstrap(settings)
    assert message is not None
    path = settings.store.data_dir / "admin-api-key"
    key = path.read_text().strip()
    assert key in message and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (await service.authenticate(key)).role is Role.ADMIN
    assert await service.bootstrap(settings) is None


@pytest.mark.anyio
async def test_bootstrap_with_configured_key_is_idempotent_and_checks_length(
    sqlite_store: Store, make_settings: MakeSettings, tmp_path: Path
) -> None:
    service = ApiKeyService(sqlite_store)
    key = "configured-admin-key-123456"
    settings = make_settings(tmp_path, http={"admin_api_key": key})
    assert await service.bootstrap(settings) is None
    assert await service.bootstrap(settings) is None
    assert len(await service.list()) == 1
    assert (await service.authenticate(key)).role is Role.ADMIN
    with pytest.raises(ConfigError):
        await service.bootstrap(make_settings(tmp_path, http={"admin_api_key": "short"}))


async def _last_used(store: Store, key_id: str) -> float | None:
    return next(k for k in await store.list_api_keys() if k.id == key_id).last_used_at


@pytest.mark.anyio
async def test_authentication_records_last_use_at_most_once_a_minute_per_key(
    store: Store,
) -> None:
    async with ApiKeyService(store) as service:
        first, first_key = await service.create("first", Role.SERVICE)
        second, second_key = await service.create("second", Role.USER, "bob")
        assert await _last_used(store, first.id) is None
        await service.authenticate(first_key)
        with anyio.fail_after(10):
            while True:
                used = await _last_used(store, first.id)
                if used is not None:
                    break
                await anyio.sleep(0.01)
        for _ in range(20):  # within TOUCH_EVERY: no further writes for this key
            await service.authenticate(first_key)
        await service.authenticate(second_key)  # another key has its own throttle
    # Leaving the service wrote whatever was queued.
    assert await _last_used(store, first.id) == used
    assert await _last_used(store, second.id) is not None


@pytest.mark.anyio
async def test_a_service_never_entered_authenticates_without_recording_use(
    sqlite_store: Store,
) -> None:
    service = ApiKeyService(sqlite_store)  # one-shot CLI use: no background writer
    record, key = await service.create("cli", Role.ADMIN)
    await service.authenticate(key)
    assert await _last_used(sqlite_store, record.id) is None
