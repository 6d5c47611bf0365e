"""Frozen dataclasses and pure rules. No I/O, no imports from other gateway layers but errors."""
