"""The 1-minute soak of `make test`: 32 concurrent streaming clients (OpenAI API and `/chat`) that hang up at random
points against a real `moe serve` process on the embedded model (`moe bench soak --minutes 10` is the full run).

    .venv/bin/python -m pytest -q tests/e2e/test_soak.py

The RSS check compares the median of the last 6 s with the median of the 6 s after the first 12 s (the warm-up,
where the model's caches, the allocator's arenas and the memory index cache fill), as the full run does with its own
10% windows: a single sample would measure one request's transient buffers, and the server's memory grows fastest
in the first seconds, which is warm-up, not a leak.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moe_system.bench.soak import run
from moe_system.config import Settings

pytestmark = pytest.mark.e2e


def test_a_minute_of_hanging_up_clients_leaves_no_error_no_growth_and_no_row(server_home: Path) -> None:
    result = run(Settings(home=server_home), minutes=1, streams=32)
    print(result)
    assert result["server_errors"] == 0 and result["client_errors"] == 0, result["error_examples"]
    assert result["cancelled"] >= 32 and result["completed"] >= 1, result  # both kinds of client were exercised
    assert result["tokens"] > 0
    assert result["rss_mb"]["samples"] >= 30
    assert result["rss_mb"]["growth_pct"] < 5, result["rss_mb"]
    assert result["rows_freed"], result["batch_after"]
