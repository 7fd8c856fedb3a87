"""The dev sets (`data/dev/`): 40 hand-written items a task, at least a third in Russian, each scorable by `moe eval`'s
own scorers with a correct gold answer, and apart from both the field sets and the starter recipes' training data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from moe_system.data import GENERATORS, DataError
from moe_system.data.dev import DEV_DIR, dev_file, dev_tasks
from moe_system.training.config import Recipe
from moe_system.training.data import Example
from moe_system.training.evaluation import (
    build_prompt,
    field_items,
    load_items,
    score_math,
    score_python,
    score_sql,
)
from moe_system.training.splits import contamination_check, eval_item_text

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TASKS = ["math", "python", "sql"]
SIZE = 40
MIN_RUSSIAN = 14
_CYRILLIC = re.compile(r"[а-яё]", re.I)


def _raw(task: str) -> list[dict[str, Any]]:
    lines = dev_file(task).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _text(item: dict[str, Any]) -> str:
    return str(item.get("question") or item.get("prompt"))


def _as_examples(items: list[dict[str, Any]], source: str) -> list[Example]:
    return [Example(messages=[{"role": "user", "content": eval_item_text(item)}], line=index + 1, source=source)
            for index, item in enumerate(items)]  # fmt: skip


def test_every_expert_task_has_a_documented_dev_set_that_moe_eval_reads() -> None:
    assert dev_tasks() == TASKS
    assert (DEV_DIR / "README.md").is_file()
    ids: list[str] = []
    for task in TASKS:
        items = _raw(task)
        assert len(items) == SIZE and len(load_items(dev_file(task), task)) == SIZE
        languages = [item["lang"] for item in items]
        assert set(languages) == {"en", "ru"}
        assert languages.count("ru") >= MIN_RUSSIAN and 3 * languages.count("ru") >= len(items), task
        for item in items:
            assert isinstance(item["shape"], str) and item["shape"], item["id"]
            assert bool(_CYRILLIC.search(_text(item))) == (item["lang"] == "ru"), item["id"]
        ids += [item["id"] for item in items]
    assert len(ids) == len(set(ids))


def test_an_unknown_task_has_no_dev_set() -> None:
    with pytest.raises(DataError, match="no dev set"):
        dev_file("poetry")


def test_math_answers_are_numbers_the_scorer_reads_in_either_language() -> None:
    for item in _raw("math"):
        answer = item["answer"]
        assert isinstance(answer, int | float) and not isinstance(answer, bool), item["id"]
        assert score_math(item, f"Answer: {answer}"), item["id"]
        if item["lang"] == "ru":  # the decimal comma a Russian answer writes
            assert score_math(item, f"Ответ: {str(answer).replace('.', ',')}"), item["id"]
        assert not score_math(item, f"Answer: {answer + 1}"), item["id"]


def test_sql_gold_queries_return_rows_on_their_databases() -> None:
    short = 0
    for item in _raw("sql"):
        assert score_sql(item, item["gold_sql"]), item["id"]
        assert not score_sql(item, "SELECT 1 WHERE 0"), item["id"]  # the gold query returns rows
        for table in re.findall(r"CREATE TABLE (\w+)", item["db_sql"]):
            assert table in item["schema"], (item["id"], table)  # the model is shown every table
        short += not item["schema"].lstrip().upper().startswith("CREATE TABLE")
    assert 0 < short < SIZE  # both schema forms: CREATE TABLE statements and short `t(a, b)` lines


def test_python_reference_solutions_pass_and_a_stub_fails(tmp_path: Path) -> None:
    for item in load_items(dev_file("python"), "python"):
        assert build_prompt(item, "python") == item["prompt"]  # the scoring-only solution is never shown
        assert score_python(item, item["solution"], scratch=tmp_path), item["id"]
        stub = f"def {item['entry_point']}(*args, **kwargs):\n    return None\n"
        if not item["entry_point"][0].isupper():  # a class is built, not called, by its tests
            assert not score_python(item, stub, scratch=tmp_path), item["id"]


@pytest.mark.parametrize("task", TASKS)
def test_no_dev_item_overlaps_a_field_item(task: str) -> None:
    """Both ways round (the check is not symmetric). A failure names dev items only: the field items stay unread."""
    dev, field = _raw(task), field_items(task)
    field_report = contamination_check(_as_examples(dev, "dev"), [eval_item_text(item) for item in field])
    dev_report = contamination_check(_as_examples(field, "field"), [eval_item_text(item) for item in dev])
    leaked = {dev[int(item.train.rsplit(":", 1)[1]) - 1]["id"] for item in field_report.items}
    leaked |= {dev[item.index]["id"] for item in dev_report.items}
    assert not leaked, sorted(leaked)


@pytest.mark.parametrize("task", TASKS)
def test_the_starter_recipes_train_on_none_of_the_dev_items(task: str) -> None:
    spec = Recipe.load(RECIPES / f"{task}.yaml").train.data.generator
    assert spec is not None
    generator = GENERATORS[spec.task]
    train = [Example(messages=generator.to_chat(item)["messages"], line=index + 1, source=f"generator:{task}")
             for index, item in enumerate(generator.generate(spec.n, spec.seed, spec.lang))]  # fmt: skip
    dev = _raw(task)
    report = contamination_check(train, [eval_item_text(item) for item in dev])
    assert not report.items, [(dev[item.index]["id"], item.train, f"{item.overlap:.0%}") for item in report.items]
