"""Math word problems in English and Russian from a compositional grammar: 40 problem shapes (rates,
percentages up and down, by and to, one after another, reverse percentages, fractions of and of the rest, ratio
shares, averages with a missing value, linear equations in words and symbols, ages, quadratics from areas and from
sum and product, Pythagoras, areas and perimeters, change, discount and tax, unit conversion, groups rounded up,
remainders, work together, speed, meeting time, simple and compound interest), each asked in three registers
(formal, casual, terse) with several templates per register, then roughened like real typing: numbers and
fractions in words, lowercase without punctuation, small typos, irrelevant sentences with numbers, "₽" or "руб.",
decimal commas in Russian.

The answer the math expert is taught to give: one plan sentence in words (it names what is computed, never a
computed number), a ```python block whose program encodes the problem step by step with meaningful names (`solve`
for equations: the calculator's symbolic layer), and a final `Answer: <number>` / `Ответ: <number>` line (a
decimal point in both languages, so it parses the same). Every item is checked: the calculator
(`tools.calculator.safe_eval_program`) run on its program gives its answer.

The wording lives in data files beside the code: `problems.yaml` (per shape and language: the templates of each
register, the plan sentences; the program), `words.yaml` (people, goods, places, units...) and `surface.yaml` (the
noise); `words.py` and `surface.py` read and fill them, `families.py` draws the numbers.

    moe data generate math --n 3000 --seed 0 -o math-train.jsonl
    moe data generate math --n 500 --seed 1000 --format eval -o math-eval.jsonl
"""

from __future__ import annotations

import random
from typing import Any

from moe_system.data.common import chat_example, collect, difficulty, item_id
from moe_system.data.math.families import SHAPES, exact
from moe_system.data.math.surface import REGISTERS, chance, noisy
from moe_system.data.math.words import Wording, dec, final_line, person, word_lists
from moe_system.tools.calculator import safe_eval_program

TASK = "math"
SHAPE_NAMES = tuple(SHAPES)


def make_item(rng: random.Random, lang: str, shape: str, register: str | None = None) -> dict[str, Any] | None:
    """One checked item of `shape` in `lang` (a register drawn when not given), or None when the draw does not fit."""
    drawn = SHAPES[shape](rng, lang)
    if drawn is None or not exact(drawn.answer):
        return None
    register = register or rng.choice(REGISTERS)
    who = person(rng, lang)
    values = {**who, **drawn.values}
    if drawn.names:
        people = rng.sample([entry[0] for entry in word_lists()["people"][lang]], len(drawn.names))
        values.update(zip(drawn.names, people, strict=True))
    w = Wording(shape, lang, **values)
    w.spell(chance(rng, "spell", register))
    question = noisy(rng, w.pick(rng, register), lang, register, who["name"])
    plan = w.pick(rng, "steps")
    w.spell(False)
    program = "\n".join(w.code(drawn.code))
    result = safe_eval_program(program)  # the calculator tool the math expert answers with
    if abs(result - float(drawn.answer)) > 1e-9 * max(1.0, abs(float(drawn.answer))):
        return None
    answer: int | float = int(drawn.answer) if drawn.answer.denominator == 1 else float(drawn.answer)
    solution = f"{plan}\n\n```python\n{program}\n```\n\n{final_line(drawn.answer, lang)}"
    hardness = 0.05 * (program.count("\n") + 1) + (0.25 if "solve(" in program else 0.0)
    hardness += (0.05 if drawn.answer.denominator != 1 else 0.0) + (0.1 if register != "ask" else 0.0)
    return {
        "id": item_id(TASK, question, dec(drawn.answer)),
        "lang": lang,
        "difficulty": difficulty(hardness),
        "question": question,
        "answer": answer,
        "solution": solution,
    }


def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    return make_item(rng, lang, rng.choice(SHAPE_NAMES))


def generate(n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]:
    """`n` distinct checked word problems (keys: id, lang, difficulty, question, answer, and `solution`, the
    assistant text `to_chat` uses). Training seeds < 1000, evaluation seeds >= 1000."""
    return collect(TASK, n, seed, lang, _draft, key="question")


def to_chat(item: dict[str, Any]) -> dict[str, Any]:
    """The training example: the problem -> a plan sentence, a calculator program, and the final answer line."""
    return chat_example(TASK, item, item["question"], item["solution"])


__all__ = ["SHAPE_NAMES", "TASK", "generate", "make_item", "to_chat"]
