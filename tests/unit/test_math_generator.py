"""The math word-problem grammar (`moe_system.data.math`): every shape is asked in both languages and all three
registers, every item's program reproduces its answer through the calculator, the wording comes from the data
files, the surface noise never touches a number (and its file is checked), the plan sentence computes nothing, and
a seed gives the same items every time.

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/unit/test_math_generator.py
"""

from __future__ import annotations

import ast
import copy
import random
import re
from importlib.resources import files
from typing import Any

import pytest

import moe_system.data.math as math_data
from moe_system.data.common import DataError, read_yaml
from moe_system.data.math import SHAPE_NAMES, generate, make_item
from moe_system.data.math import surface as surface_module
from moe_system.data.math import words as math_words
from moe_system.data.math.surface import REGISTERS, noisy
from moe_system.tools.calculator import safe_eval_program
from moe_system.tools.math_answer import carries_arithmetic, math_tool

CYRILLIC = re.compile(r"[а-яё]", re.I)


def _first_item(shape: str, lang: str, register: str) -> dict[str, Any]:
    rng = random.Random(f"{shape}/{lang}/{register}")
    for _ in range(500):
        item = make_item(rng, lang, shape, register)
        if item is not None:
            return item
    raise AssertionError(f"{shape} drew no item in {lang}/{register}")


def _parts(item: dict[str, Any]) -> tuple[str, str, str]:
    plan, _, rest = item["solution"].partition("\n\n```python\n")
    program, _, final = rest.partition("\n```\n\n")
    return plan, program, final


def test_enough_shapes_registers_and_templates() -> None:
    problems = math_words.problems()
    assert len(SHAPE_NAMES) >= 25 and set(SHAPE_NAMES) == set(problems) - {"final"}
    for shape in SHAPE_NAMES:
        for lang in ("en", "ru"):
            pieces = problems[shape][lang]
            assert set(pieces) == {*REGISTERS, "steps"}, (shape, lang)
            assert sum(len(pieces[register]) for register in REGISTERS) >= 5, (shape, lang)


@pytest.mark.parametrize("shape", SHAPE_NAMES)
def test_every_shape_in_both_languages_and_registers_checks_out(shape: str) -> None:
    for lang in ("en", "ru"):
        for register in REGISTERS:
            item = _first_item(shape, lang, register)
            plan, program, final = _parts(item)
            assert (CYRILLIC.search(item["question"]) is not None) == (lang == "ru"), item["question"]
            assert safe_eval_program(program) == pytest.approx(item["answer"], rel=1e-9, abs=1e-9)
            assert program.splitlines()[-1].startswith("answer = ")
            assert final == f"{'Answer' if lang == 'en' else 'Ответ'}: {item['answer']}"
            assert "\n" not in plan and not carries_arithmetic(plan), plan  # a plan in words, nothing computed
            shown = math_tool(item["solution"])  # the calculator's display agrees with the item
            assert shown.startswith(plan) and shown.endswith(final)


def test_generate_draws_every_shape_in_both_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[tuple[str, str]] = set()

    def recording(rng: random.Random, lang: str, shape: str, register: str | None = None) -> dict[str, Any] | None:
        item = make_item(rng, lang, shape, register)
        if item is not None:
            seen.add((shape, lang))
        return item

    monkeypatch.setattr(math_data, "make_item", recording)
    items = math_data.generate(800, 0)
    assert {(shape, lang) for shape in SHAPE_NAMES for lang in ("en", "ru")} <= seen
    for item in items[:300]:
        assert safe_eval_program(_parts(item)[1]) == pytest.approx(item["answer"], rel=1e-9, abs=1e-9)
    questions = [item["question"] for item in items]
    assert len(set(questions)) == len(questions)
    assert sum(q == q.lower() for q in questions) > 40  # casual lowercase
    assert any("₽" in q for q in questions) and any("руб." in q for q in questions)
    assert any("solve(Eq(" in item["solution"] for item in items)


def test_templates_come_from_the_data_files(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("families.py", "__init__.py"):  # no wording in the code (docstrings aside)
        tree = ast.parse((files("moe_system.data.math") / module).read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and ast.get_docstring(node)}
        strings = [node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]
        assert not [s for s in strings if CYRILLIC.search(s) or len(s.split()) > 4], module
    changed = copy.deepcopy(math_words.problems())
    changed["rate_shifts"]["en"]["terse"] = ["CUSTOM {r} {h} {s}"]
    changed["rate_shifts"]["code"] = ["answer = {r} * {h} * {s}"]
    monkeypatch.setattr(math_words, "problems", lambda: changed)
    item = _first_item("rate_shifts", "en", "terse")
    assert re.fullmatch(r"CUSTOM \d+ \d+ \d+", item["question"].rstrip("?.!"))
    assert "answer = " in _parts(item)[1] and len(_parts(item)[1].splitlines()) == 1


def test_noise_never_changes_the_numbers() -> None:
    questions = ["A car costs 1250,5 руб. Сколько стоят 3 машины?", "Find 15% of 240. Round to 2 decimals."]
    for seed in range(300):
        for question in questions:
            lang = "ru" if CYRILLIC.search(question) else "en"
            for register in REGISTERS:
                out = noisy(random.Random(seed), question, lang, register)
                numbers = re.findall(r"\d+", question)
                assert re.findall(r"\d+", out)[-len(numbers) :] == numbers, out


def test_determinism_by_seed_and_prefix() -> None:
    first = generate(60, 7)
    assert generate(60, 7) == first and generate(30, 7) == first[:30]
    assert generate(60, 8) != first
    assert all(item["lang"] == "ru" for item in generate(20, 7, "ru"))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["rates"]["typo"].pop("casual"), "surface.yaml: rates.typo: expected a chance"),
    (lambda d: d["distractors"]["en"].append("{name} has {dogs} dogs."), "surface.yaml: distractors.en: only"),
    (lambda d: d.pop("openers"), "surface.yaml: file: expected the entries"),
])
def test_a_malformed_surface_file_is_a_one_line_error(
        monkeypatch: pytest.MonkeyPatch, change: Any, message: str) -> None:
    data = copy.deepcopy(read_yaml("moe_system.data.math", "surface.yaml"))
    change(data)
    monkeypatch.setattr(surface_module, "read_yaml", lambda package, name: data)
    surface_module.surface.cache_clear()
    try:
        with pytest.raises(DataError) as raised:
            surface_module.surface()
        assert message in str(raised.value) and "\n" not in str(raised.value)
    finally:
        surface_module.surface.cache_clear()
