"""Parsing of repeated ``key=value`` options and JSON option values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp_gateway.cli.client import UsageError


def _split(item: str, option: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        # Do not echo the item: a misplaced secret would land on the terminal and in logs.
        raise UsageError(f"each {option} must be key=value with a non-empty key")
    return key.strip(), value


def parse_tool_args(items: Sequence[str], option: str = "--arg") -> dict[str, Any]:
    """``k=v`` pairs to a dict; each value is parsed as JSON if it is valid JSON, else kept as a
    string (``n=3`` -> 3, ``flag=true`` -> True, ``tags=["a"]`` -> list, ``name=bob`` -> "bob").
    A repeated key keeps the last value. Raises UsageError for an item without ``=``."""
    out: dict[str, Any] = {}
    for item in items:
        key, raw = _split(item, option)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def parse_str_map(items: Sequence[str], option: str) -> dict[str, str]:
    """``K=V`` pairs to a dict of strings (for env vars and headers). Raises UsageError."""
    return dict(_split(item, option) for item in items)


def parse_json_object(text: str, option: str) -> dict[str, Any]:
    """A JSON object from an option value; anything else is a UsageError."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object")
    return value
