"""The Python coding tasks as data: `tasks.yaml` (per function family: function and argument names, the English
and Russian description, the reference solution, fixed test cases, whether examples alone can state it),
`classes.yaml` (the class tasks: methods described, the reference class) and `prompts.yaml` (the grammar a request
is composed by: asks, example styles and frames, stated edge cases and closers per language and register), read and
checked once; the registry of the families' drawing code (`families_*.py`); and `make`, which turns a family and
what its code drew (the expected-output function, test inputs, constants) into a `Task`.

    .venv/bin/python -c "from moe_system.data.python.tasks import catalog; print(len(catalog().families))"
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from string import Template
from typing import Any

from moe_system.data.common import bad_data, placeholders, read_yaml

PACKAGE = "moe_system.data.python"
SOURCE = "moe_system/data/python/tasks.yaml"
PROMPTS = "moe_system/data/python/prompts.yaml"
CLASSES = "moe_system/data/python/classes.yaml"
LANGUAGES = ("en", "ru")


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
    by_example: bool = False  # a few examples alone say what the function does


@dataclass(frozen=True)
class ClassSpec:
    """One class task as `classes.yaml` describes it."""

    names: list[str]
    var: list[str]
    en: str
    ru: str
    doc: dict[str, str]
    body: str
    level: float


@dataclass(frozen=True)
class Style:
    """How one example is written: `item` with {call} (or {args}) and {out}; one per line (`block`) or joined by
    `joiner`."""

    item: str
    block: bool
    joiner: str


Pieces = dict[str, dict[str, list[str]]]  # language -> register -> the templates to pick one from


@dataclass(frozen=True)
class Grammar:
    """The pieces a request is composed of (`prompts.yaml`)."""

    registers: list[str]
    ask: Pieces
    ask_by_example: Pieces
    ask_class: Pieces
    ask_fix: Pieces
    ask_complete: Pieces
    class_usage: Pieces
    edge: Pieces
    closers: Pieces
    frames: dict[str, dict[str, dict[str, list[str]]]]  # language -> register -> block / inline -> templates
    styles: dict[str, dict[str, Style]]  # language -> style name -> style
    verbs: dict[str, dict[str, str]]  # language -> a description's verb (third person) -> the form {todo} uses
    stubs: list[str]  # the empty bodies of a function to complete
    bugs: list[tuple[re.Pattern[str], str]]  # (find, replace): the bugs of a function to fix


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
    fixed: int = 0  # the last `fixed` cases are the family's fixed ones (edge cases)
    by_example: bool = False


@dataclass(frozen=True)
class Tasks:
    words: list[str]  # test inputs are drawn from these
    items: list[str]
    families: dict[str, Spec]  # in the order the generator draws from
    classes: dict[str, ClassSpec]
    grammar: Grammar


Draw = Callable[[random.Random, dict[str, Any]], Drawn]
DRAWS: dict[str, Draw] = {}  # family name -> its drawing code, filled by the families_*.py modules


def draws(fn: Draw) -> Draw:
    """Register a family's drawing code under its name (the function's name without the leading underscore)."""
    DRAWS[fn.__name__.lstrip("_")] = fn
    return fn


def _identifiers(template: Any, entry: str, allowed: set[str], source: str = SOURCE) -> None:
    if not isinstance(template, str) or not Template(template).is_valid():
        raise bad_data(source, entry, f"expected a string template with $name placeholders, got {template!r}")
    unknown = set(Template(template).get_identifiers()) - allowed
    if unknown:
        raise bad_data(source, entry, f"${sorted(unknown)[0]} is neither an argument nor one of `consts`")


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
                raw.get("inputs", {}), fixed, bool(raw.get("by_example", False)))


def _class_spec(name: str, raw: Any) -> ClassSpec:
    entry = f"classes.{name}"
    if not isinstance(raw, dict) or not {"names", "var", "en", "ru", "doc", "body", "level"} <= set(raw):
        raise bad_data(CLASSES, entry, "expected names, var, en, ru, doc, body and level")
    for key in ("names", "var"):
        if not isinstance(raw[key], list) or not raw[key] or not all(isinstance(v, str) for v in raw[key]):
            raise bad_data(CLASSES, f"{entry}.{key}", "expected a non-empty list of names")
    if not isinstance(raw["doc"], dict) or set(raw["doc"]) != set(LANGUAGES):
        raise bad_data(CLASSES, f"{entry}.doc", "expected the docstring in en and ru")
    for lang in LANGUAGES:
        _identifiers(raw[lang], f"{entry}.{lang}", {"C", "var"}, CLASSES)
    if not isinstance(raw["body"], str) or set(Template(raw["body"]).get_identifiers()) != {"C", "doc"}:
        raise bad_data(CLASSES, f"{entry}.body", "expected the class source with $C (its name) and $doc")
    return ClassSpec(raw["names"], raw["var"], raw["en"], raw["ru"], raw["doc"], raw["body"], float(raw["level"]))


_FIELDS = {  # piece -> the fields its templates may use
    "ask": {"sig", "desc", "todo", "Todo"}, "ask_by_example": {"name", "examples"}, "ask_class": {"name", "desc"},
    "class_usage": {"usage"}, "edge": {"example"}, "closers": set(),
    "ask_fix": {"code", "name", "desc", "todo"}, "ask_complete": {"code", "name", "desc"},
}


def _pieces(raw: dict[str, Any], key: str, registers: list[str], fields: set[str]) -> Any:
    """A `{lang: {register: [template, ...]}}` piece, each template using only `fields` ("block"/"inline" lists
    under each register for the frames)."""
    value = raw.get(key)
    if not isinstance(value, dict) or set(value) != set(LANGUAGES):
        raise bad_data(PROMPTS, key, "expected en and ru")
    for lang, by_register in value.items():
        if not isinstance(by_register, dict) or set(by_register) != set(registers):
            raise bad_data(PROMPTS, f"{key}.{lang}", f"expected the registers {', '.join(registers)}")
        for register, templates in by_register.items():
            groups = templates if key == "frames" else {"": templates}
            if key == "frames" and (not isinstance(templates, dict) or set(templates) != {"block", "inline"}):
                raise bad_data(PROMPTS, f"{key}.{lang}.{register}", "expected block and inline")
            for group, listed in groups.items():
                entry = ".".join(filter(None, (key, lang, register, group)))
                if not isinstance(listed, list) or not listed or not all(isinstance(t, str) for t in listed):
                    raise bad_data(PROMPTS, entry, "expected a non-empty list of strings")
                for template in listed:
                    unknown = placeholders(template, PROMPTS, entry) - fields
                    if unknown:
                        raise bad_data(PROMPTS, entry, f"{{{sorted(unknown)[0]}}} is not one of {sorted(fields)}")
    return value


def _grammar(raw: Any) -> Grammar:
    if not isinstance(raw, dict):
        raise bad_data(PROMPTS, "file", "expected registers, asks, styles, frames, edge and closers")
    registers = raw.get("registers")
    if not isinstance(registers, list) or not registers:
        raise bad_data(PROMPTS, "registers", "expected a non-empty list")
    pieces = {key: _pieces(raw, key, registers, fields) for key, fields in _FIELDS.items()}
    frames = _pieces(raw, "frames", registers, {"examples"})
    styles: dict[str, dict[str, Style]] = {}
    for lang in LANGUAGES:
        listed = (raw.get("styles") or {}).get(lang)
        if not isinstance(listed, dict) or not listed:
            raise bad_data(PROMPTS, f"styles.{lang}", "expected the example styles")
        styles[lang] = {}
        for name, style in listed.items():
            entry = f"styles.{lang}.{name}"
            if not isinstance(style, dict) or not isinstance(style.get("item"), str):
                raise bad_data(PROMPTS, entry, "expected item (and block or joiner)")
            if placeholders(style["item"], PROMPTS, entry) not in ({"call", "out"}, {"args", "out"}):
                raise bad_data(PROMPTS, entry, "the item needs {call} (or {args}) and {out}")
            styles[lang][name] = Style(style["item"], bool(style.get("block")), str(style.get("joiner", "\n")))
    if set(styles["en"]) != set(styles["ru"]):
        raise bad_data(PROMPTS, "styles", "en and ru need the same example styles")
    verbs = raw.get("verbs")
    if not isinstance(verbs, dict) or set(verbs) != set(LANGUAGES) or not all(
            isinstance(v, dict) and all(isinstance(w, str) for w in v.values()) for v in verbs.values()):
        raise bad_data(PROMPTS, "verbs", "expected en and ru, each mapping a verb to its infinitive")
    stubs = raw.get("stubs")
    if not isinstance(stubs, list) or not stubs or not all(isinstance(stub, str) for stub in stubs):
        raise bad_data(PROMPTS, "stubs", "expected a non-empty list of function bodies")
    bugs = []
    for index, bug in enumerate(raw.get("bugs") or []):
        if not isinstance(bug, dict) or set(bug) != {"find", "replace"}:
            raise bad_data(PROMPTS, f"bugs[{index}]", "expected find and replace")
        try:
            bugs.append((re.compile(bug["find"], re.M), str(bug["replace"])))
        except re.error as exc:
            raise bad_data(PROMPTS, f"bugs[{index}].find", str(exc)) from None
    if not bugs:
        raise bad_data(PROMPTS, "bugs", "expected a non-empty list of find / replace pairs")
    return Grammar(registers, frames=frames, styles=styles, verbs=verbs, stubs=stubs, bugs=bugs, **pieces)


@cache
def catalog() -> Tasks:
    """The checked contents of `tasks.yaml`, `classes.yaml` and `prompts.yaml` (read once)."""
    raw = read_yaml(PACKAGE, "tasks.yaml")
    if not isinstance(raw, dict) or not isinstance(raw.get("families"), dict):
        raise bad_data(SOURCE, "file", "expected words, items and families")
    for key in ("words", "items"):
        if not isinstance(raw.get(key), list) or not raw[key]:
            raise bad_data(SOURCE, key, "expected a non-empty list of words")
    classes = read_yaml(PACKAGE, "classes.yaml")
    if not isinstance(classes, dict) or not isinstance(classes.get("classes"), dict):
        raise bad_data(CLASSES, "file", "expected classes")
    return Tasks(raw["words"], raw["items"], {name: _spec(name, spec) for name, spec in raw["families"].items()},
                 {name: _class_spec(name, spec) for name, spec in classes["classes"].items()},
                 _grammar(read_yaml(PACKAGE, "prompts.yaml")))


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
                Template(spec.body).substitute(mapping), drawn.ref, cases, spec.level, len(spec.fixed), spec.by_example)


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
