"""Ranking tools for a natural-language query: BM25F over names, descriptions and parameters.

Used by the aggregated endpoint's ``gateway__search_tools`` when a caller's catalogue is too
large to list (docs/mcp-endpoint.md, "Large catalogues"). Pure computation, no I/O: an index
is built once per distinct catalogue and then only read.

- **Tokens**: ``snake_case``, ``kebab-case``, ``camelCase``, ``HTTPServer`` and dotted names
  split into words; lower-cased; English stop words dropped; a light suffix stemmer folds
  ``files``/``file``, ``created``/``creating``/``create``, ``queries``/``query``.
- **Fields** (BM25F: one weighted term frequency per document, one length normalisation):
  the tool part of the name weighs 3, parameter names 1.5, the server part 1.5, the
  description 1, parameter descriptions 0.5.
- **Query**: each word scores with BM25 (k1 1.2, b 0.75); a word also scores, at 0.3 of its
  weight, through the few synonyms of :data:`SYNONYMS` that it has (``remove`` finds
  ``delete_*``). A query equal to a tool's full name, or to the tool part of exactly one
  name, puts that tool first.

Every score is precomputed into the postings at build time, so a query is a dictionary
accumulation over the postings of its few words and a top-k selection.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import add, itemgetter, mul

K1 = 1.2
B = 0.75
NAME_WEIGHT = 3.0
SERVER_WEIGHT = 1.5
PARAMETER_WEIGHT = 1.5
DESCRIPTION_WEIGHT = 1.0
PARAMETER_TEXT_WEIGHT = 0.5
SYNONYM_WEIGHT = 0.3
SYNONYM_POSTINGS = 500  # a synonym adds to its 500 best documents (keeps queries < 5 ms)
MAX_QUERY_TOKENS = 32  # a query is a few words; a pasted page must not cost a full scan each

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOP = frozenset(
    """a an and are as at be by can do does for from get gets how i in into is it its me my
    of on or please some that the their them then there these this to tool tools use used
    using via want was what when where which while who will with without you your""".split()
)
# ``get`` is a stop word: it starts half of all tool names and says nothing about them.

SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("fetch", "retrieve", "read", "load", "download", "obtain", "open"),
    ("list", "enumerate", "all"),
    ("search", "find", "query", "lookup", "look"),
    ("create", "add", "new", "make", "insert", "open"),
    ("navigate", "visit", "go", "open", "browse"),
    ("diff", "change", "compare", "difference"),
    ("delete", "remove", "drop", "destroy", "erase"),
    ("update", "edit", "modify", "change", "patch", "rename"),
    ("send", "post", "publish", "notify"),
    ("run", "execute", "invoke", "launch", "start", "trigger"),
    ("stop", "cancel", "kill", "terminate", "abort"),
    ("file", "document", "doc"),
    ("directory", "folder", "dir"),
    ("user", "member", "account", "person", "people", "profile"),
    ("repository", "repo"),
    ("issue", "ticket", "bug"),
    ("message", "chat", "dm"),
    ("email", "mail", "inbox"),
    ("image", "picture", "photo", "screenshot"),
    ("web", "url", "website", "webpage", "page", "http", "internet"),
    ("calendar", "event", "meeting", "appointment"),
    ("write", "save", "store", "put"),
    ("move", "rename", "relocate"),
    ("summary", "summarize", "summarise"),
    ("database", "db", "sql", "table"),
    ("time", "clock", "timezone", "date"),
    ("entity", "node", "entities"),
    ("relation", "edge", "link", "relationship"),
)


def stem(word: str) -> str:
    """A light, deterministic suffix stripper (not Porter: only folds that help tool names)."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # running -> runn -> run, stopped -> stopp -> stop
    return word


def words(text: str) -> list[str]:
    """The lower-case words of ``text``, identifiers split (``getFileInfo`` -> get file info)."""
    return [w.lower() for w in _WORD.findall(text)]


def tokens(text: str) -> list[str]:
    """Stemmed words of ``text`` without stop words: what the index and queries compare."""
    return [stem(w) for w in words(text) if w not in _STOP and len(w) > 1]


def _synonym_table(groups: Iterable[Sequence[str]]) -> dict[str, tuple[str, ...]]:
    table: dict[str, set[str]] = {}
    for group in groups:
        stems = {stem(w) for w in group}
        for s in stems:
            table.setdefault(s, set()).update(stems - {s})
    return {s: tuple(sorted(others)) for s, others in table.items()}


SYNONYMS: Mapping[str, tuple[str, ...]] = _synonym_table(SYNONYM_GROUPS)


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """What the index knows of one tool: its name as the caller calls it, the server part of
    that name (empty on a single-server endpoint), its description and its parameters
    (``(name, description)`` pairs, injected ones already removed)."""

    name: str
    tool: str
    server: str = ""
    description: str = ""
    parameters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    name: str
    score: float


def _weighted_terms(doc: SearchDoc) -> dict[str, float]:
    tf: dict[str, float] = {}

    def add(text: str, weight: float) -> None:
        for t in tokens(text):
            tf[t] = tf.get(t, 0.0) + weight

    add(doc.tool, NAME_WEIGHT)
    add(doc.server, SERVER_WEIGHT)
    add(doc.description, DESCRIPTION_WEIGHT)
    for name, text in doc.parameters:
        add(name, PARAMETER_WEIGHT)
        add(text, PARAMETER_TEXT_WEIGHT)
    return tf


Posting = tuple["array[int]", "array[float]"]


@dataclass(frozen=True, slots=True, eq=False)
class IndexSegment:
    """The index of one part of a catalogue (one server's tools): built once, shared by every
    catalogue that has the same part. ``postings[term]`` is (local document numbers, the BM25
    term-frequency part of each: ``tf (k1 + 1) / (tf + k1 (1 - b + b len / avg))``), best
    first, as compact arrays; the inverse document frequency is the whole catalogue's and is
    applied at query time (:class:`ToolIndex`). Lengths are normalised by the segment's own
    average, so a segment's postings never change when another segment does."""

    names: tuple[str, ...]
    postings: Mapping[str, Posting]
    full: Mapping[str, int]  # lower-case full name -> document
    parts: Mapping[str, tuple[int, ...]]  # lower-case tool part -> documents

    @classmethod
    def build(cls, docs: Sequence[SearchDoc]) -> IndexSegment:
        frequencies = [_weighted_terms(doc) for doc in docs]
        lengths = [sum(tf.values()) for tf in frequencies]
        average = (sum(lengths) / len(lengths)) if lengths else 1.0
        average = average or 1.0
        by_term: dict[str, dict[int, float]] = {}
        for number, tf in enumerate(frequencies):
            for term, weight in tf.items():
                by_term.setdefault(term, {})[number] = weight
        postings: dict[str, Posting] = {}
        for term, docs_tf in by_term.items():
            scored = sorted(
                (
                    (tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[n] / average)), n)
                    for n, tf in docs_tf.items()
                ),
                reverse=True,
            )
            postings[term] = (
                array("I", (n for _, n in scored)),
                array("d", (s for s, _ in scored)),
            )
        parts: dict[str, list[int]] = {}
        for number, doc in enumerate(docs):
            parts.setdefault(doc.tool.lower(), []).append(number)
        return cls(
            tuple(doc.name for doc in docs),
            postings,
            {doc.name.lower(): number for number, doc in enumerate(docs)},
            {part: tuple(numbers) for part, numbers in parts.items()},
        )

    def __len__(self) -> int:
        return len(self.names)


def _idf(count: int, df: int) -> float:
    return math.log(1.0 + (count - df + 0.5) / (df + 0.5))


class ToolIndex:
    """A catalogue's index: its segments (one per server, in listing order) searched as one.
    Document ``offset + n`` is document ``n`` of the segment at ``offset``. Building one over
    segments that exist costs a concatenation of their names, nothing per posting; a term's
    postings across segments are merged, with the catalogue's inverse document frequency
    applied, the first time a query uses it (then kept: a catalogue's queries share words)."""

    __slots__ = ("names", "segments", "_offsets", "_merged")

    def __init__(self, segments: Sequence[IndexSegment]) -> None:
        self.segments = tuple(segments)
        offsets = []
        total = 0
        for segment in self.segments:
            offsets.append(total)
            total += len(segment)
        self._offsets = tuple(offsets)
        self.names: tuple[str, ...] = tuple(
            itertools.chain.from_iterable(s.names for s in self.segments)
        )
        self._merged: dict[str, Posting] = {}  # at most one entry per indexed term

    @classmethod
    def build(cls, docs: Sequence[SearchDoc]) -> ToolIndex:
        """An index of one segment over ``docs``."""
        return cls([IndexSegment.build(docs)])

    def __len__(self) -> int:
        return len(self.names)

    def _exact(self, query: str) -> int | None:
        """The document a query names: a full name, else a tool part no other tool has."""
        key = query.strip().lower()
        found: int | None = None
        unique = True
        for offset, segment in zip(self._offsets, self.segments, strict=True):
            number = segment.full.get(key)
            if number is not None:
                return offset + number
            numbers = segment.parts.get(key)
            if numbers:
                unique = unique and found is None and len(numbers) == 1
                found = offset + numbers[0]
        return found if unique else None

    def postings(self, term: str) -> Posting | None:
        """``term``'s documents and BM25 scores over the whole catalogue, best first."""
        known = self._merged.get(term)
        if known is not None:
            return known
        found = [
            (offset, posting)
            for offset, segment in zip(self._offsets, self.segments, strict=True)
            if (posting := segment.postings.get(term)) is not None
        ]
        merged: Posting
        if not found:
            return None  # not kept: made-up words must not grow the cache
        if len(found) == 1 and not found[0][0]:
            numbers, values = found[0][1]
            idf = _idf(len(self.names), len(numbers))
            merged = (numbers, array("d", map(mul, values, repeat(idf))))
        else:
            df = sum(len(numbers) for _, (numbers, _) in found)
            idf = _idf(len(self.names), df)
            scored = sorted(
                itertools.chain.from_iterable(
                    zip(values, map(add, numbers, repeat(offset)), strict=True)
                    for offset, (numbers, values) in found
                ),
                reverse=True,
            )
            merged = (
                array("I", (n for _, n in scored)),
                array("d", (idf * v for v, _ in scored)),
            )
        self._merged[term] = merged
        return merged

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        """The ``limit`` best tools for ``query``, best first (ties by name); tools sharing no
        word with the query (or a synonym of one) are never returned."""
        if limit <= 0:
            return []
        weights: dict[str, float] = {}
        for term in tokens(query)[:MAX_QUERY_TOKENS]:
            weights[term] = weights.get(term, 0.0) + 1.0
        for term in list(weights):
            for other in SYNONYMS.get(term, ()):
                if other not in weights:
                    weights[other] = SYNONYM_WEIGHT
        scores: dict[int, float] = {}
        get = scores.get
        for term, weight in weights.items():
            posting = self.postings(term)
            if posting is None:
                continue
            numbers, values = posting
            if weight < 1.0:  # a synonym: its best documents only (postings are best first)
                numbers, values = numbers[:SYNONYM_POSTINGS], values[:SYNONYM_POSTINGS]
            if not scores and weight == 1.0:
                scores = dict(zip(numbers, values, strict=True))
                get = scores.get
                continue
            for number, score in zip(numbers, values, strict=True):
                scores[number] = get(number, 0.0) + weight * score
        exact = self._exact(query)
        if exact is not None:
            scores[exact] = math.inf
        best = heapq.nlargest(limit, scores.items(), key=itemgetter(1))
        names = self.names
        best.sort(key=lambda item: (-item[1], names[item[0]]))
        return [Hit(names[number], score) for number, score in best]
