"""Masking finds a secret in every encoding an upstream may print it in."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_gateway.domain.redaction import MASK, Masker, json_secret_values

# Values with quotes, backslashes, slashes, spaces, control characters and non-ASCII text
# (also outside the BMP), always with some ordinary characters so they look like secrets.
_ALPHABET = st.sampled_from(list("aZ9_-\"'\\/ +%=\n\té€😀\u2028"))
SECRETS = st.builds(
    lambda core, tail: core + tail,
    st.text(_ALPHABET, min_size=0, max_size=20),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=4, max_size=12),
)


def _json_ascii_everything(value: str) -> str:
    """JSON that escapes every character as \\uXXXX (legal, and what some encoders do)."""
    out = []
    for unit in value.encode("utf-16-be").hex(" ", 2).split():
        out.append("\\u" + unit.upper())
    return '"' + "".join(out) + '"'


ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda v: v,
    "json": json.dumps,
    "json-utf8": lambda v: json.dumps(v, ensure_ascii=False),
    "json-in-json": lambda v: json.dumps(json.dumps({"token": v})),
    "json-every-char-escaped": _json_ascii_everything,
    "json-escaped-slash": lambda v: json.dumps(v).replace("/", "\\/"),
    "repr": repr,
    "ascii": ascii,
    "bytes-repr": lambda v: repr(v.encode()),
    "url-quote": lambda v: urllib.parse.quote(v, safe=""),
    "url-quote-plus": lambda v: urllib.parse.quote_plus(v, safe=""),
    "url-query": lambda v: urllib.parse.urlencode({"key": v}),
    "url-quote-lowercase-hex": lambda v: re.sub(
        "%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(v, safe="")
    ),
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "base64-urlsafe": lambda v: base64.urlsafe_b64encode(v.encode()).decode(),
    "base64-basic-auth": lambda v: base64.b64encode(b"user:" + v.encode()).decode(),
    "base64-unpadded-offset": lambda v: base64.b64encode(b"xy" + v.encode()).decode().rstrip("="),
    "hex": lambda v: v.encode().hex(),
    "hex-upper": lambda v: v.encode().hex().upper(),
    "hex-offset": lambda v: "f" + (b"x" + v.encode()).hex(),  # an odd run, a byte before it
}


def _leaks(value: str, masked: str) -> list[str]:
    """The encodings of ``value`` still readable in ``masked``."""
    return [name for name, encode in ENCODINGS.items() if encode(value) in masked]


@settings(max_examples=150, deadline=None)
@given(value=SECRETS, name=st.sampled_from(sorted(ENCODINGS)))
def test_every_encoding_of_a_secret_is_masked(value: str, name: str) -> None:
    encoded = ENCODINGS[name](value)
    masked = Masker.of([value]).mask(f"before <{encoded}> after")
    assert MASK in masked
    assert value not in masked
    if name.startswith("base64"):
        # The value's bytes are gone: at most the few characters its neighbours share remain.
        assert base64.b64encode(value.encode()).decode()[:-4] not in masked
    else:
        assert encoded not in masked
    assert masked.startswith("before <") and masked.endswith("> after")


@settings(max_examples=60, deadline=None)
@given(values=st.lists(SECRETS, min_size=2, max_size=6, unique=True))
def test_many_values_in_one_text_are_all_masked(values: list[str]) -> None:
    text = " | ".join(f"{v} {json.dumps(v)} {urllib.parse.quote(v)}" for v in values)
    masked = Masker.of(values).mask(text)
    for value in values:
        assert value not in masked
        assert json.dumps(value) not in masked


def test_text_without_secrets_is_unchanged_and_short_values_are_ignored() -> None:
    masker = Masker.of(["s3cr3t-value", "ab"])
    text = 'plain "text" with \\u0041 escapes, 100% ab+cd and base64 aGVsbG8gd29ybGQ='
    assert masker.mask(text) == text
    assert Masker.of(["abcd", "abcd1234", "ab"]).mask("key=abcd1234 short=ab") == "key=*** short=ab"


def test_overlapping_values_are_masked_together() -> None:
    assert Masker.of(["BBBA", "BAAAA"]).mask("x-BBBAAAA-y") == "x-***-y"


def test_masking_json_masks_keys_and_strings() -> None:
    masker = Masker.of(["s3cr3t"])
    assert masker.mask_json({"s3cr3t": ["x s3cr3t y", 1, None]}) == {"***": ["x *** y", 1, None]}


def test_adding_known_values_keeps_the_same_masker_and_reprs_hide_values() -> None:
    masker = Masker.of(["first-secret"])
    assert masker.adding(["first-secret", "ab"]) is masker
    grown = masker.adding(["second-secret"])
    assert grown.mask("first-secret second-secret") == "*** ***"
    assert "secret" not in repr(grown)


def test_a_large_set_masks_its_first_value() -> None:
    masker = Masker.of([])
    for n in range(1000):  # grows one value at a time, as calls arrive
        masker = masker.adding([f"junk-secret-{n:05d}"])
    assert masker.mask("log: junk-secret-00000 end") == "log: *** end"


def test_json_secrets_mask_the_document_and_each_field() -> None:
    blob = json.dumps(
        {"access_token": "ya29.tok", "refresh_token": "1//ref", "token_type": "Bearer"}
    )
    values = json_secret_values(blob, frozenset({"token_type"}))
    assert values == {blob, "ya29.tok", "1//ref"}
    printed = json.dumps({"userCredentials": json.loads(blob)}, indent=2)
    masked = Masker.of(values).mask(printed)
    assert "ya29.tok" not in masked and "1//ref" not in masked and "Bearer" in masked


def test_kept_values_stay_readable_in_every_encoding_while_others_are_masked() -> None:
    from mcp_gateway.domain.redaction import keep_forms

    mine, theirs = "my-own-token-é-1234", "someone-elses-token-5678"
    masker = Masker.of([mine, theirs])
    for encode in ENCODINGS.values():
        text = f"a <{encode(mine)}> b <{encode(theirs)}> c"
        masked = masker.mask(text, keep_forms([mine]))
        assert encode(mine) in masked and theirs not in masked and MASK in masked
