"""How people type a math question: `surface.yaml` (numbers and fractions in words, irrelevant sentences with
numbers, casual openers and closers, and the rate of each kind of noise per register), read and checked once,
and `noisy`, which roughens a question drawn from `problems.yaml`: casual lowercase without the final question
mark, a small typo, a distractor sentence, "₽" for "руб.". Numbers are never changed, so the answer holds.

    .venv/bin/python -c "import random; from moe_system.data.math.surface import noisy; \
print(noisy(random.Random(3), 'Find 15% of 240.', 'en', 'casual'))"
"""

from __future__ import annotations

import random
import re
from functools import cache
from typing import Any

from moe_system.data.common import bad_data, placeholders, read_yaml

PACKAGE = "moe_system.data.math"
SOURCE = "moe_system/data/math/surface.yaml"
REGISTERS = ("ask", "casual", "terse")  # the question pieces of every shape: formal, casual, terse
_NOISE = ("spell", "distractor", "lowercase", "no_final_mark", "opener", "closer", "typo", "rouble_sign")
_LANGS = ("en", "ru")


@cache
def surface() -> dict[str, Any]:
    """The checked contents of `surface.yaml`."""
    raw = read_yaml(PACKAGE, "surface.yaml")
    wanted = ("number_words", "fraction_words", "distractors", "openers", "closers", "rates")
    if not isinstance(raw, dict) or set(raw) != set(wanted):
        raise bad_data(SOURCE, "file", f"expected the entries {', '.join(wanted)}")
    for entry in wanted[:5]:
        if not isinstance(raw[entry], dict) or set(raw[entry]) != set(_LANGS):
            raise bad_data(SOURCE, entry, "expected en and ru")
        for lang, value in raw[entry].items():
            if not value:
                raise bad_data(SOURCE, f"{entry}.{lang}", "expected a non-empty list or mapping")
    for lang, templates in raw["distractors"].items():
        for template in templates:
            if not placeholders(template, SOURCE, f"distractors.{lang}") <= {"name", "k", "year"}:
                raise bad_data(SOURCE, f"distractors.{lang}", f"only {{name}}, {{k}}, {{year}} in {template!r}")
    rates = raw["rates"]
    if not isinstance(rates, dict) or set(rates) != set(_NOISE):
        raise bad_data(SOURCE, "rates", f"expected the rates {', '.join(_NOISE)}")
    for noise, per_register in rates.items():
        if not isinstance(per_register, dict) or set(per_register) != set(REGISTERS) or not all(
            isinstance(v, int | float) and 0 <= v <= 1 for v in per_register.values()
        ):
            raise bad_data(SOURCE, f"rates.{noise}", "expected a chance 0..1 per register (ask, casual, terse)")
    return raw


def chance(rng: random.Random, noise: str, register: str) -> bool:
    """Whether this item gets this kind of noise (one draw from `rng`)."""
    return rng.random() < surface()["rates"][noise][register]


def number_word(value: Any, lang: str) -> str | None:
    """A whole number in words, when the table has it."""
    words: dict[int, str] = surface()["number_words"][lang]
    return words.get(int(value)) if isinstance(value, int) else None


def fraction_word(numerator: int, denominator: int, lang: str) -> str | None:
    """A fraction in words ("two thirds", "три пятых"), when the table has it."""
    return surface()["fraction_words"][lang].get(f"{numerator}/{denominator}")


_WORD = re.compile(r"[^\W\d_]{5,}")
_ROUBLES_END = re.compile(r"(\d) руб\.(?=\s+[А-ЯЁA-Z]|$)")
_ROUBLES = re.compile(r"(\d) руб\.")


def _typo(rng: random.Random, text: str) -> str:
    """One small slip in a word of five letters or more: two letters swapped, one doubled or one dropped."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    word = rng.choice(words)
    i = rng.randrange(word.start() + 1, word.end() - 2)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1 :]


def noisy(rng: random.Random, question: str, lang: str, register: str, name: str = "") -> str:
    """The question as a person might type it in this register (the numbers stay as they are)."""
    data = surface()
    text = question
    if lang == "ru" and chance(rng, "rouble_sign", register):
        text = _ROUBLES.sub(r"\1 ₽", _ROUBLES_END.sub(r"\1 ₽.", text))
    if chance(rng, "distractor", register):
        extra = rng.choice(data["distractors"][lang]).format(name=name or "Sam", k=rng.randint(2, 60),
                                                            year=rng.randint(1995, 2024))
        text = f"{extra} {text}"
    if chance(rng, "typo", register):
        text = _typo(rng, text)
    if chance(rng, "no_final_mark", register):
        text = text.rstrip("?.! ")
    if chance(rng, "lowercase", register):
        text = text.lower()
    if chance(rng, "opener", register):
        text = f"{rng.choice(data['openers'][lang])} {text}"
    if chance(rng, "closer", register):
        closer = rng.choice(data["closers"][lang])
        text = f"{text}{closer}" if closer == "?" else f"{text} {closer}"
    return text
