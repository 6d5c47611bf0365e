"""A ``prompts/get`` or ``resources/read`` that a 2026-07-28-only upstream answers with an
input-required result (upstream/relay.py ``input_rounds``, api/downstream/content.py): a
2025-11-25 client is asked on the request's own stream and gets the prompt or the resource; a
2026-07-28 client gets the upstream's round relayed (its SDK answers it); a REST call, which
has no client to ask, fails naming what the upstream asked for. And the other way round: a
2025-11-25-only upstream's ``elicitation/create`` during one reaches a 2026-07-28 client as the
gateway's own input-required round (rounds.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext

from tests.api.downstream.conftest import MODES, LiveGateway
from tests.upstream.conftest import FIXTURE_SERVER, HttpFixture

pytestmark = pytest.mark.anyio


def _upstream(flag: str) -> Iterator[HttpFixture]:
    upstream = HttpFixture(FIXTURE_SERVER, (flag,))
    try:
        upstream.start()  # inside: a failed start still stops the process and its pipe
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def modern_upstream() -> Iterator[HttpFixture]:
    """The fixture over Streamable HTTP, 2026-07-28 only, with its eliciting prompt and
    resource template (input-required results)."""
    yield from _upstream("--modern-only")


@pytest.fixture
def legacy_upstream() -> Iterator[HttpFixture]:
    """The fixture over Streamable HTTP, 2025-11-25 only, with its eliciting prompt and
    resource template (server requests)."""
    yield from _upstream("--legacy")


async def _add(live: LiveGateway, upstream: HttpFixture, name: str = "mx") -> None:
    body = {"name": name, "transportType": "streamable_http", "url": upstream.url}
    resp = await live.client.post("/mcp/servers", json=body, headers=live.admin)
    assert resp.status_code == 200, resp.text
    await live.wait_status(name, "connected")


def _text(content: object) -> str:
    return str(getattr(content, "text", ""))


def _answering_ann(asked: list[str]) -> Any:
    """An elicitation callback that answers "Ann" and notes each question in ``asked``."""

    async def elicit(
        ctx: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": "Ann"})

    return elicit


async def _greet_and_read_in_both_eras(
    live: LiveGateway, key: str, path: str, prompt_name: str, uri: str
) -> None:
    """Each era's client gets the eliciting prompt and resource of ``path``, answering the
    upstream's question (whichever way it asked) through its elicitation callback."""
    asked: list[str] = []
    elicit = _answering_ann(asked)

    for mode in MODES:
        asked.clear()
        async with live.mcp_client(path, key, mode=mode, elicitation_callback=elicit) as c:
            prompt = await c.get_prompt(prompt_name, {"style": "pirate"})
            read = await c.read_resource(uri)
        assert [_text(m.content) for m in prompt.messages] == ["Greet Ann (pirate)."], mode
        assert [_text(c) for c in read.contents] == ["tides by Ann"], mode
        assert asked == ["Whom to greet?", "Who writes about tides?"], mode


@pytest.mark.slow
async def test_a_prompt_and_a_read_that_ask_for_input_reach_the_client_of_either_era(
    live: LiveGateway, modern_upstream: HttpFixture
) -> None:
    await _add(live, modern_upstream)
    alice = await live.new_key("user", "alice")
    await _greet_and_read_in_both_eras(
        live, alice, "/mcp/mx", "modern_greet", "fixture://note/tides"
    )

    # A 2025-11-25 client that cannot elicit: the error names what it lacks.
    async with live.mcp_client("/mcp/mx", alice) as c:
        with pytest.raises(Exception, match="does not support elicitation"):
            await c.get_prompt("modern_greet", {})

    # REST has no client to ask: an error naming what the upstream asked for.
    resp = await live.call(alice, "mx", "modern_ask_name", {"message": "Who?"})
    assert resp.status_code == 502, resp.text
    assert "elicitation/create" in resp.json()["error"], resp.text
    assert "MCP endpoint" in resp.json()["error"], resp.text


@pytest.mark.slow
async def test_a_legacy_upstreams_request_during_a_prompt_or_read_reaches_a_client_of_either_era(
    live: LiveGateway, legacy_upstream: HttpFixture
) -> None:
    await _add(live, legacy_upstream, "lx")
    alice = await live.new_key("user", "alice")
    await _greet_and_read_in_both_eras(
        live, alice, "/mcp/lx", "legacy_greet", "fixture://asked/tides"
    )

    # Through /mcp too: the routed prompt name.
    asked: list[str] = []
    elicit = _answering_ann(asked)

    async with live.mcp_client("/mcp", alice, mode=MODES[-1], elicitation_callback=elicit) as c:
        prompts = {p.name for p in (await c.list_prompts()).prompts}
        assert "lx__legacy_greet" in prompts
        prompt = await c.get_prompt("lx__legacy_greet", {"style": "plain"})
    assert [_text(m.content) for m in prompt.messages] == ["Greet Ann (plain)."]
    assert asked == ["Whom to greet?"]
