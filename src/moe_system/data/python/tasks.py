"""The Python coding tasks: `tasks.yaml` (per family: function and argument names, the English and Russian
description, the reference solution, fixed test cases) and `prompts.yaml` (how a task is asked), read and checked
once; the registry of the families' drawing code (`families_*.py`); and `make`, which turns a family and what its
code drew (the expected-output function, test inputs, constants) into a `Task`.

    .venv/bin/python -c "from moe_system.data.python.tasks import catalog; print(len(catalog().families))"
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from string import Template
from typing import Any

from moe_system.data.common import Phrases, bad_data, phrases, read_yaml

PACKAGE = "moe_system.data.python"
SOURCE = "moe_system/data/python/tasks.yaml"


@dataclass(frozen=True)
class Spec:
    """One family as `tasks.yaml` describes it."""

    names: list[str]
    args: list[list[str]]
    en: str
    ru: str
    body: str
    level: float
    consts: list[str]
    inputs: dict[str, Any]
    fixed: list[list[Any]]


@dataclass(frozen=True)
class Drawn:
    """What a family's code drew: the function computing expected outputs, test inputs, and the constants its
    templates use (`consts`)."""

    ref: Callable[..., Any]
    cases: list[tuple[Any, ...]]
    consts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """One drawn task: what to write, how it is solved, and the argument tuples to test it on."""

    name: str
    args: tuple[str, ...]
    en: str
    ru: str
    body: str
    ref: Callable[..., Any]
    cases: list[tuple[Any, ...]]
    level: float


@dataclass(frozen=True)
class Tasks:
    words: list[str]  # test inputs are drawn from these
    items: list[str]
    families: dict[str, Spec]  # in the order the generator draws from
    prompts: Phrases
    inline: dict[str, dict[str, str]]  # lang -> call (`{call}` should return `{out}`), joiner


Draw = Callable[[random.Random, dict[str, Any]], Drawn]
DRAWS: dict[str, Draw] = {}  # family name -> its drawing code, filled by the families_*.py modules


def draws(fn: Draw) -> Draw:
    """Register a family's drawing code under its name (the function's name without the leading underscore)."""
    DRAWS[fn.__name__.lstrip("_")] = fn
    return fn


def _identifiers(template: Any, entry: str, allowed: set[str]) -> None:
    if not isinstance(template, str) or not Template(template).is_valid():
        raise bad_data(SOURCE, entry, f"expected a string template with $name placeholders, got {template!r}")
    unknown = set(Template(template).get_identifiers()) - allowed
    if unknown:
        raise bad_data(SOURCE, entry, f"${sorted(unknown)[0]} is neither an argument nor one of `consts`")


def _spec(name: str, raw: Any) -> Spec:
    if not isinstance(raw, dict) or not {"names", "args", "en", "ru", "body", "level"} <= set(raw):
        raise bad_data(SOURCE, f"families.{name}", "expected names, args, en, ru, body and level")
    args, consts = raw["args"], raw.get("consts", [])
    if not (isinstance(args, list) and 1 <= len(args) <= 3 and all(isinstance(a, list) and a for a in args)):
        raise bad_data(SOURCE, f"families.{name}.args", "expected 1 to 3 lists of argument names")
    if not isinstance(raw["names"], list) or not raw["names"]:
        raise bad_data(SOURCE, f"families.{name}.names", "expected a non-empty list of function names")
    allowed = set("abc"[:len(args)]) | set(consts)
    for key in ("en", "ru", "body"):
        _identifiers(raw[key], f"families.{name}.{key}", allowed)
    for index, template in enumerate(raw["names"]):
        _identifiers(template, f"families.{name}.names[{index}]", allowed)
    fixed = raw.get("fixed", [])
    if not isinstance(fixed, list) or not all(isinstance(case, list) and len(case) == len(args) for case in fixed):
        raise bad_data(SOURCE, f"families.{name}.fixed", f"expected test cases of {len(args)} argument(s) each")
    return Spec(raw["names"], args, raw["en"], raw["ru"], raw["body"], float(raw["level"]), consts,
                raw.get("inputs", {}), fixed)


@cache
def catalog() -> Tasks:
    """The checked contents of `tasks.yaml` and `prompts.yaml` (read once)."""
    raw = read_yaml(PACKAGE, "tasks.yaml")
    if not isinstance(raw, dict) or not isinstance(raw.get("families"), dict):
        raise bad_data(SOURCE, "file", "expected words, items and families")
    for key in ("words", "items"):
        if not isinstance(raw.get(key), list) or not raw[key]:
            raise bad_data(SOURCE, key, "expected a non-empty list of words")
    asked = read_yaml(PACKAGE, "prompts.yaml")
    prompts_source = "moe_system/data/python/prompts.yaml"
    inline = asked.get("inline") if isinstance(asked, dict) else None
    if not isinstance(inline, dict) or any(set(inline.get(lang) or ()) != {"call", "joiner"} for lang in ("en", "ru")):
        raise bad_data(prompts_source, "inline", "expected en and ru, each with call and joiner")
    return Tasks(raw["words"], raw["items"], {name: _spec(name, spec) for name, spec in raw["families"].items()},
                 phrases(asked.get("prompts"), prompts_source, "prompts"), inline)


def make(rng: random.Random, name: str, drawn: Drawn) -> Task:
    """Pick a function name and argument names, then fill `$a`, `$b`, `$c` (the arguments) and the family's
    constants into its names, descriptions and body; the fixed test cases follow the drawn ones."""
    spec = catalog().families[name]
    if set(drawn.consts) != set(spec.consts):
        raise bad_data(SOURCE, f"families.{name}.consts", f"the code supplies {sorted(drawn.consts)}")
    style = rng.randrange(3)  # one naming style for all arguments: (lo, hi), (low, high), ...
    chosen = tuple(options[style % len(options)] for options in spec.args)
    mapping = {key: arg for key, arg in zip("abc", chosen, strict=False)} | {k: str(v) for k, v in drawn.consts.items()}
    names = [Template(template).substitute(mapping) for template in spec.names]
    cases = [*drawn.cases, *(tuple(case) for case in copy.deepcopy(spec.fixed))]
    return Task(rng.choice(names), chosen, Template(spec.en).substitute(mapping), Template(spec.ru).substitute(mapping),
                Template(spec.body).substitute(mapping), drawn.ref, cases, spec.level)


# ------------------------------------------------------------------------------------------------- test inputs


def text(rng: random.Random, lo: int = 2, hi: int = 6) -> str:
    """A few words, some capitalised."""
    words = [rng.choice(catalog().words) for _ in range(rng.randint(lo, hi))]
    return " ".join(w.capitalize() if rng.random() < 0.3 else w for w in words)


def ints(rng: random.Random, lo: int = -10, hi: int = 30, size: tuple[int, int] = (3, 8)) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(rng.randint(*size))]


def scores(rng: random.Random) -> dict[str, int]:
    """Up to five items with small counts."""
    return {name: rng.randint(0, 20) for name in rng.sample(catalog().items, rng.randint(1, 5))}
