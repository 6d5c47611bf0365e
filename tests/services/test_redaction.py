"""Masking injected values in text and JSON."""

from __future__ import annotations

from mcp_gateway.services.redaction import Redactor, redact, redact_json, redactable


def test_longest_values_are_masked_first_and_short_ones_ignored() -> None:
    assert redact("key=abcd1234 short=ab", ["abcd", "abcd1234", "ab"]) == "key=*** short=ab"


def test_json_strings_and_keys_are_redacted() -> None:
    values = redactable(["s3cr3t"])
    out = redact_json({"s3cr3t": ["x s3cr3t y", 1, None]}, values)
    assert out == {"***": ["x *** y", 1, None]}


def test_redactor_remembers_a_bounded_set_per_server() -> None:
    r = Redactor(per_server=2)
    r.remember("a", ["value-one", "value-two", "value-three"])
    assert r.redact("a", "value-one value-two value-three") == "value-one *** ***"
    assert r.redact("b", "value-two") == "value-two"
    r.forget_server("a")
    assert r.redact_lines("a", ["value-three"]) == ["value-three"]
