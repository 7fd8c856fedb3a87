"""`moe bench quality --held-out N`: more held-out items from an expert's own held-out generator."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from moe_system.bench.quality import held_out_sets
from moe_system.errors import InvalidRequestError

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "sql.yaml"


def test_more_held_out_items_extend_the_recipes_own_set() -> None:
    """The recipe's 40 items come first (same generator and seed), so a larger set only adds items; the recipe's
    contamination check against the training items still applies; experts that are not installed are
    skipped."""
    client = SimpleNamespace(registry=SimpleNamespace(names=lambda: ["sql"]))
    [default], skipped = held_out_sets(client, [RECIPE])
    [more], _ = held_out_sets(client, [RECIPE], size=100)
    assert not skipped and (default.expert, default.task) == ("sql", "sql")
    assert len(default.items) == 40 and len(more.items) == 100
    assert more.items[:40] == default.items
    with pytest.raises(InvalidRequestError, match="no installed expert"):
        held_out_sets(client, [RECIPE.with_name("math.yaml")])
