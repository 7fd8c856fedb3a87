"""The field test sets (`data/field/`): well-formed, scorable by `moe eval`'s own scorers, a third in Russian, and
kept out of training: the starter recipes' data holds none of their items, and a run whose data holds one of
them or of the dev sets (`data/dev/`) is refused."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from moe_system.data.field import FIELD_DIR, field_tasks
from moe_system.errors import ConfigError, DatasetError
from moe_system.training.config import Recipe
from moe_system.training.evaluation import dev_items, field_items, score_math, score_python, score_sql
from moe_system.training.pipeline import prepare_data

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
MIN_ITEMS = 60


def _raw(task: str) -> list[dict[str, Any]]:
    lines = (FIELD_DIR / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_every_expert_task_has_a_documented_field_set() -> None:
    assert field_tasks() == ["math", "python", "sql"]
    for task in field_tasks():
        assert (FIELD_DIR / f"{task}.README.md").is_file()
        items = _raw(task)
        languages = [item["lang"] for item in items]
        assert len(items) >= MIN_ITEMS and set(languages) == {"en", "ru"}
        assert 3 * languages.count("ru") >= len(items), f"{task}: under a third in Russian"
        assert all(isinstance(item["shape"], str) and item["shape"] for item in items)
        assert "solution" not in json.dumps(field_items(task)[0])  # scoring-only fields stay in the file


def test_math_answers_are_numbers() -> None:
    for item in _raw("math"):
        assert isinstance(item["answer"], int | float) and not isinstance(item["answer"], bool), item
        assert score_math(item, f"Answer: {item['answer']}")


def test_sql_gold_queries_score_right_on_their_databases() -> None:
    for item in _raw("sql"):
        assert score_sql(item, item["gold_sql"]), item["question"]
        assert not score_sql(item, "SELECT 1 WHERE 0"), item["question"]


def test_python_reference_solutions_pass_their_tests_and_a_stub_fails(tmp_path: Path) -> None:
    for item in _raw("python"):
        assert score_python(item, item["solution"], scratch=tmp_path), item["entry_point"]
        stub = f"def {item['entry_point']}(*args, **kwargs):\n    return None\n"
        if "class " not in item["solution"]:
            assert not score_python(item, stub, scratch=tmp_path), item["entry_point"]


@pytest.mark.parametrize("task", ["sql", "python", "math"])
def test_the_starter_recipes_train_on_none_of_the_field_items(task: str) -> None:
    prepare_data(Recipe.load(RECIPES / f"{task}.yaml"), Console(file=io.StringIO()))  # refuses a leaked item


@pytest.mark.parametrize("bundled", [field_items, dev_items], ids=["field", "dev"])
def test_a_run_whose_data_holds_a_field_or_dev_item_is_refused(
    bundled: Callable[[str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    item = bundled("math")[0]
    chats = [{"messages": [{"role": "user", "content": f"What is {n} plus {n}?"},
                           {"role": "assistant", "content": f"Answer: {2 * n}"}]} for n in range(20)]
    chats.append({"messages": [{"role": "user", "content": item["question"]},
                               {"role": "assistant", "content": f"Answer: {item['answer']}"}]})
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(chat, ensure_ascii=False) + "\n" for chat in chats), encoding="utf-8")
    recipe = Recipe.load(RECIPES / "math.yaml").model_copy(deep=True)
    recipe.train.data.generator, recipe.train.data.train = None, data
    with pytest.raises(DatasetError, match="remove them from the training data"):
        prepare_data(recipe, Console(file=io.StringIO()))


def test_the_dev_set_is_what_picks_checkpoints_when_a_recipe_asks_for_it(tmp_path: Path) -> None:
    recipe = Recipe.load(RECIPES / "math.yaml").model_copy(deep=True)
    recipe.train.data.generator.n = 40  # type: ignore[union-attr]
    recipe.train.data.dev_items = 12
    data = prepare_data(recipe, Console(file=io.StringIO()))
    assert data.dev == dev_items("math") and len(data.dev) >= 12 and "solution" not in data.dev[0]
    recipe.task = None  # a recipe without a task has no dev set to pick with
    with pytest.raises(ConfigError, match="no dev set"):
        prepare_data(recipe, Console(file=io.StringIO()))
