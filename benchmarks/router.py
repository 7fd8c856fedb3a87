"""Routing benchmark: accuracy and p50/p99 latency per strategy vs semantic-router (aurelio).

    python benchmarks/router.py [--json] [--experts 64] [--passes 2] [--no-peer]

Same as `moe bench router`; see `moe_system.bench.router` for what is measured.
"""

from __future__ import annotations

import sys

from moe_system.cli import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "router", *sys.argv[1:]]
    app()
