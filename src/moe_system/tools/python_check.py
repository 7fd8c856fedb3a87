"""The Python check tool's verdict: candidate functions and classes run in the sandbox on what the request states.

`python_verdict(answer, request)` (a `tools.verdict.Verify`) takes the code out of the answer, finds the function the
request names (else the one the code defines), and runs it in `tools.sandbox.run_python` on the examples the request
states and on inputs derived from their arguments (`tools.python_examples`: `stated_examples`, `derived_inputs`). It
is ok when the function is defined and passes every stated example (with none stated: when it returns on at least
one input guessed from its parameter names, `guessed_inputs`); its key is the outputs on those inputs (an error or a
timeout as a marker), so two implementations that behave the same vote together. A class the request names is run
on the usage the request shows (`class_usage`: "s = Stack()", "s.push(3)", "s.pop()  # -> 3",
"s.pop()  # raises IndexError"): ok when every stated result and exception comes out, its key what every call
returned; with no usage shown, ok when it is defined (its key is its code).
`python_check_many(answers, request)` checks several candidates in one sandbox process: the harness there
(`tools/python_harness.py`, sent as the sandbox's `main.py`) forks one child per candidate (a fresh interpreter
state, its own working folder, a wall-clock limit, output passed back as JSON through a pipe), kills whatever the
child left behind, and never runs candidate code itself. Measured on the shared 2-core machine (load 3-4): a sandbox
start 70-180 ms, one verdict 130-240 ms, eight candidates in one process 180-290 ms against 1.0-1.7 s for eight
separate verdicts.

    .venv/bin/python -c "from moe_system.tools.python_check import python_verdict as v; \
print(v('```python\\ndef sq(x):\\n    return x * x\\n```', 'Write sq(x); sq(3) should return 9'))"
"""

from __future__ import annotations

import ast
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from moe_system.tools.code import extract_code
from moe_system.tools.python_examples import (
    Example,
    UsageStep,
    class_usage,
    derived_inputs,
    guessed_inputs,
    stated_examples,
)
from moe_system.tools.python_harness import ERROR, TIMEOUT
from moe_system.tools.sandbox import SandboxMode, run_python
from moe_system.tools.verdict import Verdict

CALL_LIMIT_S = 0.3  # one call of a candidate on one input
MODULE_LIMIT_S = 1.0  # a candidate's module code (definitions, and whatever else it runs on import)
CANDIDATE_LIMIT_S = 4.0  # a candidate as a whole: its module code and every call
MEMORY_MB = 512
# What runs inside the sandbox: `python_harness.py` sent as source (it imports only the standard library). Its
# `ERROR` and `TIMEOUT` are what an output is in a key when the call raised or ran too long.
_HARNESS = files("moe_system.tools").joinpath("python_harness.py").read_text(encoding="utf-8")


# ---- the verdict


@dataclass(frozen=True)
class _Plan:
    """What one candidate's child does: its code, the name it calls, the inputs, and the stated expectations."""

    code: str
    target: str
    kind: str  # "function", "class" (only defined and run), or "" when the code cannot be run
    inputs: list[tuple[Any, ...]]
    expected: list[Any]  # the stated results of the first len(expected) inputs
    problem: str = ""
    usage: tuple[str, tuple[Any, ...], list[UsageStep]] | None = None  # a class's, from the request


def python_verdict(answer: str, request: str, *, mode: SandboxMode | None = None) -> Verdict:
    """The verdict on one answer (one sandbox process); see the module's docstring."""
    return python_check_many([answer], request, mode=mode)[0]


def python_check_many(answers: Sequence[str], request: str, *, mode: SandboxMode | None = None) -> list[Verdict]:
    """Verdicts on several answers to one request, checked in one sandbox process (each candidate in its own forked
    child); a candidate whose run did not come back (it killed the harness) is rerun alone."""
    examples = stated_examples(request)
    plans = [_plan(answer, request, examples) for answer in answers]
    runnable = [i for i, plan in enumerate(plans) if not plan.problem]
    results: dict[int, dict[str, Any]] = {}
    if runnable:
        results = _run([plans[i] for i in runnable], mode)
        results = {runnable[k]: value for k, value in results.items()}
        missing = [i for i in runnable if i not in results]
        if len(runnable) > 1:
            for index in missing:
                alone = _run([plans[index]], mode)
                if 0 in alone:
                    results[index] = alone[0]
    return [_verdict(answer, plan, results.get(i), bool(examples)) for i, (answer, plan) in
            enumerate(zip(answers, plans, strict=True))]


def _plan(answer: str, request: str, examples: list[Example]) -> _Plan:
    code = extract_code(answer, "python")
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        return _Plan(code, "", "", [], [], f"the code does not parse: {getattr(exc, 'msg', exc)}")
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    called = [ex.name for ex in examples if ex.name] + _names_in(request, _NAMED)
    words = set(re.findall(r"\w+", request))
    mentioned = [*called, *_names_in(request, _BACKTICKED), *(name for name in [*functions, *classes] if name in words)]
    wanted = next((name for name in mentioned if name in functions or name in classes), None)
    if wanted is None and not functions and len(classes) == 1:
        wanted = next(iter(classes))
    if wanted is None and called and (examples or not functions):
        return _Plan(code, called[0], "", [], [], f"the code does not define `{called[0]}`")
    if wanted is None:
        wanted = _main_function(functions)
        if wanted is None:
            return _Plan(code, "", "", [], [], "the code defines no function")
    if wanted in classes and wanted not in functions:
        return _Plan(code, wanted, "class", [], [], usage=class_usage(request, wanted))
    own = [ex for ex in examples if ex.name in {wanted, ""} and not ex.kwargs]
    if own:
        return _Plan(code, wanted, "function", derived_inputs(own), [ex.expected for ex in own])
    node = functions[wanted]
    params = [a.arg for a in [*node.args.posonlyargs, *node.args.args] if a.arg not in {"self", "cls"}]
    required = len(params) - len(node.args.defaults)
    return _Plan(code, wanted, "function", guessed_inputs(params[:required]), [])  # the defaults left as they are


_NAMED = re.compile(r"(?<![\w.])(?:def\s+)?([A-Za-z_]\w*)\((?:[^()`\n]*)\)")  # signatures and calls
_BACKTICKED = re.compile(r"`(?:class\s+|def\s+)?([A-Za-z_]\w*)`")
_KEYWORDS = {"print", "len", "range", "int", "str", "list", "dict", "set", "sorted", "sum", "max", "min", "abs",
             "type", "isinstance", "open", "input", "map", "filter", "zip", "tuple", "bool", "float", "e", "g"}


def _names_in(request: str, pattern: re.Pattern[str]) -> list[str]:
    """The names `pattern` finds in the request, first mention first (builtins left out)."""
    names: list[str] = []
    for match in pattern.finditer(request):
        name = match.group(1)
        if name not in _KEYWORDS and name not in names:
            names.append(name)
    return names


def _main_function(functions: Mapping[str, ast.AST]) -> str | None:
    """The function the code is about: the first top-level one no other top-level function calls."""
    called = {node.func.id for fn in functions.values() for node in ast.walk(fn)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    return next((name for name in functions if name not in called), next(iter(functions), None))


def _run(plans: list[_Plan], mode: SandboxMode | None) -> dict[int, dict[str, Any]]:
    """Run the plans in one sandbox process; index -> what its child reported (missing where nothing came back)."""
    marker = secrets.token_hex(8)
    spec = {
        "marker": marker,
        "call_limit_s": CALL_LIMIT_S,
        "candidate_limit_s": CANDIDATE_LIMIT_S,
        "module_limit_s": MODULE_LIMIT_S,
        "pid_namespace": (mode or _mode()) == "namespaces",
        "candidates": [{"code": p.code, "target": p.target, "kind": p.kind, "inputs": [repr(i) for i in p.inputs],
                        "expected": [repr(e) for e in p.expected], "usage": _usage_spec(p)} for p in plans],
    }
    result = run_python(_HARNESS, timeout_s=2.0 + len(plans) * (CANDIDATE_LIMIT_S + 0.5), memory_mb=MEMORY_MB,
                        files={"spec.json": json.dumps(spec)}, mode=mode)
    lines = [line for line in result.stdout.splitlines() if line.startswith(marker)]
    if not lines:
        return {}
    try:
        reported = json.loads(lines[-1][len(marker):])
    except ValueError:
        return {}
    return {int(k): v for k, v in reported.items() if isinstance(v, dict) and str(k).isdigit()}


def _usage_spec(plan: _Plan) -> dict[str, Any] | None:
    if plan.usage is None:
        return None
    _, init, steps = plan.usage
    return {"init": repr(init), "steps": [[step.method, repr(step.args), step.check, repr(step.value)]
                                          for step in steps]}  # fmt: skip


def _mode() -> SandboxMode:
    from moe_system.config import load_settings

    return load_settings().sandbox.mode


def _verdict(answer: str, plan: _Plan, result: dict[str, Any] | None, stated: bool) -> Verdict:
    if plan.problem:
        return Verdict(False, None, answer, plan.problem)
    if result is None:
        return Verdict(False, None, answer, "the sandboxed run did not report back")
    if result.get("timeout"):
        return Verdict(False, None, answer, "the code ran past its time limit")
    if not result.get("defined"):
        return Verdict(False, None, answer, str(result.get("error") or f"`{plan.target}` is not defined"))
    if plan.kind == "class":
        return _class_verdict(answer, plan, result)
    outputs = [str(o) for o in result.get("outputs", [])]
    if len(outputs) != len(plan.inputs):
        return Verdict(False, None, answer, "the sandboxed run reported too few outputs")
    passed = result.get("passed", [])
    if len(passed) != len(plan.expected):
        return Verdict(False, None, answer, "the sandboxed run reported too few results")
    for index, ok in enumerate(passed):
        if not ok:
            call = f"{plan.target}{_args_text(plan.inputs[index])}"
            return Verdict(False, None, answer, f"{call} returned {outputs[index][:80]}, expected "
                                                f"{plan.expected[index]!r}"[:200])  # fmt: skip
    if not stated and all(o in {ERROR, TIMEOUT} for o in outputs):
        return Verdict(False, None, answer, f"`{plan.target}` failed on every input")
    return Verdict(True, tuple(outputs), answer)


def _class_verdict(answer: str, plan: _Plan, result: dict[str, Any]) -> Verdict:
    """A class with no usage in the request passes when it is defined (its key is its code); with usage, when every
    stated result and exception comes out (its key is what every call returned)."""
    if plan.usage is None or not plan.usage[2]:
        return Verdict(True, ("class", plan.target, ast.dump(ast.parse(plan.code))), answer)
    var, _, steps = plan.usage
    outputs = [str(o) for o in result.get("outputs", [])]
    passed = result.get("passed", [])
    checked = [step for step in steps if step.check]
    if len(outputs) != len(steps) or len(passed) != len(checked):
        return Verdict(False, None, answer, "the sandboxed run reported too few results")
    for step, ok in zip(checked, passed, strict=True):
        if not ok:
            got = outputs[steps.index(step)]
            want = f"to raise {step.value}" if step.check == "raises" else f"{step.value!r}"
            return Verdict(False, None, answer, f"{step.call(var)} gave {got[:80]}, expected {want}"[:200])
    return Verdict(True, ("class", *outputs), answer)


def _args_text(args: tuple[Any, ...]) -> str:
    return "(" + ", ".join(repr(a) for a in args) + ")"


__all__ = ["ERROR", "TIMEOUT", "python_check_many", "python_verdict"]
