"""The Python check tool: the examples a request states, and a verdict on candidate functions run in the sandbox.

`stated_examples(request)` reads the examples people write into a coding task ("`f(3)` should return `9`",
"f(1, 2) -> 3", "f([1,2]) == [2,1]", ">>> f(2)" then "4" on the next line, "for example f('ab') gives 'ba'",
"e.g. f(0) returns True", "`f(3)` должна вернуть `9`", "например, f(2) → 4", "возвращает", "даёт", and
"Input: nums = [1, 2]" / "Output: 3", "Вход:" / "Выход:", which name no function). Arguments and results are read
with `ast.literal_eval` only: anything that is not a literal is skipped, never evaluated.

`python_verdict(answer, request)` (a `tools.verdict.Verify`) takes the code out of the answer, finds the function the
request names (else the one the code defines), and runs it in `tools.sandbox.run_python` on the stated examples and
on inputs derived from their arguments (same types: small ints around them, shorter, longer and empty lists,
strings including Cyrillic; fixed, no randomness). It is ok when the function is defined and passes every stated
example (with none stated: when it returns on at least one input guessed from its parameter names); its key is the
outputs on those inputs (an error or a timeout as a marker), so two implementations that behave the same vote
together. A class the request names is run on the usage the request shows (`class_usage`: "s = Stack()",
"s.push(3)", "s.pop()  # -> 3", "s.pop()  # raises IndexError"): ok when every stated result and exception comes
out, its key what every call returned; with no usage shown, ok when it is defined (its key is its code).
`python_check_many(answers, request)` checks several candidates in one sandbox process: the harness there forks one
child per candidate (a fresh interpreter state, its own working folder, a wall-clock limit, output passed back as
JSON through a pipe), kills whatever the child left behind, and never runs candidate code itself. Measured on the
shared 2-core machine (load 3-4): a sandbox start 70-180 ms, one verdict 130-240 ms, eight candidates in one
process 180-290 ms against 1.0-1.7 s for eight separate verdicts.

    .venv/bin/python -c "from moe_system.tools.python_check import python_verdict as v; \
print(v('```python\\ndef sq(x):\\n    return x * x\\n```', 'Write sq(x); sq(3) should return 9'))"
"""

from __future__ import annotations

import ast
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moe_system.tools.code import extract_code
from moe_system.tools.sandbox import SandboxMode, run_python
from moe_system.tools.verdict import Verdict

CALL_LIMIT_S = 0.3  # one call of a candidate on one input
MODULE_LIMIT_S = 1.0  # a candidate's module code (definitions, and whatever else it runs on import)
CANDIDATE_LIMIT_S = 4.0  # a candidate as a whole: its module code and every call
MEMORY_MB = 512
MAX_INPUTS = 16  # stated examples and derived inputs, at most
ERROR, TIMEOUT = "<error>", "<timeout>"  # what an output is in a key when the call raised or ran too long


# ---- examples stated in a request


@dataclass(frozen=True)
class Example:
    """One example of a request: `name(*args, **kwargs)` should return `expected` ("" for the name when the
    example names no function)."""

    name: str
    args: tuple[Any, ...]
    expected: Any
    kwargs: dict[str, Any] = field(default_factory=dict)

    def call(self) -> str:
        """The call as Python source."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name or 'f'}({', '.join(parts)})"


_CALL_START = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(")
# What joins a call to its result, after optional closing backtick; longest alternatives first
_CONNECTOR = re.compile(
    r"[`'\"]?[ \t]*(?:"
    r"(?:->|→|=>|⇒|==|=|—|–|:(?=[ \t]*[-\w\"'`\[({]))"
    r"|(?:[—–-][ \t]*)?\b(?:"
    r"should\s+(?:return|give|be|equal|output|produce)|must\s+(?:return|give|be)|will\s+(?:return|give|be)"
    r"|is\s+expected\s+to\s+(?:return|be)|evaluates\s+to|returns|return|gives|give|yields|outputs|produces|equals"
    r"|results\s+in|is"
    r"|должн[аоы]?\s+(?:вернуть|возвращать|выдать|давать|дать|быть\s+равн[аоы]?|быть)"
    r"|должен\s+(?:вернуть|возвращать|выдать|дать|быть)"
    r"|возвращает|вернёт|вернет|возвратит|даёт|дает|даст|выдаёт|выдает|выдаст|равн[оаы]|равен|будет"
    r")(?!\w))[ \t]*:?[ \t]*",
    re.I,
)
# "Input: nums = [1, 2], k = 3" then "Output: 4" (on the next line or the same one)
_INPUT_OUTPUT = re.compile(
    r"(?:\binput|\bвход(?:ные\s+данные)?|\bввод)[ \t]*:[ \t]*(?P<args>[^\n]+?)[ \t]*[,;.]?[ \t]*(?:\n[ \t]*)?"
    r"(?:\boutput|\bexpected(?:\s+output)?|\bвыход(?:ные\s+данные)?|\bвывод|\bрезультат|\bответ)[ \t]*:[ \t]*"
    r"(?P<out>\S)",
    re.I,
)
_DOCTEST_RESULT = re.compile(r"[`]?[ \t]*\r?\n[ \t]*(?!>>>)")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def stated_examples(request: str) -> list[Example]:
    """The examples `request` states, in order, without repeats. Only literal arguments and results count. An
    example written as "Input: ... / Output: ..." names no function: its `name` is ""."""
    found: list[tuple[int, Example]] = []
    for match in _CALL_START.finditer(request):
        end = _balanced(request, match.end() - 1)
        if end is None:
            continue
        call = _literal_call(request[match.start():end])
        if call is None:
            continue
        line_start = request.rfind("\n", 0, match.start()) + 1
        doctest = request[line_start:match.start()].strip() in {">>>", "`>>>", ">>> `"}
        result = _result_after(request, end, doctest)
        if result is not None:
            found.append((match.start(), Example(call[0], call[1], result[0], call[2])))
    for match in _INPUT_OUTPUT.finditer(request):
        call = _literal_call(f"_({match.group('args').strip().strip('`')})")
        result = _value_at(request, match.start("out"))
        if call is not None and result is not None:  # named inputs ("nums = [1, 2]") are taken in order
            found.append((match.start(), Example("", (*call[1], *call[2].values()), result[0])))
    examples: list[Example] = []
    seen: set[str] = set()
    for _, example in sorted(found, key=lambda pair: pair[0]):
        marker = repr((example.call(), example.expected))
        if marker not in seen:
            seen.add(marker)
            examples.append(example)
    return examples


def _balanced(text: str, start: int) -> int | None:
    """The index just past the bracket that closes the one at `start` (strings respected), None if unclosed."""
    stack: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char in "'\"":
            close = _string_end(text, index)
            if close is None:
                return None
            index = close
            continue
        if char in _CLOSERS:
            stack.append(_CLOSERS[char])
        elif char in ")]}":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return index + 1
        elif char == "\n" and len(stack) == 0:
            return None
        index += 1
    return None


def _string_end(text: str, start: int) -> int | None:
    """The index just past the string literal opening at `start` (one line, backslash escapes)."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index + 1
        if text[index] == "\n":
            return None
        index += 1
    return None


def _literal_call(source: str) -> tuple[str, tuple[Any, ...], dict[str, Any]] | None:
    """(name, args, kwargs) of `name(literal, ...)`, None if anything in it is not a literal."""
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return None
    try:
        args = tuple(ast.literal_eval(arg) for arg in node.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if len(kwargs) != len(node.keywords):
        return None
    return node.func.id, args, kwargs


def _result_after(text: str, end: int, doctest: bool) -> tuple[Any] | None:
    """The literal result that follows a call ending at `end`, wrapped in a 1-tuple; None when there is none."""
    connector = _CONNECTOR.match(text, end)
    if connector is None and doctest:
        connector = _DOCTEST_RESULT.match(text, end)
    if connector is None:
        return None
    return _value_at(text, connector.end())


def _value_at(text: str, start: int) -> tuple[Any] | None:
    """The literal that starts at `start` (in backticks, quoted, bracketed or one word), in a 1-tuple; or None."""
    if start < len(text) and text[start] == "`":
        close = text.find("`", start + 1)
        return _literal(text[start + 1:close]) if close > start else None
    if start < len(text) and text[start] in "'\"":
        string_end = _string_end(text, start)
        return _literal(text[start:string_end]) if string_end else None
    if start < len(text) and text[start] in _CLOSERS:
        bracket_end = _balanced(text, start)
        return _literal(text[start:bracket_end]) if bracket_end else None
    token = re.match(r"[^\s,;`]+", text[start:])
    if token is None:
        return None
    word = token.group(0)
    for candidate in (word.rstrip(".!?)»"), word):
        value = _literal(candidate)
        if value is not None:
            return value
    return None


def _literal(source: str) -> tuple[Any] | None:
    source = source.strip()
    if not source or len(source) > 10_000:
        return None
    try:
        return (ast.literal_eval(source),)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


@dataclass(frozen=True)
class UsageStep:
    """One method call of a class's usage: `check` "value" (it should return `value`), "raises" (it should raise
    the exception named `value`) or "" (its result is not stated)."""

    method: str
    args: tuple[Any, ...]
    check: str = ""
    value: Any = None

    def call(self, var: str) -> str:
        if self.method == "__len__":
            return f"len({var})"
        return f"{var}.{self.method}({', '.join(repr(a) for a in self.args)})"


_RAISES = re.compile(r"(?:raises|raise|бросает|вызывает|выбрасывает)[ \t]+(?:an?[ \t]+)?([A-Za-z_]\w*)", re.I)
MAX_STEPS = 40


def class_usage(request: str, name: str) -> tuple[str, tuple[Any, ...], list[UsageStep]] | None:
    """How the request uses the class `name`: (variable, constructor arguments, the method calls that follow with
    what they should return or raise), read from lines like "s = Stack()", "s.push(3)", "s.pop()  # -> 3",
    "len(s)  # -> 0", "s.pop()  # raises IndexError"; None when it never creates one with literal arguments. The
    calls stop at the first one that is not literal (what follows would start from an unknown state)."""
    create = re.search(rf"^[ \t>]*([A-Za-z_]\w*)[ \t]*=[ \t]*{re.escape(name)}\(", request, re.M)
    if create is None:
        return None
    end = _balanced(request, create.end() - 1)
    made = _literal_call(request[create.end() - len(name) - 1:end]) if end else None
    if end is None or made is None or made[2]:
        return None
    var = create.group(1)
    steps: list[UsageStep] = []
    for match in re.finditer(rf"(?<![\w.])(?:{var}\.([A-Za-z_]\w*)\(|len\({var}\))", request[end:]):
        start = end + match.start()
        if match.group(1) is None:
            call_end: int | None = end + match.end()
            call: tuple[str, tuple[Any, ...], dict[str, Any]] | None = ("__len__", (), {})
        else:
            call_end = _balanced(request, end + match.end() - 1)
            call = _literal_call(request[start + len(var) + 1:call_end]) if call_end else None
        if call is None or call_end is None or call[2] or len(steps) >= MAX_STEPS:
            break
        after = re.compile(r"[ \t]*(?:#[ \t]*)?").match(request, call_end)
        position = after.end() if after else call_end
        raised = _RAISES.match(request, position)
        result = None if raised else _result_after(request, position, False)
        if raised:
            steps.append(UsageStep(call[0], call[1], "raises", raised.group(1)))
        elif result is not None:
            steps.append(UsageStep(call[0], call[1], "value", result[0]))
        else:
            steps.append(UsageStep(call[0], call[1]))
    return var, made[1], steps


# ---- inputs derived from the examples' arguments


_CYRILLIC = "Привет, мир"


def derived_inputs(examples: Sequence[Example]) -> list[tuple[Any, ...]]:
    """The argument tuples a candidate runs on: the stated ones first, then each with one argument changed into a
    value of the same type (at most `MAX_INPUTS`, no repeats, always the same for the same examples)."""
    inputs: list[tuple[Any, ...]] = []
    seen: set[str] = set()

    def add(args: tuple[Any, ...]) -> None:
        marker = repr(args)
        if marker not in seen and len(inputs) < MAX_INPUTS:
            seen.add(marker)
            inputs.append(args)

    for example in examples:
        add(example.args)
    variants = [
        [(*ex.args[:i], value, *ex.args[i + 1:]) for i, arg in enumerate(ex.args) for value in _variants(arg)]
        for ex in examples
    ]
    for round_ in range(max((len(v) for v in variants), default=0)):  # round-robin: each example contributes
        for options in variants:
            if round_ < len(options):
                add(options[round_])
    return inputs


def _variants(value: Any) -> list[Any]:
    """Values of the same type as `value`, near it or at the edges."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, 0, -abs(value) - 1, value + 3, 1]
    if isinstance(value, float):
        return [value / 2, -value, 0.0, value + 1.5]
    if isinstance(value, str):
        if len(value) <= 1:
            return ["z", "Я", " ", "A"]
        return ["", value[:1], value[::-1], value.upper(), f"{value} {value[:2]}", _CYRILLIC]
    if isinstance(value, (list, tuple)):
        kind = type(value)
        grown = [*value, *value[:2]] if value else [1]
        items = [list(value[:1]), list(value[::-1]), grown, [], [*value[1:], *[_shift(v) for v in value[:1]]]]
        return [kind(item) for item in items]
    if isinstance(value, dict):
        pairs = list(value.items())
        extra = {_shift(pairs[0][0]): pairs[0][1]} if pairs else {}
        return [{}, dict(pairs[:1]), {**value, **extra}, dict(pairs[::-1])]
    if isinstance(value, (set, frozenset)):
        ordered = sorted(value, key=repr)
        return [type(value)(), type(value)(ordered[:1])]
    return []


def _shift(value: Any) -> Any:
    """A different value of the same type (for a new list item or dict key)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value + "ё" if value else "ё"
    return value


_STRING_NAMES = {"s", "text", "word", "string", "sentence", "phrase", "name", "ch", "char", "c", "line", "st",
                 "txt", "msg", "message", "prefix", "suffix", "sep", "pattern", "sub", "letter", "title"}
_LIST_NAMES = {"nums", "numbers", "lst", "items", "values", "arr", "array", "xs", "list", "seq", "data",
               "ints", "elements", "sequence", "scores", "prices", "vals", "list1", "list2", "lst1", "lst2"}
_WORDS_NAMES = {"words", "strings", "names", "lines", "tokens"}
_DICT_NAMES = {"d", "dct", "dict", "mapping", "counts", "table", "dictionary", "inventory", "prices_by_name",
               "d1", "d2", "a_dict", "grades"}


_POOLS: dict[str, list[Any]] = {
    "words": [["apple", "Banana", "kiwi"], [], ["мир"], ["a", "bb", "a"]],
    "dict": [{"a": 1, "b": 3}, {}, {"ключ": 2}, {"x": 5, "y": 5, "z": 1}],
    "list": [[3, 1, 2], [], [5], [-2, 7, 7, 0, 4]],
    "str": ["hello world", "", "Level", _CYRILLIC],
    "int": [3, 0, 10, -4],
}


_INT_NAMES = {"n", "k", "m", "count", "size", "limit", "base", "amount", "minutes", "seconds", "hours", "days",
              "years", "degrees", "cents", "width", "height", "steps", "times", "places", "digits", "year", "month",
              "day"}


def guessed_inputs(params: Sequence[str]) -> list[tuple[Any, ...]]:
    """Inputs for a function no example describes, guessed from its parameter names (fixed values). A name that
    says its type (`text`, `nums`, `d`, `n`) gets values of that type; the others (and names guessed from their
    ending alone) are tried as the likeliest type first, then as the other two of int, str and list."""
    orders: list[tuple[str, ...]] = []
    for param in params:
        lowered = param.lower()
        if lowered in _WORDS_NAMES:
            orders.append(("words",))
        elif lowered in _DICT_NAMES:
            orders.append(("dict",))
        elif lowered in _INT_NAMES:
            orders.append(("int",))
        elif lowered in _LIST_NAMES:
            orders.append(("list",))
        elif lowered in _STRING_NAMES:
            orders.append(("str",))
        elif lowered.endswith(("text", "str", "word", "name")):
            orders.append(("str", "int", "list"))
        elif lowered.endswith(("s", "_list", "list")):
            orders.append(("list", "int", "str"))
        else:
            orders.append(("int", "str", "list"))
    if not orders:
        return [()]
    inputs: list[tuple[Any, ...]] = []
    for round_ in range(max(len(order) for order in orders)):
        pools = [_POOLS[order[min(round_, len(order) - 1)]] for order in orders]
        inputs += [tuple(pool[i] for pool in pools) for i in range(4)]
    return inputs


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


# ---- what runs inside the sandbox

# The harness: reads spec.json, forks one child per candidate and prints `marker` + {index: report} as its last line.
# It runs no candidate code itself. A child closes its standard streams, gets its own process group and folder,
# executes the code in a fresh namespace and reports through a pipe {"defined", "error", "outputs", "passed"};
# the harness kills it (and, in a PID namespace, every process but itself) when it is done or out of time.
_HARNESS = r"""
import ast, json, math, os, select, shutil, signal, sys, tempfile, time

ERROR, TIMEOUT = __MARKERS__
PLAIN = (int, float, complex, str, bytes, bool, type(None), list, tuple, dict, set, frozenset)


class CallTimeout(BaseException):
    pass


def on_alarm(*_):
    raise CallTimeout


def canonical(value, depth=0, type=type, repr=repr, len=len, sorted=sorted, round=round, str=str,
              isfinite=math.isfinite):  # bound now: a candidate may patch builtins and modules
    kind = type(value)
    if depth > 20 or kind not in PLAIN:
        return '<' + kind.__name__ + '>'
    if kind is float:
        return repr(round(value, 9)) if isfinite(value) else repr(value)
    if kind in (list, tuple):
        inner = ', '.join(canonical(v, depth + 1) for v in value)
        return '[' + inner + ']' if kind is list else '(' + inner + (',)' if len(value) == 1 else ')')
    if kind is dict:
        pairs = sorted(canonical(k, depth + 1) + ': ' + canonical(v, depth + 1) for k, v in value.items())
        return '{' + ', '.join(pairs) + '}'
    if kind in (set, frozenset):
        return kind.__name__ + '(' + str(sorted(canonical(v, depth + 1) for v in value)) + ')'
    text = repr(value)
    return text if len(text) <= 2000 else text[:2000] + '...'


def same(out, expected, type=type, isinstance=isinstance, isclose=math.isclose, canonical=canonical):
    if type(out) not in PLAIN:
        return False
    if isinstance(out, float) or isinstance(expected, float):
        try:
            return isclose(out, expected, rel_tol=1e-6, abs_tol=1e-9)
        except TypeError:
            return False
    return canonical(out) == canonical(expected)


def child(candidate, dumps=json.dumps):
    return dumps(checked(candidate)).encode()


def checked(candidate, len=len, callable=callable, type=type, str=str, enumerate=enumerate,
            literal_eval=ast.literal_eval, setitimer=signal.setitimer):
    signal.signal(signal.SIGALRM, on_alarm)
    report = {'defined': False, 'error': '', 'outputs': [], 'passed': []}
    namespace = {'__name__': '__candidate__', '__builtins__': __builtins__}
    try:
        setitimer(signal.ITIMER_REAL, SPEC['module_limit_s'])
        exec(compile(candidate['code'], '<candidate>', 'exec'), namespace)
        setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:
        setitimer(signal.ITIMER_REAL, 0)
        report['error'] = 'the code fails: ' + type(exc).__name__ + ': ' + str(exc)[:150]
    target = namespace.get(candidate['target'])
    if not callable(target):
        report['error'] = report['error'] or '`' + candidate['target'] + '` is not defined'
        return report
    report['defined'] = True
    if candidate['kind'] == 'class':
        return run_usage(target, candidate['usage'], report) if candidate['usage'] else report
    if candidate['kind'] != 'function':
        return report
    expected = [literal_eval(e) for e in candidate['expected']]
    timeouts = 0
    for index, text in enumerate(candidate['inputs']):
        args = literal_eval(text)
        if timeouts >= 2:  # an endless loop: the other inputs are not tried
            report['outputs'].append(TIMEOUT)
            report['passed'].append(False) if index < len(expected) else None
            continue
        try:
            setitimer(signal.ITIMER_REAL, SPEC['call_limit_s'])
            out = target(*args)
            setitimer(signal.ITIMER_REAL, 0)
            shown = canonical(out)
        except CallTimeout:
            out, shown, timeouts = None, TIMEOUT, timeouts + 1
        except BaseException:
            setitimer(signal.ITIMER_REAL, 0)
            out, shown = None, ERROR
        report['outputs'].append(shown)
        if index < len(expected):
            report['passed'].append(shown not in (ERROR, TIMEOUT) and same(out, expected[index]))
    return report


def run_usage(cls, usage, report, literal_eval=ast.literal_eval, setitimer=signal.setitimer, getattr=getattr,
              type=type, isinstance=isinstance, builtins=__builtins__):
    broken = False
    try:
        setitimer(signal.ITIMER_REAL, SPEC['call_limit_s'])
        obj = cls(*literal_eval(usage['init']))
        setitimer(signal.ITIMER_REAL, 0)
    except BaseException:
        setitimer(signal.ITIMER_REAL, 0)
        broken = True
    for method, args, check, value in usage['steps']:
        raised = None
        if broken:
            out, shown = None, ERROR
        else:
            try:
                setitimer(signal.ITIMER_REAL, SPEC['call_limit_s'])
                out = getattr(obj, method)(*literal_eval(args))
                setitimer(signal.ITIMER_REAL, 0)
                shown = canonical(out)
            except CallTimeout:
                out, shown, broken = None, TIMEOUT, True
            except BaseException as exc:
                setitimer(signal.ITIMER_REAL, 0)
                out, shown, raised = None, ERROR, exc
        report['outputs'].append(shown)
        if check == 'raises':
            name = literal_eval(value)
            kind = getattr(builtins, name, None) if not isinstance(builtins, dict) else builtins.get(name)
            report['passed'].append(raised is not None and (type(raised).__name__ == name or (
                isinstance(kind, type) and isinstance(raised, kind))))
        elif check == 'value':
            report['passed'].append(raised is None and shown not in (ERROR, TIMEOUT) and same(out, literal_eval(value)))
    return report


def run_one(candidate):
    read, write = os.pipe()
    folder = tempfile.mkdtemp()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.setpgid(0, 0)
            os.chdir(folder)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            data = child(candidate)
            while data:
                data = data[os.write(write, data):]
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + SPEC['candidate_limit_s']
    chunks, timed_out = [], False
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read], [], [], left)[0]:
            timed_out = True
            break
        chunk = os.read(read, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass
    if SPEC['pid_namespace'] and os.getppid() == 1:  # every process but this one and the namespace's init
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass
    shutil.rmtree(folder, ignore_errors=True)
    if timed_out:
        return {'timeout': True}
    try:
        report = json.loads(b''.join(chunks))
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


SPEC = json.load(open('spec.json', encoding='utf-8'))
reports = {}
for index, candidate in enumerate(SPEC['candidates']):
    report = run_one(candidate)
    if report is not None:
        reports[index] = report
sys.stdout.write('\n' + SPEC['marker'] + json.dumps(reports) + '\n')
sys.stdout.flush()
""".replace("__MARKERS__", repr((ERROR, TIMEOUT)))


__all__ = ["Example", "UsageStep", "class_usage", "derived_inputs", "guessed_inputs", "python_check_many",
           "python_verdict", "stated_examples"]
