"""Every shipped recipe is valid against the typed config, uses a held-out seed apart from its training seed,
and names a task whose generator exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from moe_system.data import EVAL_SEED_MIN, GENERATORS
from moe_system.training.config import Recipe

RECIPES = sorted((Path(__file__).parents[2] / "recipes").glob("*.yaml"))


def test_the_starter_recipes_are_shipped() -> None:
    assert {path.stem for path in RECIPES} >= {"sql", "python", "math"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_is_valid(path: Path) -> None:
    recipe = Recipe.load(path)
    data = recipe.train.data
    assert recipe.expert.name == path.stem and recipe.task in GENERATORS
    assert data.generator is not None and data.eval_generator is not None
    assert data.generator.seed < EVAL_SEED_MIN <= data.eval_generator.seed
    assert recipe.infer.system_prompt
