"""Python coding data: small function tasks in English and Russian, each with a reference solution and assert
tests, checked by running the tests against the solution in a subprocess.

More than seventy task families (strings, lists, dicts, math helpers, counting, filtering, parsing, simple
algorithms) each randomize the function and argument names, constants and test inputs. Expected values come from
an independent implementation in the family's drawing code, so running the tests really checks the shown
solution.

The words live in data files beside the code: `tasks.yaml` (per family: names, descriptions, the reference
solution, fixed test cases) and `prompts.yaml` (how a task is asked). `tasks.py` reads them, `families_*.py` draw
the test inputs, `runner.py` runs the tests.

    moe data generate python --n 3000 --seed 0 -o python-train.jsonl
    moe data generate python --n 500 --seed 1000 --format eval -o python-eval.jsonl
"""

from __future__ import annotations

import copy
import json
import random
import re
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

from moe_system.data.common import bad_data, chat_example, collect, difficulty, item_id
from moe_system.data.python import families_lists, families_numbers, families_text  # noqa: F401 (they register)
from moe_system.data.python.tasks import DRAWS, SOURCE, Spec, Task, catalog, make

TASK = "python"
_RUNNER = Path(__file__).with_name("runner.py")


@cache
def families() -> tuple[tuple[str, Spec], ...]:
    """The task families in `tasks.yaml` order (the order they are drawn from), each with drawing code."""
    specs = catalog().families
    if set(specs) != set(DRAWS):
        name = sorted(set(specs) ^ set(DRAWS))[0]
        raise bad_data(SOURCE, f"families.{name}", "every family needs an entry here and drawing code in "
                                                   "families_*.py")
    return tuple(specs.items())


def draw_task(rng: random.Random, name: str) -> Task:
    """A task of the family `name`: its code draws the test inputs, then its names and wording are filled in."""
    return make(rng, name, DRAWS[name](rng, catalog().families[name].inputs))


def _call(name: str, args: tuple[Any, ...]) -> str:
    return f"{name}({', '.join(repr(a) for a in args)})"


def _docstring(desc: str, lang: str) -> str:
    """The description as a one-line docstring: its main clause, imperative in English ("returns" -> "Return")."""
    text = re.sub(r" \((?=[^)]*[a-zа-я])[^)]*\)", "", desc.replace("`", ""))  # drop asides, keep "()"
    text = re.split(r"; |: | — ", text)[0]
    if lang == "en":
        first, _, rest = text.partition(" ")
        first = first[:-2] if first.endswith(("sses", "shes", "ches", "xes")) else first.removesuffix("s")
        text = re.sub(r" and (return|leave)s ", r" and \1 ", f"{first} {rest}")
    return text[0].upper() + text[1:] + "."


def _solution(task: Task, lang: str) -> str:
    desc = task.en if lang == "en" else task.ru
    header = f"def {task.name}({', '.join(task.args)}):\n    \"\"\"{_docstring(desc, lang)}\"\"\"\n"
    imports = "import re\n\n\n" if re.search(r"\bre\.", task.body) else ""
    return imports + header + textwrap.indent(task.body, "    ") + "\n"


def task_item(rng: random.Random, task: Task, lang: str) -> dict[str, Any]:
    """The eval item of a drawn task: the request (with one or two examples), the tests and the solution."""
    cases = [(args, task.ref(*copy.deepcopy(args))) for args in task.cases]
    tests = "".join(f"assert {_call(task.name, args)} == {out!r}\n" for args, out in cases)
    shown = rng.sample(cases[:-1], rng.choice((1, 2)))
    calls = [(_call(task.name, args), repr(out)) for args, out in shown]
    inline = catalog().inline[lang]
    prompt = rng.choice(catalog().prompts[lang]).format(
        sig=f"{task.name}({', '.join(task.args)})", desc=task.en if lang == "en" else task.ru,
        block="\n".join(f"{call} -> {out}" for call, out in calls),
        inline=inline["joiner"].join(inline["call"].format(call=call, out=out) for call, out in calls),
        doctest="\n".join(f">>> {call}\n{out}" for call, out in calls))
    solution = _solution(task, lang)
    lines = solution.count("\n")
    return {
        "id": item_id(TASK, prompt, tests),
        "lang": lang,
        "difficulty": difficulty(0.7 * task.level + 0.03 * lines + 0.02 * len(task.args)),
        "prompt": prompt,
        "entry_point": task.name,
        "tests": tests,
        "solution": solution,
    }


def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    name, _ = rng.choice(families())
    return task_item(rng, draw_task(rng, name), lang)


def run_tests(items: list[dict[str, Any]], timeout: float = 120.0) -> list[bool]:
    """Run each item's `tests` against its `solution` in one fresh isolated interpreter (2 s per item); True where
    every assert passed. Meant for this module's own reference solutions, not for untrusted code."""
    payload = json.dumps([{"solution": it["solution"], "tests": it["tests"]} for it in items])
    done = subprocess.run([sys.executable, "-I", str(_RUNNER)], input=payload, capture_output=True, text=True,
                          timeout=timeout, check=True)
    return json.loads(done.stdout)


def generate(n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]:
    """`n` distinct tested coding eval items (keys: id, lang, difficulty, prompt, entry_point, tests, solution).
    Training seeds < 1000, evaluation seeds >= 1000."""
    return collect(TASK, n, seed, lang, _draft, key="prompt", validate=run_tests)


def to_chat(item: dict[str, Any]) -> dict[str, Any]:
    """The training example: the request -> the function in a python block."""
    return chat_example(TASK, item, item["prompt"], f"```python\n{item['solution'].rstrip()}\n```")


__all__ = ["TASK", "draw_task", "families", "generate", "run_tests", "task_item", "to_chat"]
