"""Soak benchmark: concurrent streaming clients that hang up at random against a real `moe serve`, for minutes.

    python benchmarks/soak.py [--json] [--minutes 10] [--streams 32] [--max-tokens N] [--url URL --key KEY]

Same as `moe bench soak`; see `moe_system.bench.soak` for what is measured and when it fails (exit 1).
"""

from __future__ import annotations

import sys

from moe_system.cli import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "soak", *sys.argv[1:]]
    app()
