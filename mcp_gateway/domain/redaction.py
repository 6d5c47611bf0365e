"""Masking secret values in text (pure). Used wherever text may leave the gateway: upstream
error messages, logs, server views, the audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "***"
# Shorter values are not secrets worth the damage of masking every occurrence of them.
MIN_REDACT_LEN = 4


def redactable(values: Iterable[str]) -> tuple[str, ...]:
    """The values worth masking, longest first (so a value containing another goes first)."""
    return tuple(sorted({v for v in values if len(v) >= MIN_REDACT_LEN}, key=len, reverse=True))


def redact(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``values`` replaced by ``***``."""
    for value in redactable(values):
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_json(obj: Any, values: tuple[str, ...]) -> Any:
    """Redact every string (keys too) inside a JSON-like value; ``values`` from
    :func:`redactable`."""
    if not values:
        return obj
    if isinstance(obj, str):
        return redact(obj, values)
    if isinstance(obj, list):
        return [redact_json(item, values) for item in obj]
    if isinstance(obj, dict):
        return {redact(str(k), values): redact_json(v, values) for k, v in obj.items()}
    return obj
