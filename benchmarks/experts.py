"""Expert benchmark: adapter loads (page cache and cold), hot swap and mixed-expert batches vs PEFT, same run.

    python benchmarks/experts.py [--json] [--new-tokens 32] [--repeats 5] [--no-peer]

Same as `moe bench experts`; see `moe_system.bench.experts` for what is measured.
"""

from __future__ import annotations

import sys

from moe_system.cli import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "experts", *sys.argv[1:]]
    app()
