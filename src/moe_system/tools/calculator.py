"""The calculator: a whitelisted interpreter for the tiny arithmetic programs a math expert answers with.

A small model slips on arithmetic far more often than on setting a problem up, so a math expert writes its
computation as a tiny ```python block, and this module runs it: `safe_eval_program` returns the program's `answer`,
`run_program` also what each assignment line computed. What the user then sees (`math_tool`) and what verified
best-of-N votes on (`math_verdict`) is `tools/math_answer.py`; the `solve(...)` of equations is `tools/symbolic.py`.

`safe_eval_program` never hands the source to `eval`/`exec`, and never hands a string to sympy (`sympify` and
`parse_expr` evaluate): the AST is first checked against a small whitelist (assignments, arithmetic, comparisons,
numbers, a few math functions) and then walked by the interpreter below, with limits on integer size, exponents
and time. Equations are solved, not guessed: inside `solve(...)` a name that was never assigned is an unknown, and
the symbolic layer builds the sympy expression node by node, asking this interpreter for the constant parts.

    >>> safe_eval_program("apples = 12\\nanswer = apples * 3 / 4")
    9.0
    >>> safe_eval_program("answer = solve(2*x + 3 - 11, x)")
    4
    >>> safe_eval_program("answer = solve(Eq(side**2, 49))")  # the positive root
    7
"""

from __future__ import annotations

import ast
import io
import math
import operator
import re
import time
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from moe_system.errors import ToolError, one_line
from moe_system.tools import symbolic

MAX_SOURCE_CHARS = 20_000
MAX_INT_BITS = 10_000  # about 3000 decimal digits: far beyond any answer, still instant to compute
MAX_ROUND_DIGITS = 100

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}  # fmt: skip
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}  # fmt: skip


def _round(value: float, ndigits: int | None = None) -> float | int:
    if ndigits is None:
        return round(value)
    if not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS:
        raise ToolError(f"round() takes a whole number of digits up to {MAX_ROUND_DIGITS}")
    return round(value, ndigits)


def _rational(numerator: Any, denominator: Any = 1) -> Fraction:
    if not all(isinstance(v, int | Fraction) for v in (numerator, denominator)):
        raise ToolError("Rational() takes whole numbers, e.g. Rational(3, 5)")
    return Fraction(numerator) / Fraction(denominator)


def _solve_placeholder(*_: Any) -> Any:  # solve() is evaluated by the interpreter itself
    raise AssertionError("solve() is evaluated by _Interpreter.solve")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": _round, "min": min, "max": max, "sum": sum, "len": len, "int": int, "float": float,
    "sqrt": math.sqrt, "floor": math.floor, "ceil": math.ceil, "Rational": _rational, "solve": _solve_placeholder,
}  # fmt: skip
_CONSTANTS = {"pi": math.pi}
_MATH_NAMES = {"sqrt", "floor", "ceil", "pi"}  # reachable both as `math.X` and as a bare name
_SOLVE_ONLY = {"Eq"}  # callable only inside solve(...)
_RESERVED = {*_FUNCTIONS, *_CONSTANTS, *_SOLVE_ONLY, "math", "print"}  # names a program may not assign

# What a rejected construct is called in the error message.
_DESCRIPTIONS: dict[type[ast.AST], str] = {
    ast.Import: "imports (other than `import math`)", ast.ImportFrom: "imports (other than `import math`)",
    ast.For: "loops", ast.AsyncFor: "loops", ast.While: "loops",
    ast.FunctionDef: "function definitions", ast.AsyncFunctionDef: "function definitions",
    ast.Lambda: "lambdas", ast.ClassDef: "class definitions",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.Subscript: "subscripts",
    ast.Attribute: "attributes other than math.sqrt, math.pi, math.floor, math.ceil",
    ast.JoinedStr: "strings", ast.If: "conditionals", ast.IfExp: "conditionals",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------------- programs


@dataclass(frozen=True)
class Run:
    """A program that ran: its `value` (the `answer`) and, per assignment line, the value it computed."""

    value: float | int
    assigned: dict[int, Any]  # the last line of an assignment statement -> the value it assigned


def safe_eval_program(source: str, timeout_s: float = 1.0) -> float | int:
    """Run a tiny arithmetic program and return its `answer` (or, without one, its last expression).

    Allowed: assignments to plain names (`x = ...`, `x += ...`), numbers, names assigned earlier, + - * / // %
    **, unary minus, comparisons, parentheses, lists (for sum, min, max, len), calls of abs, round, min, max,
    sum, len, int, float, sqrt, floor, ceil (also as math.sqrt, ...), `Rational(3, 5)` (an exact fraction) and
    the constant pi / math.pi. `import math` and `from math import sqrt` are accepted as no-ops, and `print(x)` as a
    statement counts as the expression x, because small models write both out of habit.

    `solve(equation[, unknown])` solves an equation: inside it a name never assigned is an unknown, an equation is
    `Eq(left, right)`, `left == right` or an expression equal to zero, and `[eq1, eq2]` is a linear system (then name
    the unknown wanted; `solve(...)[0]` reads as `solve(...)`). Equations must be polynomial (after clearing
    denominators) of degree at most `symbolic.MAX_DEGREE`, with at most `symbolic.MAX_UNKNOWNS` unknowns,
    coefficients of at most `symbolic.MAX_COEFFICIENT_BITS` bits and `symbolic.MAX_SOLVE_NODES` syntax nodes. The
    root returned is real and, among the real roots that do not zero a denominator, the smallest positive one, else
    the largest (0 or the negative one nearest zero); an exact fraction stays exact until the end. Anything else
    raises `ToolError` before anything runs."""
    return run_program(source, timeout_s).value


def run_program(source: str, timeout_s: float = 1.0) -> Run:
    """`safe_eval_program` that also returns what each assignment line computed (for `math_answer.math_tool`'s
    display)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise ToolError(f"the program is longer than {MAX_SOURCE_CHARS} characters")
    try:
        tree = ast.parse(grouped_numbers(source), mode="exec")
        _Validator().program(tree)
    except SyntaxError as err:
        where = f" on line {err.lineno}" if err.lineno else ""
        raise ToolError(f"syntax error{where}: {err.msg}") from err
    except (RecursionError, MemoryError) as err:
        raise ToolError("the program is nested too deeply") from err
    except ValueError as err:  # e.g. null bytes in the source
        raise ToolError(f"cannot parse the program: {one_line(err)}") from err
    if any(isinstance(node, ast.Name) and node.id == "solve" for node in ast.walk(tree)):
        symbolic.load_sympy()  # a second's import on first use, not counted against the program's time
    interpreter = _Interpreter(time.monotonic() + timeout_s, timeout_s)
    value = plain_number(interpreter.run(tree))
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int | float):
        raise ToolError("the answer is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the answer is not a finite number")
    return Run(value, interpreter.assigned)


_GROUP_HEAD = re.compile(r"\d{1,3}")
_GROUP = re.compile(r"\d{3}(?:\.\d+)?")  # a group of a grouped number; the last one may carry decimals
_DECIMALS = re.compile(r"\d+")


def grouped_numbers(source: str) -> str:
    """The program with the numbers a model copied from the question as people write them read as numbers:
    `1,000` and `2 500` (digit groups) and `2,5` (a decimal comma). In Python `1,000` is a tuple and `2 500` a
    syntax error, so neither has another meaning in an arithmetic program; a comma inside a call's parentheses
    (`max(3,5)`) separates arguments and is left alone. Line numbers stay as they were."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type not in (tokenize.NL, tokenize.COMMENT)]  # fmt: skip
    except (tokenize.TokenError, SyntaxError):
        return source  # the parser reports it
    edits: list[tuple[int, int, int, str]] = []  # (row, start column, end column, replacement)
    calls: list[bool] = []  # open brackets: whether each is a call's
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == tokenize.OP and token.string in "([{":
            before = tokens[index - 1] if index else None
            calls.append(token.string == "(" and before is not None
                         and (before.type == tokenize.NAME or before.string in ")]"))
        elif token.type == tokenize.OP and token.string in ")]}" and calls:
            calls.pop()
        elif token.type == tokenize.NUMBER:
            end, text = _grouped_run(tokens, index, in_call=bool(calls and calls[-1]))
            if end > index:
                edits.append((token.start[0], token.start[1], tokens[end].end[1], text))
                index = end
        index += 1
    lines = source.split("\n")
    for row, start, stop, text in reversed(edits):
        lines[row - 1] = lines[row - 1][:start] + text + lines[row - 1][stop:]
    return "\n".join(lines)


def _grouped_run(tokens: list[tokenize.TokenInfo], index: int, in_call: bool) -> tuple[int, str]:
    """(the index of the last token of the grouped number starting at `index`, its Python spelling); `index`
    itself and the token's text when none starts there."""
    head = tokens[index]
    if not _DECIMALS.fullmatch(head.string):  # not a whole number
        return index, head.string
    digits, last, end = head.string, head, index
    while end + 1 < len(tokens) and "." not in digits:
        after = tokens[end + 1]
        if after.type == tokenize.NUMBER and after.start == (last.end[0], last.end[1] + 1) \
                and _GROUP.fullmatch(after.string) and _GROUP_HEAD.fullmatch(digits[-3:] if end > index else digits):
            digits, last, end = digits + after.string, after, end + 1  # "2 500"
            continue
        if in_call or end + 2 >= len(tokens) or after.string != "," or after.start != last.end:
            break
        group = tokens[end + 2]
        if group.type != tokenize.NUMBER or group.start != after.end:
            break
        if _GROUP.fullmatch(group.string) and (end > index or _GROUP_HEAD.fullmatch(digits)):
            digits, last, end = digits + group.string, group, end + 2  # "1,000"
        elif end == index and _DECIMALS.fullmatch(group.string):
            digits, last, end = f"{digits}.{group.string}", group, end + 2  # "2,5"
        else:
            break
    return end, digits


def plain_number(value: Any) -> Any:
    """An exact fraction as an int when whole, else a float; anything else unchanged (also for the display)."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    return value


def _printed(node: ast.expr) -> ast.expr:
    """`x` for a `print(x)` statement, else the statement's expression itself."""
    if (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
        and len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred)
    ):  # fmt: skip
        return node.args[0]
    return node


def _name(node: ast.expr) -> str:
    """The name of a validated assignment target or callee (`math.sqrt` -> `sqrt`)."""
    if isinstance(node, ast.Name):
        return node.id
    assert isinstance(node, ast.Attribute)
    return node.attr


def _is_math_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name == "math" and alias.asname in {None, "math"} for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return (
            node.module == "math" and node.level == 0
            and all(alias.name in _MATH_NAMES and alias.asname is None for alias in node.names)
        )  # fmt: skip
    return False


def _rejected(node: ast.AST) -> ToolError:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        what = "strings"
    else:
        what = _DESCRIPTIONS.get(type(node), f"`{type(node).__name__}` nodes")
    line = getattr(node, "lineno", None)
    return ToolError(f"{what} are not allowed" + (f" (line {line})" if line else ""))


class _Validator:
    """Walks the AST in program order and raises `ToolError` at the first construct off the whitelist."""

    def __init__(self) -> None:
        self.assigned: set[str] = set()
        self.in_solve = False  # inside solve(...): unassigned names are unknowns, Eq(...) is allowed

    def program(self, tree: ast.Module) -> None:
        for statement in tree.body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            self.expression(node.value)
            for target in node.targets:
                self.target(target)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name) or node.target.id not in self.assigned:
                raise ToolError(f"line {node.lineno}: `+=`-style updates need a name assigned earlier")
            if type(node.op) not in _BINARY:
                raise ToolError(f"line {node.lineno}: operator {type(node.op).__name__} is not allowed")
            self.expression(node.value)
        elif isinstance(node, ast.Expr):
            self.expression(_printed(node.value))
        elif not _is_math_import(node):
            raise _rejected(node)

    def target(self, node: ast.expr) -> None:
        if not isinstance(node, ast.Name):
            raise ToolError(f"line {node.lineno}: only plain names can be assigned")
        self.name(node)
        if node.id in _RESERVED:
            raise ToolError(f"line {node.lineno}: '{node.id}' is a built-in name and cannot be assigned")
        self.assigned.add(node.id)

    def name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            raise ToolError(f"line {node.lineno}: dunder names like '{node.id}' are not allowed")

    def expression(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            if type(node.value) not in {int, float, bool}:
                raise _rejected(node)
        elif isinstance(node, ast.Name):
            self.name(node)
            if node.id in _FUNCTIONS or node.id in _SOLVE_ONLY:
                raise ToolError(f"line {node.lineno}: '{node.id}' can only be called")
            unknown = node.id not in self.assigned and node.id not in _CONSTANTS
            if unknown and (not self.in_solve or node.id in _RESERVED):  # inside solve(), an unknown
                raise ToolError(f"line {node.lineno}: name '{node.id}' is not assigned before it is used")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise ToolError(f"line {node.lineno}: operator {type(node.op).__name__} is not allowed")
            self.expression(node.left)
            self.expression(node.right)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise ToolError(f"line {node.lineno}: operator {type(node.op).__name__} is not allowed")
            self.expression(node.operand)
        elif isinstance(node, ast.Compare):
            if any(type(op) not in _COMPARE for op in node.ops):
                raise ToolError(f"line {node.lineno}: only the comparisons == != < <= > >= are allowed")
            for child in (node.left, *node.comparators):
                self.expression(child)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Attribute):
            if _math_attribute(node) != "pi":
                raise _rejected(node)
        elif isinstance(node, ast.List | ast.Tuple):
            for element in node.elts:
                self.expression(element)
        elif (first := _solve_first(node)) is not None:
            self.call(first)
        else:
            raise _rejected(node)

    def call(self, node: ast.Call) -> None:
        func = node.func
        allowed = {*_FUNCTIONS, *_SOLVE_ONLY} if self.in_solve else set(_FUNCTIONS)
        if isinstance(func, ast.Attribute):
            if _math_attribute(func) not in _FUNCTIONS:
                raise _rejected(func)
        elif not isinstance(func, ast.Name) or func.id not in allowed:
            shown = func.id if isinstance(func, ast.Name) else type(func).__name__
            raise ToolError(f"line {node.lineno}: calling '{shown}' is not allowed (allowed: {', '.join(_FUNCTIONS)}"
                            ", and Eq inside solve)")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise ToolError(f"line {node.lineno}: only positional arguments are allowed")
        if isinstance(func, ast.Name) and func.id == "solve":
            if self.in_solve:
                raise ToolError(f"line {node.lineno}: solve() cannot be nested")
            if not 1 <= len(node.args) <= 2:
                raise ToolError(f"line {node.lineno}: solve() takes an equation and, optionally, the unknown")
            if len(node.args) == 2 and not isinstance(node.args[1], ast.Name):
                raise ToolError(f"line {node.lineno}: the second argument of solve() is the unknown's name")
            self.in_solve = True
            try:
                for arg in node.args:
                    self.expression(arg)
            finally:
                self.in_solve = False
            return
        if isinstance(func, ast.Name) and func.id == "Eq" and len(node.args) != 2:
            raise ToolError(f"line {node.lineno}: Eq() takes two sides, Eq(left, right)")
        for arg in node.args:
            self.expression(arg)


def _solve_first(node: ast.expr) -> ast.Call | None:
    """The call of `solve(...)[0]` (sympy's habit of returning a list of roots), read as `solve(...)`: the root
    chosen by the rule of `safe_eval_program`."""
    if (
        isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == 0
        and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) and node.value.func.id == "solve"
    ):  # fmt: skip
        return node.value
    return None


def _math_attribute(node: ast.Attribute) -> str | None:
    """`X` for `math.X` with X among the math names, else None."""
    if isinstance(node.value, ast.Name) and node.value.id == "math" and node.attr in _MATH_NAMES:
        return node.attr
    return None


class _Interpreter:
    """Evaluates a validated tree; every int stays under `MAX_INT_BITS` and the deadline is checked per node."""

    _NOTHING = object()

    def __init__(self, deadline: float, timeout_s: float) -> None:
        self.names: dict[str, Any] = {}
        self.assigned: dict[int, Any] = {}
        self.deadline = deadline
        self.timeout_s = timeout_s

    def run(self, tree: ast.Module) -> Any:
        last: Any = self._NOTHING
        try:
            for node in tree.body:
                if isinstance(node, ast.Assign):
                    value = self.eval(node.value)
                    for target in node.targets:
                        self.names[_name(target)] = value
                    self.assigned[node.end_lineno or node.lineno] = value
                elif isinstance(node, ast.AugAssign):
                    name = _name(node.target)
                    self.names[name] = self.binary(node.op, self.names[name], self.eval(node.value))
                    self.assigned[node.end_lineno or node.lineno] = self.names[name]
                elif isinstance(node, ast.Expr):
                    last = self.eval(_printed(node.value))
        except ZeroDivisionError as err:
            raise ToolError("division by zero") from err
        except OverflowError as err:
            raise ToolError("a number is too large") from err
        except (TypeError, ValueError) as err:
            raise ToolError(f"invalid operation: {one_line(err)}") from err
        except RecursionError as err:
            raise ToolError("the program is nested too deeply") from err
        if "answer" in self.names:
            return self.names["answer"]
        if last is self._NOTHING:
            raise ToolError("the program assigns no `answer` and does not end with an expression")
        return last

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ToolError(f"the program ran longer than {self.timeout_s:g} s")

    def eval(self, node: ast.expr) -> Any:
        self.check_time()
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.names[node.id] if node.id in self.names else _CONSTANTS[node.id]
        if isinstance(node, ast.Attribute):  # math.pi
            return _CONSTANTS[node.attr]
        if isinstance(node, ast.BinOp):
            return self.binary(node.op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](_number(self.eval(node.operand)))
        if isinstance(node, ast.Compare):
            left = _number(self.eval(node.left))
            for op, child in zip(node.ops, node.comparators, strict=True):
                right = _number(self.eval(child))
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name == "solve":
                return self.solve(node)
            return _checked(_FUNCTIONS[name](*(self.eval(arg) for arg in node.args)))
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(element) for element in node.elts]
        first = _solve_first(node)
        if first is not None:
            return self.solve(first)
        raise AssertionError(f"unvalidated node {type(node).__name__}")  # the validator let it through

    def solve(self, node: ast.Call) -> Any:
        """A `solve(...)` call, by the symbolic layer: it computes the equation's constant parts with `eval`, and its
        root keeps to the interpreter's number limits like any other value."""
        return _checked(symbolic.solve(node, evaluate=self.eval, is_known=self.is_known, check_time=self.check_time))

    def is_known(self, name: str) -> bool:
        """Whether `name` has a value (assigned earlier, or a constant); inside solve() any other name is an unknown."""
        return name in self.names or name in _CONSTANTS

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        left, right = _number(left), _number(right)
        # a power has at least (bit_length - 1) * exponent bits: refuse before computing it
        if isinstance(op, ast.Pow) and isinstance(right, int) and isinstance(left, int | Fraction):
            size = max(abs(Fraction(left).numerator).bit_length(), Fraction(left).denominator.bit_length())
            if (size - 1) * abs(right) > MAX_INT_BITS:
                raise ToolError(f"exponent too large: the result would exceed {MAX_INT_BITS} bits")
        return _checked(_BINARY[type(op)](left, right))


def _number(value: Any) -> int | float | Fraction:
    if not isinstance(value, int | float | Fraction):
        raise ToolError("arithmetic and comparisons take numbers, not lists")
    return value


def _checked(value: Any) -> Any:
    if isinstance(value, complex):
        raise ToolError("the result is a complex number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"a number exceeds {MAX_INT_BITS} bits")
    if isinstance(value, Fraction) and max(abs(value.numerator), value.denominator).bit_length() > MAX_INT_BITS:
        raise ToolError(f"a number exceeds {MAX_INT_BITS} bits")
    return value
