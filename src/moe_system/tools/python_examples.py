"""What a coding request states: the examples people write into it, the class usage it shows, and the inputs a
candidate is run on, derived from those examples (or guessed from parameter names when there are none).

`stated_examples(request)` reads the examples people write into a coding task ("`f(3)` should return `9`",
"f(1, 2) -> 3", "f([1,2]) == [2,1]", ">>> f(2)" then "4" on the next line, "for example f('ab') gives 'ba'",
"e.g. f(0) returns True", "`f(3)` должна вернуть `9`", "например, f(2) → 4", "возвращает", "даёт", and
"Input: nums = [1, 2]" / "Output: 3", "Вход:" / "Выход:", which name no function). Arguments and results are read
with `ast.literal_eval` only: anything that is not a literal is skipped, never evaluated. `class_usage(request, name)`
reads how the request uses a class ("s = Stack()", "s.push(3)", "s.pop()  # -> 3", "s.pop()  # raises IndexError").
`derived_inputs(examples)` adds inputs of the same types around the stated arguments (small ints around them,
shorter, longer and empty lists, strings including Cyrillic; fixed, no randomness); `guessed_inputs(params)` picks
inputs from parameter names. Nothing here runs code: `tools.python_check` runs the candidates on these inputs in the
sandbox and judges them. Kept apart from that verdict because the training-data generators (`data.python`) read
their prompts back with `stated_examples` and need nothing of the sandbox.

    .venv/bin/python -c "from moe_system.tools.python_examples import stated_examples as s; \
print(s('Write sq(x); sq(3) should return 9'))"
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_INPUTS = 16  # stated examples and derived inputs, at most


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


__all__ = ["Example", "UsageStep", "class_usage", "derived_inputs", "guessed_inputs", "stated_examples"]
