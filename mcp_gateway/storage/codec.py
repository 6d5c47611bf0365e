"""The one conversion between domain dataclasses and plain documents, used by every adapter.

:func:`to_doc` turns a record into a dict of str/int/float/bool/None/list/dict using the
snake_case field names of the domain (enums become their values, tuples become lists, nested
dataclasses become dicts). ``bytes`` stay ``bytes`` by default (BSON stores them as binary) or
become base64 text with ``binary="base64"`` (for a JSON column).

:func:`from_doc` is the inverse and is lenient in the ways a store needs across versions:
unknown keys are ignored (a document written by a newer gateway) and missing keys take the
dataclass default (a document written by an older one). Type hints drive the decoding, so a new
domain field needs no change here.

:func:`server_from_doc` / :func:`server_from_json` read a server definition, upgrading the
shapes older gateways stored (the OAuth block in ``extra["oauth"]`` becomes the typed ``oauth``
field; mcp-api's metadata that the importer kept in ``extra`` under its camelCase names becomes
the typed ``metadata``; mcp-api's ``mcpAuthType: "oauth"`` is understood by ``ServerConfig``
itself). Durations are stored in seconds, as the domain has them (the HTTP API's milliseconds
are converted at the schema edge only).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Hashable, Mapping
from typing import Any, Literal, TypeVar

from mcp_gateway.domain.servers import (
    METADATA_WIRE_NAMES,
    OAuthSpec,
    ServerConfig,
    metadata_from_wire,
)

T = TypeVar("T")

BinaryMode = Literal["bytes", "base64"]


def to_doc(record: Any, *, binary: BinaryMode = "bytes") -> dict[str, Any]:
    """Encode a dataclass instance as a plain dict (see the module docstring)."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"not a dataclass instance: {type(record).__name__}")
    return {f.name: _encode(getattr(record, f.name), binary) for f in dataclasses.fields(record)}


def _encode(value: Any, binary: BinaryMode) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii") if binary == "base64" else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_doc(value, binary=binary)
    if isinstance(value, list | tuple):
        return [_encode(v, binary) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v, binary) for k, v in value.items()}
    return value


def from_doc(cls: type[T], doc: Mapping[str, Any]) -> T:
    """Build a ``cls`` instance from a document made by :func:`to_doc` (either binary mode)."""
    kwargs: dict[str, Any] = {}
    for name, hint in _hints(typing.cast(Hashable, cls)).items():
        if name in doc:
            kwargs[name] = _decode(hint, doc[name])
    return cls(**kwargs)


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _decode(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _decode(non_none[0], value) if len(non_none) == 1 else value
    if hint is Any or value is None:
        return value
    if origin is tuple:
        return tuple(_decode(args[0], v) for v in value)
    if origin is list:
        return [_decode(args[0], v) for v in value]
    if origin is dict:
        return {k: _decode(args[1], v) for k, v in value.items()}
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return hint(value)
        if dataclasses.is_dataclass(hint):
            return from_doc(hint, value)
        if hint is bytes:
            return base64.b64decode(value) if isinstance(value, str) else bytes(value)
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    return value


def to_json(record: Any) -> str:
    """Compact JSON text of :func:`to_doc` with base64 bytes (for a SQLite JSON column)."""
    return json.dumps(to_doc(record, binary="base64"), separators=(",", ":"), sort_keys=True)


def from_json(cls: type[T], text: str | bytes) -> T:
    """Inverse of :func:`to_json`."""
    return from_doc(cls, json.loads(text))


def server_from_doc(doc: Mapping[str, Any]) -> ServerConfig:
    """A stored server definition, in the current shape whatever gateway version wrote it."""
    extra = doc.get("extra")
    if doc.get("oauth") is None and isinstance(extra, Mapping):
        legacy = extra.get("oauth")
        if isinstance(legacy, Mapping):
            rest = {k: v for k, v in extra.items() if k != "oauth"}
            doc = {**doc, "oauth": to_doc(OAuthSpec.from_wire(legacy)), "extra": rest}
            extra = rest
    if doc.get("metadata") is None and isinstance(extra, Mapping):
        if any(key in extra for key in METADATA_WIRE_NAMES):
            rest = {k: v for k, v in extra.items() if k not in METADATA_WIRE_NAMES}
            doc = {**doc, "metadata": to_doc(metadata_from_wire(extra)), "extra": rest}
    return from_doc(ServerConfig, doc)


def server_from_json(text: str | bytes) -> ServerConfig:
    return server_from_doc(json.loads(text))
