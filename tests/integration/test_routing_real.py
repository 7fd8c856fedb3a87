"""Routing over the real starter experts (the repository's signed packages) and the real MiniLM encoder: the
held-out accuracy goal, and `moe bench router` against semantic-router on a slice of the data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from moe_system.bench.router import run, synthetic_profiles
from moe_system.routing.evaluation import bundled_split, evaluate
from moe_system.routing.profiles import ExpertProfile, package_profile
from moe_system.routing.router import Strategies

pytestmark = pytest.mark.integration

STARTERS = Path(__file__).resolve().parents[2] / "experts"


@pytest.fixture(scope="module")
def starters() -> list[ExpertProfile]:
    profiles = [package_profile(path) for path in sorted(STARTERS.glob("*.expert"))]
    assert [p.name for p in profiles] == ["math", "python", "sql"]
    assert all(len(p.examples) >= 200 for p in profiles)  # examples/prompts.jsonl of each package
    return profiles


def test_cascade_routes_the_held_out_split_at_95_percent_in_both_languages(starters: list[ExpertProfile]) -> None:
    report = evaluate(Strategies(starters).cascade.route, bundled_split("test"))
    assert report.by_language["en"] >= 0.95 and report.by_language["ru"] >= 0.95, report.errors


def test_bench_router_measures_every_strategy_and_the_peer(starters: list[ExpertProfile]) -> None:
    # a slice of everything: MiniLM embeds about 16 requests a second on 2 cores
    light = [replace(p, examples=p.examples[:40]) for p in starters]
    train, test = bundled_split("train")[::12], bundled_split("test")[::5]
    result = run(light, test, train, total_experts=5, passes=1, peer=True)
    assert set(result["strategies"]) == {"rules", "learned", "hierarchical", "semantic", "cascade"}
    for row in (*result["strategies"].values(), result["peer"]):
        assert 0.0 <= row["accuracy"] <= 1.0 and set(row["by_language"]) == {"en", "ru"}
        assert 0.0 < row["p50_ms"] <= row["p99_ms"]
    assert result["scaled"]["experts"] == 5 and set(result["scaled"]["strategies"]) == set(result["strategies"])
    assert result["strategies"]["cascade"]["accuracy"] >= 0.8
    assert result["peer"]["name"].startswith("semantic-router")


def test_synthetic_experts_are_deterministic_and_distinct() -> None:
    first, second = synthetic_profiles(4), synthetic_profiles(4)
    assert first == second and len({p.name for p in first}) == 4
    assert all(len(p.examples) == len(set(p.examples)) for p in first)
