"""upstream/era_memory.py: a refusal of 2026-07-28 is believed for a bounded, growing time."""

from __future__ import annotations

from mcp_gateway.upstream.era_memory import RECHECK_FIRST, RECHECK_MAX, EraMemory


def test_a_refusal_is_believed_for_a_while_then_asked_again() -> None:
    era = EraMemory()
    assert not era.legacy_only(0.0)
    assert era.refused(100.0) == RECHECK_FIRST
    assert era.legacy_only(100.0 + RECHECK_FIRST - 1)
    assert not era.legacy_only(100.0 + RECHECK_FIRST)


def test_refusals_in_a_row_back_off_up_to_a_cap_and_an_answer_resets_them() -> None:
    era = EraMemory()
    delays = [era.refused(0.0) for _ in range(20)]
    assert delays[:3] == [RECHECK_FIRST, 2 * RECHECK_FIRST, 4 * RECHECK_FIRST]
    assert delays == sorted(delays) and delays[-1] == RECHECK_MAX
    era.spoke()
    assert not era.legacy_only(0.0)
    assert era.refused(0.0) == RECHECK_FIRST
