"""The Python coding generator (`moe_system.data.python`): every task shape (function families and classes) in both
languages yields a solution that passes its tests; requests are composed from the grammar in `prompts.yaml` (every
register, ask, example style and frame is reached, and a changed data file changes the requests); every example a
request states is read back by `tools.python_examples.stated_examples` and is one of its tests; tasks by examples only
and stated edge cases; determinism by seed.

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/unit/test_python_generator.py
"""

from __future__ import annotations

import copy
import dataclasses
import random
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from moe_system.data import python as python_data
from moe_system.data.common import DataError, read_yaml
from moe_system.data.python import tasks as python_tasks
from moe_system.tools import python_examples
from moe_system.tools.code import extract_code
from moe_system.tools.python_examples import stated_examples

CYRILLIC = re.compile(r"[а-яё]", re.I)


@pytest.fixture
def fresh_catalog() -> Iterator[None]:
    """The checked data files are cached: drop them before and after a test that changes what they hold."""
    for loader in (python_tasks.catalog, python_data.families, python_data.shapes):
        loader.cache_clear()
    yield
    for loader in (python_tasks.catalog, python_data.families, python_data.shapes):
        loader.cache_clear()


def _item(rng: random.Random, kind: str, name: str, lang: str) -> dict[str, Any]:
    if kind == "class":
        return python_data.class_item(rng, name, lang)
    return python_data.task_item(rng, python_data.draw_task(rng, name), lang)


def _stated(item: dict[str, Any]) -> list[Any]:
    """The examples the request states for its function (Input/Output ones name none)."""
    return [dataclasses.replace(ex, name=item["entry_point"]) for ex in stated_examples(item["prompt"])
            if ex.name in {item["entry_point"], ""}]


def _calls(prompt: str, name: str) -> Iterator[str]:
    """Every call of `name` with literal arguments in `prompt` (not the signature), normalised."""
    for match in re.finditer(rf"(?<![\w.]){name}\(", prompt):
        end = python_examples._balanced(prompt, match.end() - 1)
        call = python_examples._literal_call(prompt[match.start():end]) if end else None
        if call:
            yield python_examples.Example(call[0], call[1], None, call[2]).call()


def test_there_are_many_shapes_registers_and_languages() -> None:
    shapes = python_data.shapes()
    grammar = python_tasks.catalog().grammar
    assert len(shapes) >= 100 and len({name for kind, name in shapes if kind == "class"}) >= 5
    assert grammar.registers == ["casual", "formal", "terse"]
    assert sum(spec.by_example for _, spec in python_data.families()) >= 20
    assert set(grammar.styles["en"]) == set(grammar.styles["ru"]) and len(grammar.styles["en"]) >= 8
    for name, spec in python_data.families():  # every description can be asked as a task too ("return ...")
        assert python_data._todo(spec.en, "en") and python_data._todo(spec.ru, "ru"), name
    assert python_data._todo("converts `s` and returns it", "en") == "convert `s` and return it"
    assert python_data._todo("возвращает, сколько раз", "ru") == "возвращать, сколько раз"


def test_every_shape_in_both_languages_passes_its_tests_and_states_its_examples() -> None:
    rng = random.Random(0)
    items = []
    for kind, name in python_data.shapes():
        for lang in ("en", "ru"):
            for _ in range(2):
                item = _item(rng, kind, name, lang)
                assert item["lang"] == lang and item["entry_point"] in item["prompt"], (name, item["prompt"])
                prose = re.sub(r"`[^`\n]*`|(?<!\w)'[^'\n]*'|\"[^\"\n]*\"", "", item["prompt"])
                assert (CYRILLIC.search(prose) is not None) == (lang == "ru"), item["prompt"]
                assert item["tests"].count("assert ") >= 4, name
                stated = _stated(item)
                for example in stated:
                    assert f"assert {example.call()} == {example.expected!r}\n" in item["tests"], item["prompt"]
                if kind == "function" and "Input:" not in item["prompt"] and "Вход:" not in item["prompt"]:
                    shown = set(_calls(item["prompt"], item["entry_point"]))  # no example is missed
                    assert {ex.call() for ex in stated} == shown, item["prompt"]
                items.append(item)
    verdicts = python_data.run_tests(items)
    assert all(verdicts), sorted({item["entry_point"] for item, ok in zip(items, verdicts, strict=True) if not ok})


def test_a_wrong_class_fails_its_tests() -> None:
    rng = random.Random(1)
    items = [python_data.class_item(rng, name, "en") for name in python_tasks.catalog().classes]
    # each class without its last method
    broken = [dict(item, solution=item["solution"].rsplit("\n    def ", 1)[0] + "\n") for item in items]
    assert python_data.run_tests(items + broken) == [True] * len(items) + [False] * len(items)


def test_requests_use_every_piece_of_the_grammar(monkeypatch: pytest.MonkeyPatch) -> None:
    grammar = python_tasks.catalog().grammar
    pieces = {"ask": grammar.ask, "ask_by_example": grammar.ask_by_example, "ask_class": grammar.ask_class,
              "ask_fix": grammar.ask_fix, "ask_complete": grammar.ask_complete}
    owners: dict[str, set[tuple[str, str, str]]] = {}  # template -> the lists that hold it
    for piece, by_lang in pieces.items():
        for lang, by_register in by_lang.items():
            for register, templates in by_register.items():
                for template in templates:
                    owners.setdefault(template, set()).add((piece, lang, register))
    reached: set[tuple[str, str, str]] = set()
    used: set[str] = set()
    choose = python_data._piece

    def recording(rng: random.Random, templates: list[str], **fields: str) -> str:
        text = choose(rng, templates, **fields)
        if all(template in owners for template in templates):  # one register's asks (perhaps some left out)
            reached.update(set.intersection(*(owners[template] for template in templates)))
            used.update(template for template in templates if template.format(**fields) == text)
        return text

    monkeypatch.setattr(python_data, "_piece", recording)
    items = python_data.generate(1500, 0)
    assert reached == set.union(*owners.values()), sorted(set.union(*owners.values()) - reached)
    assert used == set(owners), sorted(set(owners) - used)
    styles = {(lang, name): style for lang, named in grammar.styles.items() for name, style in named.items()}
    for (lang, name), style in styles.items():
        call = "{call}" if "{call}" in style.item else "{args}"
        head = re.escape(style.item.split(call)[1].split("{out}")[0])
        pattern = (r"\)" if call == "{call}" else re.escape(style.item.split(call)[0])) + r"[^\n]*?" * (
            call == "{args}") + head
        assert any(item["lang"] == lang and re.search(pattern, item["prompt"]) for item in items), (lang, name)
    stated = Counter(len(_stated(item)) for item in items)
    assert stated[0] > 0.05 * len(items) and sum(stated[n] for n in (3, 4)) > 0.03 * len(items), stated


def test_tasks_by_examples_only_and_stated_edge_cases() -> None:
    rng = random.Random(2)
    by_example = edges = 0
    for _ in range(300):
        task = python_data.draw_task(rng, "square")
        item = python_data.task_item(rng, task, rng.choice(("en", "ru")))
        examples = _stated(item)
        if "square of" not in item["prompt"] and "квадрат" not in item["prompt"]:  # not described
            by_example += 1
            assert len(examples) >= 3, item["prompt"]
        if any(example.args in [(0,), (-3,)] for example in examples):  # the fixed cases of "square"
            edges += 1
    assert 40 < by_example < 160 and edges > 20


def test_the_same_seed_gives_the_same_items() -> None:
    first = python_data.generate(60, 5)
    assert first == python_data.generate(60, 5) and first[:20] == python_data.generate(20, 5)
    assert {item["prompt"] for item in first}.isdisjoint(item["prompt"] for item in python_data.generate(60, 6))


def test_requests_come_from_the_data_files(monkeypatch: pytest.MonkeyPatch, fresh_catalog: None) -> None:
    data = copy.deepcopy(read_yaml("moe_system.data.python", "prompts.yaml"))
    for by_register in data["ask"].values():
        for register in by_register:
            by_register[register] = ["ZZ {sig}: {desc}"]
    monkeypatch.setattr(python_tasks, "read_yaml",
                        lambda package, name: data if name == "prompts.yaml" else read_yaml(package, name))
    rng = random.Random(3)
    task = python_data.draw_task(rng, "merge_sorted")
    assert python_data.task_item(rng, task, "en")["prompt"].startswith(f"ZZ {task.name}(")


@pytest.mark.parametrize(("name", "change", "message"), [
    ("prompts.yaml", lambda d: d["ask"]["en"]["formal"].append("Write {sig} {nonsense}"),
     "python/prompts.yaml: ask.en.formal: {nonsense} is not one of"),
    ("prompts.yaml", lambda d: d["frames"]["ru"].pop("terse"),
     "python/prompts.yaml: frames.ru: expected the registers casual, formal, terse"),
    ("prompts.yaml", lambda d: d["styles"]["ru"]["arrow"].update(item="{call} ->"),
     "python/prompts.yaml: styles.ru.arrow: the item needs {call} (or {args}) and {out}"),
    ("classes.yaml", lambda d: d["classes"]["stack"].update(en="A stack called $Name"),
     "python/classes.yaml: classes.stack.en: $Name is neither"),
    ("classes.yaml", lambda d: d["classes"]["queue"]["doc"].pop("ru"),
     "python/classes.yaml: classes.queue.doc: expected the docstring in en and ru"),
])
def test_a_malformed_file_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, fresh_catalog: None, name: str,
                                              change: Any, message: str) -> None:  # fmt: skip
    data = copy.deepcopy(read_yaml("moe_system.data.python", name))
    change(data)
    monkeypatch.setattr(python_tasks, "read_yaml", lambda package, file: data if file == name
                        else read_yaml(package, file))  # fmt: skip
    with pytest.raises(DataError, match=re.escape(message)):
        python_tasks.catalog()


def test_functions_to_fix_or_to_complete_fail_their_tests_until_done() -> None:
    items = [item for item in python_data.generate(400, 1) if "```python" in item["prompt"]]
    fixes = [item for item in items if "pass" not in extract_code(item["prompt"], "python").split('"""')[-1]]
    assert 0.1 * 400 < len(items) < 0.3 * 400 and len(fixes) > 0.03 * 400
    shown = [{"solution": extract_code(item["prompt"], "python"), "tests": item["tests"]} for item in items]
    assert not any(python_data.run_tests(shown)) and all(python_data.run_tests(items))
    for item in fixes:  # the buggy function differs from the solution in one place
        changed = [pair for pair in zip(extract_code(item["prompt"], "python").splitlines(),
                                        item["solution"].splitlines(), strict=False) if pair[0] != pair[1]]
        assert len(changed) == 1, item["prompt"]
