"""Masking cost: compiling a server's secret set, and masking log lines / an isError text.

A shared server's session grows its set one value per new secret it is given; each growth
recompiles one chunk (``domain.redaction._CHUNK`` values), never the whole set. Reports, for
N distinct 32-character values: the time to grow the set one value at a time (N adds, each
followed by a mask, as when every call brings a new user), the time to mask one 200-character
log line without and with an escaped secret, and a 100 KB JSON text.

Run: .venv/bin/python bench/masking.py --sizes 10 300 3000
"""

from __future__ import annotations

import argparse
import json
import secrets
import time

from mcp_gateway.domain.redaction import Masker


def _per_call(masker: Masker, text: str, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        masker.mask(text)
    return (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 300, 3000])
    args = parser.parse_args()
    print(f"{'values':>7} {'grow total s':>13} {'line us':>9} {'line+hit us':>12} {'100KB ms':>9}")
    for size in args.sizes:
        values = [secrets.token_urlsafe(24) for _ in range(size)]
        masker = Masker()
        started = time.perf_counter()
        for value in values:
            masker = masker.adding([value])
            masker.mask("a log line")  # compiles (lazily), as the next log line would
        grow = time.perf_counter() - started
        plain = "2026-12-06 INFO worker: handled request id=42 " + "lorem ipsum " * 13
        hit = plain[:120] + json.dumps({"token": values[0]}) + plain[120:160]
        big = json.dumps({"rows": [{"text": plain, "n": n} for n in range(650)]})
        print(
            f"{size:>7} {grow:>13.3f} {_per_call(masker, plain, 2000) * 1e6:>9.1f}"
            f" {_per_call(masker, hit, 2000) * 1e6:>12.1f}"
            f" {_per_call(masker, big, 5) * 1e3:>9.1f}"
        )


if __name__ == "__main__":
    main()
