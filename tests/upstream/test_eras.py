"""The pool's 2026-07-28 sessions (upstream/eras.py): a 2026-07-28 caller's request takes a
2026-07-28 companion of the server's session, which relays the upstream's input-required
result (masked) instead of resolving it; an upstream that does not speak 2026-07-28 is
probed once and then served on its primary session, until that memory expires
(upstream/era_memory.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import mcp_types as types
import pytest

from mcp_gateway.domain.servers import SHARED_SCOPE, ServerConfig, TransportType
from mcp_gateway.errors import InputRequired, UpstreamError, UpstreamUnavailable
from mcp_gateway.upstream import entry as entry_module
from mcp_gateway.upstream.era_memory import RECHECK_FIRST
from mcp_gateway.upstream.eras import CALL_ERA, ModernCaller
from mcp_gateway.upstream.pool import UpstreamPool
from tests.upstream.conftest import HttpFixture, stdio_config, text_of

pytestmark = pytest.mark.anyio

CANARY = "canary-secret-4242"


@contextmanager
def modern(caller: ModernCaller) -> Iterator[None]:
    token = CALL_ERA.set(caller)
    try:
        yield
    finally:
        CALL_ERA.reset(token)


async def test_a_2026_callers_input_required_round_is_relayed_masked_not_resolved(
    pool: UpstreamPool,
) -> None:
    server = stdio_config("fx")
    args = {"message": f"Who? {CANARY}"}
    with modern(ModernCaller({"elicitation": {}})), pytest.raises(InputRequired) as asked:
        await pool.call_tool(server, "modern_ask_name", args, username="u", secrets=[CANARY])
    assert list(asked.value.requests) == ["name"]  # the upstream's own key
    assert CANARY not in json.dumps(asked.value.requests)  # masked like everything it sends
    assert asked.value.state  # the upstream's own (sealed by its SDK), for the endpoint to seal

    answer = {"name": types.ElicitResult(action="accept", content={"name": "Ann"})}
    with modern(ModernCaller({"elicitation": {}}, answer, asked.value.state)):
        done = await pool.call_tool(server, "modern_ask_name", args, username="u")
    assert text_of(done) == "accept Ann"

    # A 2025-11-25 caller's call of the same tool takes the primary session: the upstream
    # cannot answer input-required there (its SDK refuses the result).
    with pytest.raises(UpstreamError):
        await pool.call_tool(server, "modern_ask_name", args, username="u")
    entry = pool._entries["fx"]
    assert entry.shared is not None and entry.shared.live is not None
    assert entry.shared.live.protocol_version == "2025-11-25"  # the primary stays legacy
    companion = entry.modern[SHARED_SCOPE].live
    assert companion is not None and companion.protocol_version == "2026-07-28"


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_a_legacy_only_upstream_is_probed_once_then_served_on_its_primary_session(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture], transport: str
) -> None:
    if transport == "stdio":
        server = stdio_config("lx", args=("--legacy",))
    else:
        url = http_fixture("--legacy").url
        server = ServerConfig(name="lx", transport_type=TransportType.STREAMABLE_HTTP, url=url)
    with modern(ModernCaller({})):
        first = await pool.call_tool(server, "echo", {"text": "a"}, username="u")
        entry = pool._entries["lx"]
        assert entry.legacy_only and not entry.modern
        second = await pool.call_tool(server, "echo", {"text": "b"}, username="u")
        assert not entry.modern  # no second probe
    assert (text_of(first), text_of(second)) == ("a", "b")
    # An answer to a 2026-07-28 round has no legacy fallback.
    with modern(ModernCaller({}, None, "state")), pytest.raises(UpstreamUnavailable):
        await pool.call_tool(server, "echo", {"text": "c"}, username="u")


@pytest.mark.slow
async def test_a_transient_refusal_of_the_2026_era_is_asked_again_after_its_back_off(
    pool: UpstreamPool, http_fixture: Callable[..., HttpFixture], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A restarting upstream (or a proxy meanwhile) answers server/discover with a 400.
    upstream = http_fixture("--legacy")
    server = ServerConfig(name="rx", transport_type=TransportType.STREAMABLE_HTTP, url=upstream.url)
    with modern(ModernCaller({})):
        await pool.call_tool(server, "echo", {"text": "a"}, username="u")
        entry = pool._entries["rx"]
        assert entry.legacy_only and not entry.modern
        upstream.flags = ()  # back, speaking both eras, on the same port
        upstream.restart()
        await pool.call_tool(server, "echo", {"text": "b"}, username="u")
        assert not entry.modern  # within the back-off: no probe per call
        assert (await upstream.stats())["discover"] == 0

        later = time.monotonic() + RECHECK_FIRST
        monkeypatch.setattr(entry_module, "monotonic", lambda: later)
        done = await pool.call_tool(server, "echo", {"text": "c"}, username="u")
    assert text_of(done) == "c"
    assert not entry.legacy_only
    companion = entry.modern[SHARED_SCOPE].live
    assert companion is not None and companion.protocol_version == "2026-07-28"
    assert (await upstream.stats())["discover"] == 1
