"""Masking secret values in text (pure): the one place that knows how a value can be written.

An upstream may print a secret it was given in many ways: as is, inside JSON (``\\"``,
``\\\\``, ``\\/``, ``\\uXXXX`` escapes of any character, also JSON inside JSON), Python
``repr`` (``\\xXX``, ``\\UXXXXXXXX``, the ``\\x`` bytes of its UTF-8), URL-encoded (``%XX``
of its UTF-8 bytes, ``+`` for a space), or base64 (standard or URL-safe, alone or inside a
longer base64 text such as an HTTP Basic header). :class:`Masker` decodes a text into each of
those *views* (see :mod:`.redaction_views`: each keeps a map back to the original offsets),
finds the raw values in every view with one compiled pattern, and masks the union of the
matching spans in the original text. The pattern is a trie of literal values only (small,
fast to compile); it is compiled lazily, per chunk of values, so adding a value recompiles one
chunk (see bench/masking.py for the costs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from mcp_gateway.domain.redaction_views import views

MASK = "***"
# Shorter values are not secrets worth the damage of masking every occurrence of them.
MIN_REDACT_LEN = 4
# Values longer than this are found with str.find (a regex of a 64 KB literal compiles slowly).
_LONG = 256
# Values per compiled pattern: adding one value recompiles one chunk, never the whole set.
_CHUNK = 256
_TAIL = 16


def redactable(values: Iterable[str]) -> frozenset[str]:
    """The values worth masking (long enough to be a secret)."""
    return frozenset(v for v in values if len(v) >= MIN_REDACT_LEN)


#: Fields of JSON credential documents (OAuth token responses, Google client and service
#: account files) that are public: masking them would only blind logs ("Bearer", scopes, URLs).
PUBLIC_JSON_KEYS = frozenset(
    {
        "token_type",
        "scope",
        "expiry_date",
        "expires_in",
        "expires_at",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "redirect_uris",
        "javascript_origins",
        "type",
        "universe_domain",
    }
)


def secret_values(value: str) -> set[str]:
    """What to mask for one secret the gateway hands an upstream: the value, and when it is a
    JSON document, every non-public string in it (see :func:`json_secret_values`)."""
    if value.lstrip()[:1] in ("{", "["):
        return json_secret_values(value, PUBLIC_JSON_KEYS)
    return {value}


def json_secret_values(blob: str, public_keys: frozenset[str] = frozenset()) -> set[str]:
    """For a secret that is a JSON document (OAuth tokens, a credentials file): the document
    itself and every string in it not under one of ``public_keys``. An upstream handed the
    parsed document prints its fields with its own spacing and quoting, so each field must be
    masked on its own."""
    values = {blob}
    try:
        document = json.loads(blob)
    except ValueError:
        return values
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            values.add(node)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(v for k, v in node.items() if k not in public_keys)
    return values


def _forms(value: str) -> set[str]:
    """The value, and its UTF-8 bytes as Latin-1 characters (what the base64 and ``\\x``
    byte views decode to)."""
    raw = value.encode("utf-8", "surrogatepass").decode("latin-1")
    return {value, raw}


def keep_forms(values: Iterable[str]) -> frozenset[str]:
    """What :meth:`Masker.mask` must leave alone to leave ``values`` readable (e.g. a caller's
    own secrets in its own result)."""
    return frozenset(f for v in values for f in _forms(v))


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex matching any of ``words`` (literals), built from their trie without
    recursion (a word may be hundreds of characters long)."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = None  # a word ends here
    out: list[str] = []
    stack: list[dict[str, Any] | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        ends = "" in item
        children = [(c, n) for c, n in item.items() if c]
        if len(children) == 1 and not ends:
            out.append(re.escape(children[0][0]))
            stack.append(children[0][1])
            continue
        if not children:
            continue
        # Emitted in order: "(?:" c1 <c1's subtree> "|" c2 <...> ["|"] ")"; the empty last
        # branch (the word may end here) is tried after every longer continuation.
        out.append("(?:")
        stack.append(")")
        if ends:
            stack.append("|")
        for index, (char, child) in enumerate(reversed(children)):
            stack.append(child)
            stack.append(re.escape(char))
            if index < len(children) - 1:
                stack.append("|")
    return "".join(out)


@dataclass(frozen=True)
class _Chunk:
    values: frozenset[str] = field(repr=False)

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        short = sorted({f for v in self.values for f in _forms(v) if len(f) <= _LONG})
        if not short:
            return None
        # A trie (values sharing a prefix share its test, so a position costs about one test
        # per distinct first character), longer continuations first, inside a lookahead: a
        # match at every position, so overlapping values are all found.
        return re.compile(f"(?=({_trie_pattern(short)}))")

    @cached_property
    def long(self) -> tuple[str, ...]:
        return tuple({f for v in self.values for f in _forms(v) if len(f) > _LONG})

    def spans(self, text: str, keep: frozenset[str] = frozenset()) -> Iterator[tuple[int, int]]:
        """Where the values (forms in ``keep`` excepted) occur in ``text``."""
        if self.pattern is not None:
            for match in self.pattern.finditer(text):
                if match.group(1) not in keep:
                    yield match.start(), match.start() + len(match.group(1))
        for value in self.long:
            if value in keep:
                continue
            start = text.find(value)
            while start >= 0:
                yield start, start + len(value)
                start = text.find(value, start + 1)


@dataclass(frozen=True)
class Masker:
    """Masks a set of values, in every encoding, in text. Immutable: :meth:`adding` returns a
    new masker (sharing the compiled chunks that did not change)."""

    chunks: tuple[_Chunk, ...] = ()
    values: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, values: Iterable[str]) -> Masker:
        return NO_SECRETS.adding(values)

    def adding(self, values: Iterable[str]) -> Masker:
        """A masker for these values too; ``self`` when none is new (nothing to compile)."""
        new = redactable(values) - self.values
        if not new:
            return self
        # New values go to a small tail chunk (cheap to recompile); a full tail is folded
        # into the last big chunk, so growing by one value costs an amortized fraction of a
        # big compile, never a recompile of the whole set.
        chunks = list(self.chunks)
        merged = frozenset(new)
        if chunks and len(chunks[-1].values) <= _TAIL:
            merged |= chunks.pop().values
        if len(merged) <= _TAIL:
            chunks.append(_Chunk(merged))
        else:
            if chunks and len(chunks[-1].values) < _CHUNK:
                merged |= chunks.pop().values
            items = sorted(merged)
            for start in range(0, len(items), _CHUNK):
                chunks.append(_Chunk(frozenset(items[start : start + _CHUNK])))
        return Masker(tuple(chunks), self.values | new)

    def __bool__(self) -> bool:
        return bool(self.values)

    def __repr__(self) -> str:  # never print values
        return f"Masker({len(self.values)} values)"

    def mask(self, text: str, keep: frozenset[str] = frozenset()) -> str:
        """``text`` with every occurrence of every value, in any encoding, replaced by ``***``;
        ``keep``: forms (see :func:`keep_forms`) left as they are."""
        if not self.values or len(text) < MIN_REDACT_LEN:
            return text
        found: list[tuple[int, int]] = []
        for view in views(text):
            for chunk in self.chunks:
                found.extend(view.original(s, e) for s, e in chunk.spans(view.text, keep))
        if not found:
            return text
        found.sort()
        pieces: list[str] = []
        position = 0  # end of the text already emitted or masked
        for start, end in found:
            if end <= position:
                continue
            if start > position or not pieces:
                pieces.append(text[position:start])
                pieces.append(MASK)
            position = end  # a span overlapping or touching the last one extends it
        pieces.append(text[position:])
        return "".join(pieces)

    def mask_json(self, obj: Any, keep: frozenset[str] = frozenset()) -> Any:
        """Mask every string (keys too) inside a JSON-like value (``keep`` as for mask)."""
        if not self.values:
            return obj
        if isinstance(obj, str):
            return self.mask(obj, keep)
        if isinstance(obj, list):
            return [self.mask_json(item, keep) for item in obj]
        if isinstance(obj, dict):
            return {self.mask(str(k), keep): self.mask_json(v, keep) for k, v in obj.items()}
        return obj


NO_SECRETS = Masker()
