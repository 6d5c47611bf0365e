"""Key rotation also rewraps the encrypted OAuth client secrets of per-user installs (both
stores): after it, the old key is no longer needed to read them."""

from __future__ import annotations

import secrets

import pytest

from mcp_gateway.crypto.keyring import Keyring, key_id_of
from mcp_gateway.domain.user_servers import CLIENT_SECRET_FIELD, UserServerInstall
from mcp_gateway.services.key_rotation import rotate_keys
from mcp_gateway.storage.ports import Store

pytestmark = pytest.mark.anyio

KEY_A = secrets.token_bytes(32)
KEY_B = secrets.token_bytes(32)
ONLY_A = Keyring([("A", KEY_A)])


async def test_rotation_rewraps_install_client_secrets(store: Store) -> None:
    both = Keyring([("B", KEY_B), ("A", KEY_A)])
    blob = ONLY_A.encrypt_token("alice", "ext", CLIENT_SECRET_FIELD, "client-secret-1")
    await store.put_install(UserServerInstall("ext", "alice", client_secret=blob))
    await store.put_install(UserServerInstall("ext", "bob"))  # no secret: nothing to rotate
    report = await rotate_keys(store, both)
    assert report.ok and report.rewrapped == 1
    stored = await store.get_install("ext", "alice")
    assert stored is not None and stored.client_secret is not None
    assert key_id_of(stored.client_secret) == "B"
    only_b = Keyring([("B", KEY_B)])
    assert (
        only_b.decrypt_token("alice", "ext", CLIENT_SECRET_FIELD, stored.client_secret)
        == "client-secret-1"
    )
    again = await rotate_keys(store, both)
    assert (again.rewrapped, again.already_current) == (0, 1)
