"""npm version ordering (semver 2.0 precedence), enough to compare published versions."""

from __future__ import annotations

import re

_SEMVER_RE = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def semver_key(version: str) -> tuple[int, int, int, tuple[int, tuple[tuple[int, int, str], ...]]]:
    """Sort key with semver precedence; raises ValueError for a non-semver string."""
    match = _SEMVER_RE.fullmatch(version.strip())
    if match is None:
        raise ValueError(f"not a semver version: {version!r}")
    major, minor, patch, pre = match.groups()
    if pre is None:  # a release sorts after every prerelease of the same version
        pre_key: tuple[int, tuple[tuple[int, int, str], ...]] = (1, ())
    else:
        # Numeric identifiers sort numerically and before alphanumeric ones.
        pre_key = (
            0,
            tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")),
        )
    return int(major), int(minor), int(patch), pre_key


def is_prerelease(version: str) -> bool:
    return semver_key(version)[3][0] == 0


def semver_newer(candidate: str, installed: str) -> bool:
    """True if ``candidate`` has higher precedence than ``installed``."""
    return semver_key(candidate) > semver_key(installed)
