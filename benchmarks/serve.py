"""Serving benchmark: concurrent streaming clients against a real `moe serve`, against one stream alone.

    python benchmarks/serve.py [--json] [--clients 32] [--duration 120] [--single 30] [--max-tokens 64]

Same as `moe bench serve`; see `moe_system.bench.serve` for what is measured.
"""

from __future__ import annotations

import sys

from moe_system.cli import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "serve", *sys.argv[1:]]
    app()
