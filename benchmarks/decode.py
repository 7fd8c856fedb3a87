"""Decode benchmark: the engine vs transformers' generate on the configured base model.

    python benchmarks/decode.py [--json] [--new-tokens 64] [--repeats 3]

Same as `moe bench decode`; see `moe_system.bench.decode` for what is measured.
"""

from __future__ import annotations

import sys

from moe_system.cli import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "decode", *sys.argv[1:]]
    app()
