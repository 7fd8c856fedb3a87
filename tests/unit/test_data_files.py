"""The data files of the sql, python and math generators (`src/moe_system/data/<generator>/*.yaml`): each is
shipped, loads and passes its checks; every template is filled by the values its code supplies (in both
languages, including the alternatives a run did not pick); every Python task family yields a solution that passes
its tests; and a malformed file is a one-line `DataError` that names the file and the entry.

    .venv/bin/pytest -q tests/unit/test_data_files.py
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from importlib.resources import files
from typing import Any

import pytest

from moe_system.data import math as math_data
from moe_system.data import python as python_data
from moe_system.data import sql as sql_data
from moe_system.data.common import DataError, read_yaml
from moe_system.data.math import words as math_words
from moe_system.data.python import tasks as python_tasks
from moe_system.data.sql import grammar as sql_grammar
from moe_system.data.sql import kinds as sql_kinds
from moe_system.data.sql import vocabulary as sql_vocabulary
from moe_system.data.sql import wording as sql_wording

DATA_FILES = {
    "moe_system.data.sql": ("vocabulary.yaml", "questions.yaml", "shapes.yaml"),
    "moe_system.data.python": ("tasks.yaml", "prompts.yaml"),
    "moe_system.data.math": ("problems.yaml", "words.yaml"),
}
LOADERS: tuple[Callable[[], Any], ...] = (
    sql_vocabulary.vocabulary, sql_wording.questions, sql_grammar.shapes, python_tasks.catalog, math_words.problems,
    math_words.word_lists,
)


@pytest.fixture
def fresh_loaders() -> Iterator[None]:
    """Checked contents are cached: drop them before and after a test that feeds the loaders broken files."""
    caches = (*LOADERS, sql_data._weighted_kinds, python_data.families)
    for loader in caches:
        loader.cache_clear()  # type: ignore[attr-defined]
    yield
    for loader in caches:
        loader.cache_clear()  # type: ignore[attr-defined]


def test_every_data_file_is_shipped_loads_and_passes_its_checks() -> None:
    for package, names in DATA_FILES.items():
        for name in names:
            assert (files(package) / name).is_file(), f"{package}/{name}"
    for loader in LOADERS:
        loader()
    assert set(sql_data.KINDS) == set(sql_wording.questions().kinds) == set(sql_wording.questions().weights)
    families = {name for name, _ in python_data.families()}
    assert set(python_tasks.DRAWS) == set(python_tasks.catalog().families) == families


def test_every_sql_template_is_filled_by_its_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each question picks one template of a group; here every template of the group, in both languages, is filled
    with the same fields, and the run must reach every group."""
    groups = {id(group): f"kinds.{kind}.{name}" for kind, named in sql_wording.questions().kinds.items()
              for name, group in named.items()}
    reached: set[int] = set()

    def say_all(rng: random.Random, lang: str, group: dict[str, list[str]], ctx: dict[str, Any]) -> str:
        for language, templates in group.items():
            for template in templates:
                try:
                    template.format(**ctx)
                except KeyError as missing:
                    pytest.fail(f"questions.yaml {groups[id(group)]}.{language}: {template!r} uses {missing}, "
                                "which the question kind does not fill")
        reached.add(id(group))
        return sql_wording.say(rng, lang, group, ctx)

    monkeypatch.setattr(sql_kinds, "say", say_all)
    for seed in range(8):  # about a third of the items come from the coded kinds (the rest from shapes.yaml)
        sql_data.generate(400, seed)
    assert not set(groups) - reached, sorted(groups[g] for g in set(groups) - reached)


def test_every_math_piece_is_filled_by_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every alternative of every piece is filled (not only the one picked), and every piece is reached."""
    families = {name: spec for name, spec in math_words.problems().items() if name != "final"}
    expected = {(family, lang, piece) for family, spec in families.items() for lang in ("en", "ru")
                for piece in spec[lang]}
    expected |= {(family, "code", piece) for family, spec in families.items()
                 for piece in (spec["code"] if isinstance(spec["code"], dict) else ["code"])}
    reached: set[tuple[str, str, str]] = set()
    fill = math_words.Wording.fill

    def checked(self: math_words.Wording, template: str) -> str:
        try:
            return fill(self, template)
        except KeyError as missing:
            pytest.fail(f"problems.yaml: {template!r} uses {missing}, which its family does not fill")

    def find(self: math_words.Wording) -> tuple[str, str]:
        family = next(name for name, spec in families.items() if spec["code"] is self.code_lines)
        return family, next(lang for lang in ("en", "ru") if families[family][lang] is self.texts)

    def pieces(method: str) -> Callable[..., Any]:
        original = getattr(math_words.Wording, method)

        def record(self: math_words.Wording, *args: Any) -> Any:
            family, lang = find(self)
            piece = next(a for a in args if isinstance(a, str)) if any(isinstance(a, str) for a in args) else None
            if method == "code":
                reached.add((family, "code", piece or "code"))
            else:
                piece = piece or "steps"
                reached.add((family, lang, piece))
                for alternative in (self.texts[piece] if isinstance(self.texts[piece], list) else [self.texts[piece]]):
                    self.fill(alternative)
            return original(self, *args)

        return record

    monkeypatch.setattr(math_words.Wording, "fill", checked)
    for method in ("text", "pick", "steps", "code"):
        monkeypatch.setattr(math_words.Wording, method, pieces(method))
    for lang in ("en", "ru"):
        math_data.generate(1500, 0, lang)
    assert not expected - reached, sorted(expected - reached)


def test_every_python_family_yields_a_solution_that_passes_its_tests() -> None:
    rng = random.Random(0)
    items = []
    for name, spec in python_data.families():
        for lang in ("en", "ru"):
            task = python_data.draw_task(rng, name)
            assert all(len(case) == len(spec.args) for case in task.cases), name
            items.append(python_data.task_item(rng, task, lang))
    verdicts = python_data.run_tests(items)
    assert all(verdicts), [item["entry_point"] for item, ok in zip(items, verdicts, strict=True) if not ok]


def _broken(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, change: Callable[[Any], None]) -> None:
    """Make `module` read a copy of the data file `name` altered by `change`."""
    data = copy.deepcopy(read_yaml(f"moe_system.data.{module.__name__.split('.')[2]}", name))
    change(data)
    monkeypatch.setattr(module, "read_yaml", lambda package, file: data if file == name else read_yaml(package, file))


@pytest.mark.parametrize(("module", "name", "change", "loader", "message"), [
    (sql_wording, "questions.yaml", lambda d: d["kinds"]["count"]["all"]["en"].append("How many {t_pl are there?"),
     sql_wording.questions, "sql/questions.yaml: kinds.count.all.en: "),
    (sql_wording, "questions.yaml", lambda d: d["kinds"]["count"].pop("weight"),
     sql_wording.questions, "sql/questions.yaml: kinds.count: expected a weight"),
    (sql_vocabulary, "vocabulary.yaml", lambda d: d["domains"]["shop"]["orders"]["columns"].update(total="cash 1 2"),
     sql_vocabulary.vocabulary, "sql/vocabulary.yaml: domains.shop.orders.columns.total: unknown column kind"),
    (sql_vocabulary, "vocabulary.yaml", lambda d: d["columns"].pop("price"),
     sql_vocabulary.vocabulary, "sql/vocabulary.yaml: domains.shop.products.columns.price: the column has no words"),
    (python_tasks, "tasks.yaml", lambda d: d["families"]["gcd"].update(en="returns the gcd of `$a` and `$d`"),
     python_tasks.catalog, "python/tasks.yaml: families.gcd.en: $d is neither an argument nor one of `consts`"),
    (python_tasks, "tasks.yaml", lambda d: d["families"]["clamp"]["fixed"].append([1, 2]),
     python_tasks.catalog, "python/tasks.yaml: families.clamp.fixed: expected test cases of 3 argument(s) each"),
    (math_words, "problems.yaml", lambda d: d["ratio"]["ru"].update(ask="{a:plural:раз/раза}"),
     math_words.problems, "math/problems.yaml: ratio.ru.ask: bad format spec"),
    (math_words, "problems.yaml", lambda d: d["ratio"]["ru"].pop("steps"),
     math_words.problems, "math/problems.yaml: ratio.ru: expected the same pieces as en"),
])
@pytest.mark.usefixtures("fresh_loaders")
def test_a_malformed_data_file_is_a_one_line_error_naming_file_and_entry(
        monkeypatch: pytest.MonkeyPatch, module: Any, name: str, change: Callable[[Any], None],
        loader: Callable[[], Any], message: str) -> None:
    _broken(monkeypatch, module, name, change)
    with pytest.raises(DataError) as raised:
        loader()
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_missing_data_file_is_a_one_line_error() -> None:
    with pytest.raises(DataError, match=r"moe_system/data/sql/nothing\.yaml: file: ") as raised:
        read_yaml("moe_system.data.sql", "nothing.yaml")
    assert "\n" not in str(raised.value)
