"""Math word-problem data in English and Russian: arithmetic, percentages, rates (speed, work, price per unit),
fractions, linear equations, areas and perimeters (π = 3.14, stated in the problem), averages, ratios and
interest, 1 to 4 steps, with exact answers (integers or at most two decimals).

The answer the math expert is taught to give: a short worked solution in the user's language, a ```python block
with a tiny program of assignments and arithmetic that ends with `answer = ...` (the expert's calculator tool
runs it), and a final `Answer: <number>` / `Ответ: <number>` line (always with a decimal point, so it parses the
same in both languages). Every item is checked: the calculator tool (`tools.calculator.safe_eval_program`) run
on its program gives its answer.

The wording lives in data files beside the code: `problems.yaml` (questions, steps and programs per family) and
`words.yaml` (people, goods, places...); `words.py` reads and fills them, `families.py` draws the numbers.

    moe data generate math --n 3000 --seed 0 -o math-train.jsonl
    moe data generate math --n 500 --seed 1000 --format eval -o math-eval.jsonl
"""

from __future__ import annotations

import random
from typing import Any

from moe_system.data.common import chat_example, collect, difficulty, item_id
from moe_system.data.math.families import FAMILIES, exact
from moe_system.data.math.words import dec, final_line
from moe_system.tools.calculator import safe_eval_program

TASK = "math"


def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    problem = rng.choice(FAMILIES)(rng, lang)
    if problem is None or not exact(problem.answer) or len(problem.steps) > 4:
        return None
    program = "\n".join(problem.program)
    result = safe_eval_program(program)  # the calculator tool the math expert answers with
    if abs(result - float(problem.answer)) > 1e-9 * max(1.0, abs(float(problem.answer))):
        return None
    answer: int | float = int(problem.answer) if problem.answer.denominator == 1 else float(problem.answer)
    solution = "\n".join(problem.steps) + f"\n\n```python\n{program}\n```\n\n{final_line(problem.answer, lang)}"
    steps = len(problem.steps)
    return {
        "id": item_id(TASK, problem.question, dec(problem.answer)),
        "lang": lang,
        "difficulty": difficulty(0.1 + 0.22 * (steps - 1) + (0.05 if problem.answer.denominator != 1 else 0)),
        "question": problem.question,
        "answer": answer,
        "solution": solution,
    }


def generate(n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]:
    """`n` distinct checked word problems (keys: id, lang, difficulty, question, answer, and `solution`, the
    assistant text `to_chat` uses). Training seeds < 1000, evaluation seeds >= 1000."""
    return collect(TASK, n, seed, lang, _draft, key="question")


def to_chat(item: dict[str, Any]) -> dict[str, Any]:
    """The training example: the problem -> worked steps, a calculator program, and the final answer line."""
    return chat_example(TASK, item, item["question"], item["solution"])


__all__ = ["TASK", "generate", "to_chat"]
