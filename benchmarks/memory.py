"""Memory benchmark: ingest, build_context latency, RSS and planted-fact recall on the tuning and held-out template
sets, against a BM25 peer and a truncation peer.

    python benchmarks/memory.py [--json] [--tokens 750000] [--budgets 250000,20000] [--passes 3] [--sets tuning,heldout]

Same as `moe bench memory`; see `moe_system.bench.memory` for what is measured.
"""

from __future__ import annotations

import sys

from moe_system.cli import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "memory", *sys.argv[1:]]
    app()
