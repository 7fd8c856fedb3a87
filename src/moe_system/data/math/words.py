"""The wording of the math word problems: `problems.yaml` (the question templates of every problem shape in three
registers, the plan sentences and the calculator programs) and `words.yaml` (people, goods, places, units...), read
and checked once, and the formatter that fills them: numbers as written in each language (or in words, from
`surface.yaml`), fractions, sums of money, plural and gender forms.

    .venv/bin/python -c "import random; from moe_system.data.math.words import Wording; \
print(Wording('ratio', 'ru', name1='Аня', name2='Миша', total=300, a=1, b=2).pick(random.Random(0), 'ask'))"
"""

from __future__ import annotations

import random
import string
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from moe_system.data.common import bad_data, placeholders, read_yaml, ru_plural
from moe_system.data.math.surface import fraction_word, number_word

Num = Fraction | int
PACKAGE = "moe_system.data.math"
SOURCE = "moe_system/data/math/problems.yaml"
_SPECS = ("", "n", "w", "frac", "money", "dec", "cap", "signed", "x", "plural", "gender", "if")
_CHOICES = {"plural": 3, "gender": 2, "if": 2}


def dec(x: Num) -> str:
    """A short decimal: 12, 12.5, 0.25 (x must be a terminating decimal)."""
    x = Fraction(x)
    return format((Decimal(x.numerator) / Decimal(x.denominator)).normalize(), "f")


def _number(x: Num, lang: str) -> str:
    """A number as written in the text: a decimal comma in Russian."""
    return dec(x) if lang == "en" else dec(x).replace(".", ",")


def _money(x: Num, lang: str) -> str:
    """Russian "12,5 руб.", English "$12" or "$12.50"."""
    if lang == "ru":
        return f"{_number(x, lang)} руб."
    return f"${dec(x)}" if Fraction(x).denominator == 1 else f"${float(x):.2f}"


class _Formatter(string.Formatter):
    """`str.format` with the format specs of `problems.yaml` (see its header)."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang
        self.spell = False  # write `w` numbers and `frac` fractions in words where the tables have them

    def format_field(self, value: Any, format_spec: str) -> str:
        spec, _, options = format_spec.partition(":")
        forms = options.split("/")
        if spec == "n":
            return _number(value, self.lang)
        if spec == "w":
            return (self.spell and number_word(value, self.lang)) or _number(value, self.lang)
        if spec == "frac":
            value = Fraction(value)
            shown = f"{value.numerator}/{value.denominator}"
            return (self.spell and fraction_word(value.numerator, value.denominator, self.lang)) or shown
        if spec == "money":
            return _money(value, self.lang)
        if spec == "dec":
            return dec(value)
        if spec == "cap":
            return str(value).capitalize()
        if spec == "signed":
            return f"- {_number(-value, self.lang)}" if value < 0 else f"+ {_number(value, self.lang)}"
        if spec == "x":
            return "x" if value == 1 else f"{value}x"
        if spec == "plural":
            return ru_plural(value, (forms[0], forms[1], forms[2]))
        if spec == "gender":
            return forms[1] if value in ("f", "she") else forms[0]
        if spec == "if":
            return forms[0] if value else forms[1]
        return super().format_field(value, format_spec)


def _check_template(template: Any, entry: str) -> None:
    if not isinstance(template, str):
        raise bad_data(SOURCE, entry, "expected a string or a list of strings")
    placeholders(template, SOURCE, entry)
    for _, field, spec, _ in string.Formatter().parse(template):
        kind, _, options = (spec or "").partition(":")
        if field is not None and (kind not in _SPECS or len(options.split("/")) != _CHOICES.get(kind, 1)):
            raise bad_data(SOURCE, entry, f"bad format spec {spec!r} in {template!r}")


def _check_piece(value: Any, entry: str) -> None:
    for template in value if isinstance(value, list) and value else [value]:
        _check_template(template, entry)


@cache
def problems() -> dict[str, Any]:
    """The checked contents of `problems.yaml`: shape -> {en: {piece: ...}, ru: {...}, code: [...] or {...}}."""
    raw = read_yaml(PACKAGE, "problems.yaml")
    if not isinstance(raw, dict) or not isinstance(raw.get("final"), dict):
        raise bad_data(SOURCE, "file", "expected a mapping with `final` and one entry per family")
    for family, spec in raw.items():
        if family == "final":
            continue
        if not isinstance(spec, dict) or set(spec) != {"en", "ru", "code"}:
            raise bad_data(SOURCE, family, "expected en, ru and code")
        for lang in ("en", "ru"):
            if not isinstance(spec[lang], dict) or set(spec[lang]) != set(spec["en"]):
                raise bad_data(SOURCE, f"{family}.{lang}", "expected the same pieces as en")
            for piece, value in spec[lang].items():
                _check_piece(value, f"{family}.{lang}.{piece}")
        code = spec["code"]
        for piece, value in (code.items() if isinstance(code, dict) else [("code", code)]):
            _check_piece(value, f"{family}.code.{piece}")
    for lang in ("en", "ru"):
        _check_template(raw["final"].get(lang), f"final.{lang}")
    return raw


@cache
def word_lists() -> dict[str, Any]:
    """The checked contents of `words.yaml` (people, goods, items, measures, places, round things, events, bills,
    units)."""
    raw = read_yaml(PACKAGE, "words.yaml")
    wanted = ("people", "goods", "bills", "items", "measures", "places", "round_things", "events", "units")
    if not isinstance(raw, dict) or set(raw) != set(wanted):
        raise bad_data("moe_system/data/math/words.yaml", "file", f"expected the lists {', '.join(wanted)}")
    for name in wanted:
        if not raw[name]:
            raise bad_data("moe_system/data/math/words.yaml", name, "expected a non-empty list")
    return raw


def person(rng: random.Random, lang: str) -> dict[str, str]:
    """A random person: `name` and, in English, the pronouns `he` and `his`; in Russian the gender `g` and the
    genitive `gen`."""
    if lang == "en":
        name, he = rng.choice(word_lists()["people"]["en"])
        return {"name": name, "he": he, "his": "her" if he == "she" else "his"}
    name, gender, genitive = rng.choice(word_lists()["people"]["ru"])
    return {"name": name, "g": gender, "gen": genitive}


class Wording:
    """One family's pieces in one language, filled from the values given so far (`add` gives more)."""

    def __init__(self, family: str, lang: str, **values: Any) -> None:
        spec = problems()[family]
        self.texts, self.code_lines, self.values = spec[lang], spec["code"], values
        self.formatter = _Formatter(lang)

    def spell(self, on: bool) -> None:
        """Write the numbers marked `w` and the fractions marked `frac` in words (where the tables have them)."""
        self.formatter.spell = on

    def add(self, **values: Any) -> None:
        self.values.update(values)

    def fill(self, template: str) -> str:
        return self.formatter.format(template, **self.values)

    def text(self, piece: str) -> str:
        """A fixed piece."""
        return self.fill(self.texts[piece])

    def pick(self, rng: random.Random, piece: str) -> str:
        """One of the piece's alternatives, picked at random."""
        return self.fill(rng.choice(self.texts[piece]))

    def steps(self, piece: str = "steps") -> list[str]:
        """Every line of the piece, in order."""
        return [self.fill(line) for line in self.texts[piece]]

    def code(self, piece: str | None = None) -> list[str]:
        """The calculator program (or the named part of it)."""
        return [self.fill(line) for line in (self.code_lines if piece is None else self.code_lines[piece])]


def final_line(answer: Fraction, lang: str) -> str:
    """`Answer: 12.5` / `Ответ: 12.5` (a decimal point in both languages, so it parses the same)."""
    return _Formatter(lang).format(problems()["final"][lang], answer=answer)
