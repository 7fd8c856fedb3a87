"""Python coding data: small function and class tasks in English and Russian, each with a reference solution and
assert tests, checked by running the tests against the solution in a subprocess.

A request is composed by a small grammar (`prompts.yaml`) from a task shape and a register (casual, formal, terse):
a function from its description, with none to three examples written in one of the forms people use ("f(2) -> 4",
">>> f(2)", "`f(2)` should return `4`", "f(2) gives 4", "f(2) = 4", "должна вернуть", "даёт", ...) and maybe an
edge case stated (an empty input, a tie, Cyrillic text: one of the family's fixed test cases); a function from
examples only ("write f such that f(2) = 4, f(5) = 25", for the families marked `by_example`); a function to fix
(the reference with one bug from the grammar's list, kept only when it fails the tests) or to complete (its
signature and docstring, the body empty); or a small class (a stack, a queue, a counter, a bank account, a to-do
list) whose tests call its methods. Ninety-six function
families (strings, lists, dicts, numbers, parsing, simple algorithms) randomize the function and argument names,
constants and test inputs; expected values come from an independent implementation in the drawing code, so running
the tests really checks the shown solution. Every stated example is readable by
`moe_system.tools.python_examples.stated_examples`, so the expert's answers can be verified the way users ask.

The words live in data files beside the code: `tasks.yaml` (function families), `classes.yaml` (class tasks) and
`prompts.yaml` (the request grammar). `tasks.py` reads them, `families_*.py` draw the test inputs (and the class
tasks' method calls), `runner.py` runs the tests.

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
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from moe_system.data.common import bad_data, chat_example, collect, difficulty, item_id
from moe_system.data.python import families_lists, families_numbers, families_text  # noqa: F401 (they register)
from moe_system.data.python.families_classes import CLASS_DRAWS, Scenario, Step
from moe_system.data.python.tasks import CLASSES, DRAWS, SOURCE, Spec, Task, catalog, make
from moe_system.tools.code import extract_code

TASK = "python"
_RUNNER = Path(__file__).with_name("runner.py")
BY_EXAMPLE_SHARE = 0.3  # of the tasks of a `by_example` family: asked by examples only
FIX_SHARE = 0.1  # of the other function tasks: fix a buggy version (when a bug applies)
COMPLETE_SHARE = 0.08  # of the other function tasks: complete a function whose body is empty
EDGE_SHARE = 0.35  # of the described tasks with fixed cases: one edge case stated


@cache
def families() -> tuple[tuple[str, Spec], ...]:
    """The task families in `tasks.yaml` order (the order they are drawn from), each with drawing code."""
    specs = catalog().families
    _require_drawing_code(specs, DRAWS, SOURCE, "families", "families_*.py")
    return tuple(specs.items())


@cache
def shapes() -> tuple[tuple[str, str], ...]:
    """Every task shape drawn from, as (kind, name): the function families, then the class tasks."""
    classes = catalog().classes
    _require_drawing_code(classes, CLASS_DRAWS, CLASSES, "classes", "families_classes.py")
    return tuple(("function", name) for name, _ in families()) + tuple(("class", name) for name in classes)


def _require_drawing_code(entries: Iterable[str], draws: Iterable[str], source: str, section: str,
                          module: str) -> None:
    """Every entry of a data file's `section` has drawing code in `module`, and every drawing code an entry."""
    if set(entries) != set(draws):
        name = sorted(set(entries) ^ set(draws))[0]
        raise bad_data(source, f"{section}.{name}", f"every entry needs one here and drawing code in {module}")


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


def _solution(task: Task, lang: str, body: str | None = None) -> str:
    """The reference function (with `body` instead of the task's, already indented, when given)."""
    desc = task.en if lang == "en" else task.ru
    header = f"def {task.name}({', '.join(task.args)}):\n    \"\"\"{_docstring(desc, lang)}\"\"\"\n"
    code = textwrap.indent(task.body, "    ") if body is None else body
    imports = "import re\n\n\n" if re.search(r"\bre\.", code) else ""
    return imports + header + code + "\n"


def _buggy(rng: random.Random, task: Task, lang: str) -> str:
    """The function with one of the grammar's bugs in its body ("" when none applies); whether it really fails the
    tests is checked with the item (`_validate`)."""
    bugs = [(find, replace) for find, replace in catalog().grammar.bugs if find.search(task.body)]
    if not bugs:
        return ""
    find, replace = rng.choice(bugs)
    body = find.sub(replace, task.body, count=1)
    return _solution(task, lang, textwrap.indent(body, "    ")) if body != task.body else ""


# ---- the request grammar


def _piece(rng: random.Random, templates: list[str], **fields: str) -> str:
    return rng.choice(templates).format(**fields)


def _examples(rng: random.Random, lang: str, register: str, calls: list[tuple[str, str]], inline: bool = False
              ) -> str:
    """`calls` ((call, result) pairs) written in one example style and introduced by a frame of `register`."""
    grammar = catalog().grammar
    styles = grammar.styles[lang]
    name = rng.choice([name for name, style in styles.items() if not (inline and style.block)])
    style = styles[name]
    items = [style.item.format(call=call, args=call[call.index("(") + 1:-1], out=out) for call, out in calls]
    if style.block:
        return _piece(rng, grammar.frames[lang][register]["block"], examples="\n".join(items))
    return _piece(rng, grammar.frames[lang][register]["inline"], examples=style.joiner.join(items))


def _inline(rng: random.Random, lang: str, calls: list[tuple[str, str]]) -> str:
    """`calls` in one inline example style, joined, without a frame."""
    styles = [style for style in catalog().grammar.styles[lang].values() if not style.block]
    style = rng.choice(styles)
    return style.joiner.join(style.item.format(call=call, args=call[call.index("(") + 1:-1], out=out)
                             for call, out in calls)


def _todo(desc: str, lang: str) -> str:
    """The description as a task ("returns x" -> "return x", "возвращает x" -> "возвращать x"); "" when its first
    word is not one of the grammar's verbs."""
    verbs = catalog().grammar.verbs[lang]
    first, _, rest = desc.partition(" ")
    if first.rstrip(",") not in verbs:
        return ""
    words = [verbs[first.rstrip(",")] + first[len(first.rstrip(",")):], *rest.split(" ")]
    joiner = "and" if lang == "en" else "и"
    return " ".join(verbs.get(word, word) if i and words[i - 1] == joiner else word for i, word in enumerate(words))


def _then(prompt: str, piece: str) -> str:
    """`piece` (a sentence that starts with a space, or "") after `prompt`: on a line of its own after a block of
    examples, else after a full stop."""
    if not piece:
        return prompt
    last = prompt.rsplit("\n", 1)[-1]
    if "\n" in prompt and not last.rstrip().endswith((".", "?", "!", ":")):  # after a block of examples
        sentence = piece.strip()
        return f"{prompt}\n\n{sentence[:1].upper()}{sentence[1:]}"
    return (prompt if prompt.endswith((".", "?", "!")) else prompt + ".") + piece


def task_item(rng: random.Random, task: Task, lang: str) -> dict[str, Any]:
    """The eval item of a drawn function task: the request composed by the grammar (described, with or without
    examples and a stated edge case, or by examples only), the tests and the solution."""
    grammar = catalog().grammar
    cases = [(args, task.ref(*copy.deepcopy(args))) for args in task.cases]
    tests = "".join(f"assert {_call(task.name, args)} == {out!r}\n" for args, out in cases)
    drawn, fixed = cases[: len(cases) - task.fixed], cases[len(cases) - task.fixed:]
    drawn = list({_call(task.name, args): (args, out) for args, out in drawn}.values())  # shown at most once
    register = rng.choice(grammar.registers)
    by_example = task.by_example and len(drawn) >= 3 and rng.random() < BY_EXAMPLE_SHARE
    mode = rng.random()
    buggy = _buggy(rng, task, lang) if not by_example and mode < FIX_SHARE else ""
    if buggy or (not by_example and mode > 1 - COMPLETE_SHARE):
        desc = task.en if lang == "en" else task.ru
        todo = _todo(desc, lang)
        if buggy:
            asks = [t for t in grammar.ask_fix[lang][register] if todo or "{todo}" not in t]
            code = buggy
        else:
            asks = grammar.ask_complete[lang][register]
            code = _solution(task, lang, rng.choice(grammar.stubs))
        prompt = _piece(rng, asks, code=f"```python\n{code.rstrip()}\n```", name=task.name, desc=desc, todo=todo)
    elif by_example:
        shown = rng.sample(drawn, min(len(drawn), rng.choice((3, 4))))
        calls = [(_call(task.name, args), repr(out)) for args, out in shown]
        prompt = _piece(rng, grammar.ask_by_example[lang][register], name=task.name, examples=_inline(rng, lang, calls))
    else:
        desc = task.en if lang == "en" else task.ru
        todo = _todo(desc, lang)
        asks = [t for t in grammar.ask[lang][register] if todo or not re.search(r"\{[Tt]odo\}", t)]
        prompt = _piece(rng, asks, sig=f"{task.name}({', '.join(task.args)})", desc=desc, todo=todo,
                        Todo=todo[:1].upper() + todo[1:])
        shown = rng.sample(drawn[:-1] or drawn, min(rng.choice((0, 1, 1, 2, 2, 3)), max(1, len(drawn) - 1)))
        if shown:
            prompt += _examples(rng, lang, register, [(_call(task.name, args), repr(out)) for args, out in shown])
        if fixed and rng.random() < EDGE_SHARE:
            args, out = rng.choice(fixed)
            edge = _inline(rng, lang, [(_call(task.name, args), repr(out))])
            prompt = _then(prompt, _piece(rng, grammar.edge[lang][register], example=edge))
    prompt = _then(prompt, rng.choice(grammar.closers[lang][register]))
    solution = _solution(task, lang)
    lines = solution.count("\n")
    return {
        "id": item_id(TASK, prompt, tests),
        "lang": lang,
        "difficulty": difficulty(0.7 * task.level + 0.03 * lines + 0.02 * len(task.args) + 0.1 * by_example),
        "prompt": prompt,
        "entry_point": task.name,
        "tests": tests,
        "solution": solution,
    }


# ---- class tasks


def _method_call(var: str, step: Step) -> str:
    return f"{var}.{step.method}({', '.join(repr(a) for a in step.args)})"


def _step_source(var: str, step: Step) -> str:
    call = _method_call(var, step)
    if step.kind == "check":
        return f"assert {call} == {step.value!r}\n"
    if step.kind == "len":
        return f"assert len({var}) == {step.value!r}\n"
    if step.kind == "raises":
        return (f"try:\n    {call}\nexcept {step.value}:\n    pass\nelse:\n"
                f"    raise AssertionError({f'{call} should raise {step.value}'!r})\n")
    return f"{call}\n"


def _usage_line(var: str, step: Step) -> str:
    call = _method_call(var, step)
    if step.kind == "check":
        return f"{call}  # -> {step.value!r}"
    if step.kind == "len":
        return f"len({var})  # -> {step.value!r}"
    if step.kind == "raises":
        return f"{call}  # raises {step.value}"
    return call


def class_item(rng: random.Random, name: str, lang: str) -> dict[str, Any]:
    """The eval item of a class task: a request for the class (maybe with a few lines of usage), tests that create
    an instance and call its methods, and the reference class."""
    spec = catalog().classes[name]
    grammar = catalog().grammar
    scenario: Scenario = CLASS_DRAWS[name](rng)
    cls, var = rng.choice(spec.names), rng.choice(spec.var)
    create = f"{var} = {cls}({', '.join(repr(a) for a in scenario.init)})"
    tests = create + "\n" + "".join(_step_source(var, step) for step in scenario.steps)
    register = rng.choice(grammar.registers)
    desc = Template(spec.en if lang == "en" else spec.ru).substitute(C=cls, var=var)
    prompt = _piece(rng, grammar.ask_class[lang][register], name=cls, desc=desc)
    if rng.random() < 0.6:
        usage = [create, *(_usage_line(var, step) for step in scenario.steps[: rng.randint(2, 4)])]
        prompt += _piece(rng, grammar.class_usage[lang][register], usage="\n".join(usage))
    prompt = _then(prompt, rng.choice(grammar.closers[lang][register]))
    solution = Template(spec.body).substitute(C=cls, doc=spec.doc[lang]) + "\n"
    return {
        "id": item_id(TASK, prompt, tests),
        "lang": lang,
        "difficulty": difficulty(0.7 * spec.level + 0.01 * solution.count("\n")),
        "prompt": prompt,
        "entry_point": cls,
        "tests": tests,
        "solution": solution,
    }


def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    kind, name = rng.choice(shapes())
    if kind == "class":
        return class_item(rng, name, lang)
    return task_item(rng, draw_task(rng, name), lang)


def _validate(items: list[dict[str, Any]]) -> list[bool]:
    """Each solution passes its tests, and the code a request shows (a function to fix or to complete) fails them."""
    shown = {index: extract_code(item["prompt"], "python") for index, item in enumerate(items)
             if "```python" in item["prompt"]}  # fmt: skip
    verdicts = run_tests(items + [{"solution": code, "tests": items[index]["tests"], "timeout_s": 0.25}
                                  for index, code in shown.items()])  # a bug may loop for ever
    failed = dict(zip(shown, verdicts[len(items):], strict=True))
    return [ok and not failed.get(index, False) for index, ok in enumerate(verdicts[: len(items)])]


def run_tests(items: list[dict[str, Any]], timeout: float = 120.0) -> list[bool]:
    """Run each item's `tests` against its `solution` in one fresh isolated interpreter (2 s per item); True where
    every assert passed. Meant for this module's own reference solutions, not for untrusted code."""
    payload = json.dumps([{key: it[key] for key in ("solution", "tests", "timeout_s") if key in it} for it in items])
    # a clean environment, no user site, not the runner's folder on sys.path (what -I does), and a fixed hash seed
    # (-I would ignore it): a function that returns a set's strings in hash order must fail or pass every time
    done = subprocess.run([sys.executable, "-s", "-P", str(_RUNNER)], input=payload, capture_output=True, text=True,
                          timeout=timeout, check=True, env={"PYTHONHASHSEED": "0"})  # fmt: skip
    return json.loads(done.stdout)


def generate(n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]:
    """`n` distinct tested coding eval items (keys: id, lang, difficulty, prompt, entry_point, tests, solution).
    Training seeds < 1000, evaluation seeds >= 1000."""
    return collect(TASK, n, seed, lang, _draft, key="prompt", validate=_validate)


def to_chat(item: dict[str, Any]) -> dict[str, Any]:
    """The training example: the request -> the function (or class) in a python block."""
    return chat_example(TASK, item, item["prompt"], f"```python\n{item['solution'].rstrip()}\n```")


__all__ = ["TASK", "class_item", "draw_task", "families", "generate", "run_tests", "shapes", "task_item", "to_chat"]
