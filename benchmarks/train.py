"""Training benchmark: our trainer vs HF Trainer + PEFT on the same batches.

    python benchmarks/train.py [--json] [--steps 6]

Same as `moe bench train`; see `moe_system.bench.train` for what is measured.
"""

from __future__ import annotations

import sys

from moe_system.cli import app

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "bench", "train", *sys.argv[1:]]
    app()
