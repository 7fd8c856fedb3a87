"""The calculator tool: program-aided answers for math, evaluated by a whitelisted interpreter with a small
symbolic layer.

A small model slips on arithmetic far more often than on setting a problem up, so a math expert writes its
computation as a tiny ```python block; `math_tool` runs it with `safe_eval_program` and shows the answer so that
nothing the user reads contradicts the computed result: prose lines with free-text arithmetic are dropped, the
program is shown with the value of each computed line (`total = price * 2  # = 850`) and the final `Answer:` line
is the program's. `math_verdict` gives verified best-of-N (`tools/vote.py`) the same run as a `Verdict`.

`safe_eval_program` never hands the source to `eval`/`exec`, and never hands a string to sympy (`sympify` and
`parse_expr` evaluate): the AST is first checked against a small whitelist (assignments, arithmetic, comparisons,
numbers, a few math functions) and then walked by the interpreter below, with limits on integer size, exponents
and time. Equations are solved, not guessed: inside `solve(...)` a name that was never assigned is an unknown,
and the interpreter builds the sympy expression node by node itself.

    >>> safe_eval_program("apples = 12\\nanswer = apples * 3 / 4")
    9.0
    >>> safe_eval_program("answer = solve(2*x + 3 - 11, x)")
    4
    >>> safe_eval_program("answer = solve(Eq(side**2, 49))")  # the positive root
    7
"""

from __future__ import annotations

import ast
import functools
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
from moe_system.tools.verdict import Verdict

MAX_SOURCE_CHARS = 20_000
MAX_INT_BITS = 10_000  # about 3000 decimal digits: far beyond any answer, still instant to compute
MAX_ROUND_DIGITS = 100
MAX_DEGREE = 4  # solve(): polynomial equations up to quartics (closed-form root isolation stays instant)
MAX_UNKNOWNS = 3  # solve(): unknowns in one call (more than one only for a linear system)
MAX_COEFFICIENT_BITS = 160  # solve(): root isolation slows down sharply with huge coefficients (about 48 digits)
MAX_SOLVE_NODES = 300  # solve(): syntax nodes in one call, so that building the expression stays instant
KEY_DIGITS = 6  # math_verdict: results equal to this many decimals are the same result

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}  # fmt: skip
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}  # fmt: skip
_SYMBOLIC_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)  # what may combine unknowns inside solve()


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
    denominators) of degree at most `MAX_DEGREE`, with at most `MAX_UNKNOWNS` unknowns, coefficients of at most
    `MAX_COEFFICIENT_BITS` bits and `MAX_SOLVE_NODES` syntax nodes. The root returned is real and, among the real
    roots that do not zero a denominator, the smallest positive one, else the largest (0 or the negative one nearest
    zero); an exact fraction stays exact until the end. Anything else raises `ToolError` before anything runs."""
    return run_program(source, timeout_s).value


def run_program(source: str, timeout_s: float = 1.0) -> Run:
    """`safe_eval_program` that also returns what each assignment line computed (for `math_tool`'s display)."""
    if len(source) > MAX_SOURCE_CHARS:
        raise ToolError(f"the program is longer than {MAX_SOURCE_CHARS} characters")
    try:
        tree = ast.parse(source, mode="exec")
        _Validator().program(tree)
    except SyntaxError as err:
        where = f" on line {err.lineno}" if err.lineno else ""
        raise ToolError(f"syntax error{where}: {err.msg}") from err
    except (RecursionError, MemoryError) as err:
        raise ToolError("the program is nested too deeply") from err
    except ValueError as err:  # e.g. null bytes in the source
        raise ToolError(f"cannot parse the program: {one_line(err)}") from err
    if any(isinstance(node, ast.Name) and node.id == "solve" for node in ast.walk(tree)):
        _sympy()  # a second's import on first use, not counted against the program's time
    interpreter = _Interpreter(time.monotonic() + timeout_s, timeout_s)
    value = _plain(interpreter.run(tree))
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int | float):
        raise ToolError("the answer is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the answer is not a finite number")
    return Run(value, interpreter.assigned)


def _plain(value: Any) -> Any:
    """An exact fraction as an int when whole, else a float; anything else unchanged."""
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
                return _Solver(self).solve(node)
            return _checked(_FUNCTIONS[name](*(self.eval(arg) for arg in node.args)))
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(element) for element in node.elts]
        first = _solve_first(node)
        if first is not None:
            return _Solver(self).solve(first)
        raise AssertionError(f"unvalidated node {type(node).__name__}")  # the validator let it through

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


# ---------------------------------------------------------------------------------------------------- solve()


@functools.cache
def _sympy() -> Any:
    """sympy, imported on first use: a second of start-up that plain arithmetic never pays."""
    import sympy

    return sympy


class _Solver:
    """One `solve(...)` call: builds sympy expressions from the validated AST node by node (constant parts are
    computed by the interpreter and enter sympy as exact rationals), checks the degree bound before anything is
    expanded, and finds the roots by real-root isolation (polynomials) or `linsolve` (linear systems)."""

    def __init__(self, interpreter: _Interpreter) -> None:
        self.sympy = _sympy()
        self.interpreter = interpreter
        self.unknowns: dict[str, Any] = {}

    def solve(self, node: ast.Call) -> Any:
        sympy = self.sympy
        if sum(1 for _ in ast.walk(node)) > MAX_SOLVE_NODES:
            raise ToolError(f"line {node.lineno}: the equation is too long for solve()")
        first = node.args[0]
        equations = [self.equation(e) for e in (first.elts if isinstance(first, ast.List | ast.Tuple) else [first])]
        if not self.unknowns:
            raise ToolError(f"line {node.lineno}: solve() needs an unknown (a name not assigned before)")
        if len(node.args) == 2:
            wanted = _name(node.args[1])
            if wanted not in self.unknowns:
                raise ToolError(f"line {node.lineno}: '{wanted}' is not an unknown of the equation")
        elif len(self.unknowns) == 1:
            wanted = next(iter(self.unknowns))
        else:
            raise ToolError(f"line {node.lineno}: name the unknown wanted: solve(..., {next(iter(self.unknowns))})")
        symbols = list(self.unknowns.values())
        self.interpreter.check_time()
        if len(equations) == 1 and len(symbols) == 1:
            return self.polynomial_root(equations[0], symbols[0], node.lineno)
        numerators = [sympy.together(e).as_numer_denom()[0] for e in equations]
        if any(self.polynomial(n, symbols, node.lineno).total_degree() > 1 for n in numerators):
            raise ToolError(f"line {node.lineno}: a system of equations must be linear; substitute to keep one "
                            "unknown")
        solutions = list(sympy.linsolve(numerators, symbols))
        if len(solutions) != 1:
            raise ToolError(f"line {node.lineno}: the system has no solution")
        value = solutions[0][list(self.unknowns).index(wanted)]
        if value.free_symbols:
            raise ToolError(f"line {node.lineno}: the system has no single solution; add an equation")
        return self.number(value, node.lineno)

    def polynomial_root(self, equation: Any, symbol: Any, line: int) -> Any:
        sympy = self.sympy
        numerator, denominator = sympy.together(equation).as_numer_denom()
        poly = self.polynomial(numerator, [symbol], line)
        if poly.degree() < 1:
            raise ToolError(f"line {line}: the equation has {'every number' if poly.is_zero else 'no number'} "
                            "as a solution")
        if poly.degree() > MAX_DEGREE:
            raise ToolError(f"line {line}: solve() takes equations up to degree {MAX_DEGREE}")
        roots = [r for r in poly.real_roots() if denominator.subs(symbol, r) != 0]
        if not roots:
            raise ToolError(f"line {line}: the equation has no real solution")
        positive = [r for r in roots if r > 0]
        return self.number(min(positive) if positive else max(roots), line)

    def polynomial(self, expr: Any, symbols: list[Any], line: int) -> Any:
        """`expr` as a polynomial with integer coefficients of at most `MAX_COEFFICIENT_BITS` bits."""
        try:
            poly = self.sympy.Poly(expr, *symbols).clear_denoms()[1]
        except self.sympy.PolynomialError as err:
            raise ToolError(f"line {line}: solve() takes polynomial equations") from err
        if not poly.domain.is_ZZ or any(int(c).bit_length() > MAX_COEFFICIENT_BITS for c in poly.coeffs()):
            raise ToolError(f"line {line}: the numbers in the equation are too large or not exact for solve()")
        return poly

    def number(self, value: Any, line: int) -> Any:
        """A root as a Fraction when rational, else a float."""
        if value.is_Rational:
            return _checked(Fraction(int(value.p), int(value.q)))
        result = complex(value.evalf(30))
        if abs(result.imag) > 1e-12 * max(1.0, abs(result.real)):
            raise ToolError(f"line {line}: the solution is not a real number")
        return result.real

    def equation(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Call) and _name(node.func) == "Eq":
            left, right = (self.expression(arg) for arg in node.args)
            return left - right
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            return self.expression(node.left) - self.expression(node.comparators[0])  # `a == b` read as Eq(a, b)
        return self.expression(node)

    def expression(self, node: ast.expr) -> Any:
        """The sympy expression of `node`, refusing a degree above the bound before expanding anything."""
        expr, (top, bottom) = self.build(node)
        if max(top, bottom) > 2 * MAX_DEGREE:
            raise ToolError(f"line {node.lineno}: solve() takes equations up to degree {MAX_DEGREE}")
        return expr

    def build(self, node: ast.expr) -> tuple[Any, tuple[int, int]]:
        """(expression, (numerator degree bound, denominator degree bound))."""
        self.interpreter.check_time()
        if not self.has_unknown(node):
            return self.constant(self.interpreter.eval(node), node), (0, 0)
        if isinstance(node, ast.Name):
            if node.id not in self.unknowns:
                if len(self.unknowns) >= MAX_UNKNOWNS:
                    raise ToolError(f"line {node.lineno}: solve() takes at most {MAX_UNKNOWNS} unknowns")
                self.unknowns[node.id] = self.sympy.Symbol(node.id)
            return self.unknowns[node.id], (1, 0)
        if isinstance(node, ast.UnaryOp):
            operand, degree = self.build(node.operand)
            return (-operand if isinstance(node.op, ast.USub) else operand), degree
        if isinstance(node, ast.BinOp) and isinstance(node.op, _SYMBOLIC_BINARY):
            left, (lt, lb) = self.build(node.left)
            if isinstance(node.op, ast.Pow):
                exponent = self.interpreter.eval(node.right) if not self.has_unknown(node.right) else None
                n = MAX_DEGREE + 1  # refused unless the exponent is a small whole number
                if isinstance(exponent, int | float | Fraction) and math.isfinite(exponent) and exponent % 1 == 0:
                    n = int(exponent)
                if abs(n) > MAX_DEGREE:
                    raise ToolError(f"line {node.lineno}: an unknown can only be raised to a whole power up to "
                                    f"{MAX_DEGREE}")
                degree = (lt * n, lb * n) if n >= 0 else (lb * -n, lt * -n)
                return self.bounded(left**n, degree, node)
            right, (rt, rb) = self.build(node.right)
            if isinstance(node.op, ast.Mult):
                return self.bounded(left * right, (lt + rt, lb + rb), node)
            if isinstance(node.op, ast.Div):
                return self.bounded(left / right, (lt + rb, lb + rt), node)
            combined = left + right if isinstance(node.op, ast.Add) else left - right
            return self.bounded(combined, (max(lt + rb, rt + lb), lb + rb), node)
        if isinstance(node, ast.Call) and _name(node.func) == "Eq":
            raise ToolError(f"line {node.lineno}: Eq(...) is a whole equation, not part of one")
        raise ToolError(f"line {node.lineno}: inside solve(), unknowns can only be combined with + - * / and whole "
                        "powers")

    def bounded(self, expr: Any, degree: tuple[int, int], node: ast.expr) -> tuple[Any, tuple[int, int]]:
        if max(degree) > 2 * MAX_DEGREE:
            raise ToolError(f"line {node.lineno}: solve() takes equations up to degree {MAX_DEGREE}")
        return expr, degree

    def has_unknown(self, node: ast.expr) -> bool:
        """Whether `node` holds an unknown (or an `Eq`), so that sympy, not the interpreter, must take it."""
        not_values = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
        not_values |= {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)}  # `math` of math.pi
        return any(
            (isinstance(n, ast.Name) and id(n) not in not_values and n.id not in self.interpreter.names
             and n.id not in _CONSTANTS)
            or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "Eq")
            for n in ast.walk(node)
        )  # fmt: skip

    def constant(self, value: Any, node: ast.expr) -> Any:
        """A number the interpreter computed, as an exact sympy rational."""
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ToolError(f"line {node.lineno}: a number in the equation is not finite")
            value = Fraction(repr(value))  # the decimal as written, exactly: 0.15 -> 3/20
        if isinstance(value, int | Fraction):
            return self.sympy.Rational(value.numerator, value.denominator)
        raise ToolError(f"line {node.lineno}: equations take numbers, not lists")


# ---------------------------------------------------------------------------------------------------- display


def format_number(value: float) -> str:
    """Integers without `.0`, other numbers with up to 6 decimals (tiny ones in 6 significant digits)."""
    if isinstance(value, Fraction):
        value = _plain(value)
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return f"{value:.6g}" if text in {"0", "-0"} else text


def result_key(value: float) -> float | int:
    """The value normalised so that equal results compare equal: rounded to `KEY_DIGITS` decimals, an int when
    whole (-0.0 is 0)."""
    rounded = round(float(value), KEY_DIGITS)
    return int(rounded) if rounded.is_integer() else rounded


_PYTHON_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\r?\n(.*?)```", re.S | re.I)
_ANSWER_LINE = re.compile(r"^[ \t*#>_]*(?:final\s+|итоговый\s+)?(answer|ответ)\b[^:\n]{0,30}:[^\n]*", re.I | re.M)
_RUSSIAN_MARKER = re.compile(r"ответ\s*:", re.I)
# Free-text arithmetic: two numbers joined by an operator ("20500 × 2", "425+10", "12 : 4"), or "= 425" / "≈ 425".
_NUM = r"[$€£₽]?\d[\d\s,.]*%?"
# A bare "3/5" or "5-7" is a fraction or a range, not a computation.
_ARITHMETIC = re.compile(
    r"\d[%)]?\s*(?:[+−×*÷·^]|\\times|\\cdot|\\div)\s*\(?\s*[$€£₽]?\d"
    r"|\d[%)]?(?:\s+[-/:x×]\s*|\s*[-/]\s+)\(?[$€£₽]?\d"
    rf"|[=≈]\s*\(?\s*-?{_NUM}",
)
# A computed result stated as a label and a number: "Total: 21150", "Итого: 1 250,5 руб.", "So the answer is 8."
_LABELLED = re.compile(
    rf"^[\s*#>_-]*(?:[^\W\d][\w'’-]*\s+){{0,3}}[^\W\d][\w'’-]*\s*:\s*-?{_NUM}\s*[^\W\d]{{0,6}}\.?\s*$"
    r"|\b(?:answer|result|ответ|результат)\s+(?:is|was|will be|равен|—|-)\s*-?[$€£₽]?\d",
    re.I,
)


_DIGIT = re.compile(r"\d")


def carries_arithmetic(line: str) -> bool:
    """Whether a free-text line states arithmetic or a computed number (and could contradict the program)."""
    return bool(_ARITHMETIC.search(line) or _LABELLED.search(line))


def _annotated(program: str, run: Run) -> str:
    """The program with `# = value` after every computed assignment; comments that state arithmetic are dropped
    wherever they stand (they may be wrong), literal assignments (`price = 425`) are left as written."""
    tree = ast.parse(program)
    shown: dict[int, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AugAssign) and node.end_lineno is not None:
            value = _plain(run.assigned.get(node.end_lineno))
            right = node.value.operand if isinstance(node.value, ast.UnaryOp) else node.value
            literal = isinstance(node, ast.Assign) and isinstance(right, ast.Constant | ast.Name)
            if isinstance(value, int | float) and not isinstance(value, bool) and not literal:
                shown[node.end_lineno] = format_number(value)
    cut: dict[int, int] = {}  # line -> the column of a comment to drop (one that states arithmetic, or is replaced)
    try:
        for token in tokenize.generate_tokens(io.StringIO(program).readline):
            if token.type == tokenize.COMMENT and (carries_arithmetic(token.string) or token.start[0] in shown):
                cut[token.start[0]] = token.start[1]
    except (tokenize.TokenError, SyntaxError):  # parsed above, so not expected: then comments stay as written
        pass
    out: list[str] = []
    for number, line in enumerate(program.split("\n"), start=1):
        code = line[: cut[number]].rstrip() if number in cut else line.rstrip()
        if number in cut and not code.strip():
            continue  # a comment line that stated arithmetic
        out.append(f"{code}  # = {shown[number]}" if number in shown else code)
    return "\n".join(out)


def _prose(text: str, after_program: bool = False) -> str:
    """Free text without the lines that carry arithmetic or an answer line (after the program, without any line
    that states a number: a conclusion there restates a result, "So the change is $5."); blank runs collapsed."""
    kept = [
        line for line in text.split("\n")
        if not carries_arithmetic(line) and not _ANSWER_LINE.match(line) and not (after_program and _DIGIT.search(line))
    ]  # fmt: skip
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept))


def _show(answer_text: str) -> tuple[str, float | int | None, str]:
    """(the text the user sees, the computed value or None, why there is none)."""
    block = _PYTHON_BLOCK.search(answer_text)
    if block is None:
        return answer_text, None, "the answer has no ```python block"
    try:
        run = run_program(block.group(1))
    except ToolError as err:
        return answer_text, None, str(err)
    value = format_number(run.value)
    head, tail = answer_text[: block.start()], answer_text[block.end() :]
    lines = list(_ANSWER_LINE.finditer(tail))
    if lines:
        marker = "Ответ" if lines[-1].group(1).lower() == "ответ" else "Answer"
        after = tail[lines[-1].end() :]
        before = tail[: lines[-1].start()]
    else:
        marker = "Ответ" if _RUSSIAN_MARKER.search(answer_text) else "Answer"
        after, before = "", tail
    program = _annotated(block.group(1).rstrip("\n"), run)
    fence = answer_text[block.start() : block.start(1)]
    head, before, after = _prose(head), _prose(before, after_program=True), _prose(after, after_program=True)
    if not lines:
        before = before.rstrip() + "\n"
    shown = f"{head}{fence}{program}\n```{before}{marker}: {value}{after}"
    return shown, run.value, ""


def math_tool(answer_text: str) -> str:
    """Run the first ```python block of a math answer and show the answer so that it agrees with itself.

    Prose lines that carry arithmetic ("20500 × 2 / 100 = 425", "Total: 21150") or an answer of their own are
    dropped, and so are the lines after the program that state a number (a conclusion restating a result); the
    program is shown with the value each computed line assigned (`total = price * 2  # = 850`), and
    `Answer: <value>` from the program is the final answer line: an answer line after the block is replaced,
    otherwise one is appended; `Ответ:` is kept when the text uses it. Text without a block, or whose program
    `safe_eval_program` refuses, comes back unchanged."""
    return _show(answer_text)[0]


def math_verdict(answer: str, request: str) -> Verdict:
    """The calculator's `Verdict` on one candidate answer (`tools.verdict.Verify`): ok when its program runs;
    `key` is the computed value normalised by `result_key`; `text` is what `math_tool` shows. The request is not
    needed: the program alone states the computation."""
    del request
    text, value, reason = _show(answer)
    if value is None:
        return Verdict(ok=False, key=None, text=text, reason=reason)
    return Verdict(ok=True, key=result_key(value), text=text)
