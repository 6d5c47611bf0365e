"""Catalogue versions (services/catalogue_versions.py) and the store proxy that reports this
process's writes to them as they are made (storage/write_signals.py), on both stores."""

from __future__ import annotations

import pytest

from mcp_gateway.domain.changes import Change, ChangeKind, Rescan
from mcp_gateway.domain.records import StoredOAuthTokens, StoredSecret
from mcp_gateway.domain.toolsets import Toolset
from mcp_gateway.domain.user_servers import UserServerInstall
from mcp_gateway.services.catalogue_versions import CatalogueVersions
from mcp_gateway.storage.ports import Store
from mcp_gateway.storage.write_signals import WriteSignals


def test_a_users_change_moves_that_users_stamp_only() -> None:
    versions = CatalogueVersions()
    alice, bob = versions.stamp("alice"), versions.stamp("bob")
    versions.note(Change(ChangeKind.SECRET, "fx", "alice"))
    assert versions.stamp("alice") != alice
    assert versions.stamp("bob") == bob
    moved = versions.stamp("alice")
    versions.note(Change(ChangeKind.OAUTH, "fx", "alice"))
    versions.note(Change(ChangeKind.INSTALL, "fx", "alice"))
    assert versions.stamp("alice") != moved


def test_a_users_change_of_one_server_moves_that_servers_stamp_only() -> None:
    versions = CatalogueVersions()
    fx, fy = versions.server_stamp("alice", "fx"), versions.server_stamp("alice", "fy")
    versions.note(Change(ChangeKind.SECRET, "fx", "alice"))
    assert versions.server_stamp("alice", "fx") != fx
    assert versions.server_stamp("alice", "fy") == fy
    versions.note(Change(ChangeKind.TOOLSET, "t"))  # shared: every server's stamp
    assert versions.server_stamp("alice", "fy") != fy


def test_changes_of_every_user_toolsets_and_rescans_move_every_stamp() -> None:
    versions = CatalogueVersions()
    for event in (
        Change(ChangeKind.SECRET, "fx"),  # every user's secrets of a deleted server
        Change(ChangeKind.TOOLSET, "t"),
        Change(ChangeKind.INSTALL, "ext"),
        Rescan("lost history"),
    ):
        before = versions.stamp("alice"), versions.stamp("bob")
        versions.note(event)
        assert versions.stamp("alice") != before[0] and versions.stamp("bob") != before[1]


def test_changes_that_do_not_shape_tool_lists_move_nothing() -> None:
    versions = CatalogueVersions()
    before = versions.stamp("alice")
    versions.note(Change(ChangeKind.API_KEY, "k1"))
    versions.note(Change(ChangeKind.PACKAGE, "fx"))
    versions.note(Change(ChangeKind.SERVER, "fx"))  # definitions: the pool's, compared there
    assert versions.stamp("alice") == before


def test_a_forgotten_users_stamp_still_moves_past_every_change_it_saw() -> None:
    versions = CatalogueVersions(max_users=2)
    versions.note(Change(ChangeKind.SECRET, "fx", "alice"))
    seen = versions.stamp("alice")
    versions.note(Change(ChangeKind.SECRET, "fx", "bob"))
    versions.note(Change(ChangeKind.SECRET, "fx", "carol"))  # alice's counter is evicted
    assert versions.stamp("alice") != seen
    pair = versions.server_stamp("bob", "fx")
    versions.note(Change(ChangeKind.SECRET, "fy", "bob"))
    versions.note(Change(ChangeKind.SECRET, "fz", "bob"))  # (bob, fx) is evicted
    assert versions.server_stamp("bob", "fx") != pair


@pytest.mark.anyio
async def test_every_write_that_shapes_tool_lists_is_reported_when_made(store: Store) -> None:
    noted: list[Change] = []
    signalled = WriteSignals(store, noted.append)
    await signalled.put_secret(StoredSecret("alice", "fx", "token", b"x", 1.0))
    await signalled.delete_secret("alice", "fx", "token")
    await signalled.delete_server_secrets("fx")
    await signalled.put_tokens(StoredOAuthTokens("fx", "alice", {}))
    await signalled.delete_tokens("fx", "alice")
    await signalled.delete_server_tokens("fx")
    await signalled.put_install(UserServerInstall("ext", "bob"))
    await signalled.delete_install("ext", "bob")
    await signalled.delete_server_installs("ext")
    await signalled.put_toolset(Toolset("t"))
    await signalled.delete_toolset("t")
    assert noted == [
        Change(ChangeKind.SECRET, "fx", "alice"),
        Change(ChangeKind.SECRET, "fx", "alice"),
        Change(ChangeKind.SECRET, "fx"),
        Change(ChangeKind.OAUTH, "fx", "alice"),
        Change(ChangeKind.OAUTH, "fx", "alice"),
        Change(ChangeKind.OAUTH, "fx"),
        Change(ChangeKind.INSTALL, "ext", "bob"),
        Change(ChangeKind.INSTALL, "ext", "bob"),
        Change(ChangeKind.INSTALL, "ext"),
        Change(ChangeKind.TOOLSET, "t"),
        Change(ChangeKind.TOOLSET, "t"),
    ]
    # Reads pass through and report nothing.
    assert await signalled.list_secret_names("alice", "fx") == []
    assert len(noted) == 11
