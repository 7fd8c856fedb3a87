"""The symbolic layer of the calculator: `solve(...)` of an equation in a math program, bounded so that it stays
instant.

Inside `solve(...)` a name that was never assigned is an unknown. The equation is built into a sympy expression
node by node from the validated AST (a string never reaches sympy: `sympify` and `parse_expr` evaluate), the
constant parts entering as exact rationals, and the degree bound is checked before anything is expanded; the roots
come from real-root isolation (one polynomial) or `linsolve` (a linear system). sympy is imported on first use.

Imports point one way: `calculator` imports this module, never the reverse. The interpreter is what meets
`solve(...)` in a program, so it must name the solver; the solver needs only three things from the interpreter,
and the interpreter passes them down as callables (the value of a part without unknowns, whether a name has a value,
whether time is up): docs/architecture.md's "pass a callable down rather than import up". This module therefore
knows nothing of the program whitelist and can be driven by any evaluator:

    >>> import ast
    >>> call = ast.parse("solve(2*x + 3 - 11, x)", mode="eval").body
    >>> solve(call, evaluate=ast.literal_eval, is_known=lambda name: False, check_time=lambda: None)
    Fraction(4, 1)
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any, TypeGuard

from moe_system.errors import ToolError

MAX_DEGREE = 4  # solve(): polynomial equations up to quartics (closed-form root isolation stays instant)
MAX_UNKNOWNS = 3  # solve(): unknowns in one call (more than one only for a linear system)
MAX_COEFFICIENT_BITS = 160  # solve(): root isolation slows down sharply with huge coefficients (about 48 digits)
MAX_SOLVE_NODES = 300  # solve(): syntax nodes in one call, so that building the expression stays instant

_SYMBOLIC_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)  # what may combine unknowns inside solve()

Evaluate = Callable[[ast.expr], Any]  # the value of a part of the equation that holds no unknown


@functools.cache
def load_sympy() -> Any:
    """sympy, imported on first use: a second of start-up that plain arithmetic never pays."""
    import sympy

    return sympy


def solve(
    node: ast.Call, *, evaluate: Evaluate, is_known: Callable[[str], bool], check_time: Callable[[], None]
) -> Fraction | float:
    """The root of one validated `solve(...)` call, chosen by the rule of `calculator.safe_eval_program`: a Fraction
    when rational, else a float. `evaluate` computes a part of the equation that holds no unknown, `is_known` tells
    a name with a value from an unknown, `check_time` raises `ToolError` once the program's time is up. The caller
    checks the root against its own number limits."""
    return _Solver(evaluate, is_known, check_time).solve(node)


class _Solver:
    """One `solve(...)` call: builds sympy expressions from the validated AST node by node (constant parts are
    computed by the interpreter and enter sympy as exact rationals), checks the degree bound before anything is
    expanded, and finds the roots by real-root isolation (polynomials) or `linsolve` (linear systems)."""

    def __init__(self, evaluate: Evaluate, is_known: Callable[[str], bool], check_time: Callable[[], None]) -> None:
        self.sympy = load_sympy()
        self.evaluate = evaluate
        self.is_known = is_known
        self.check_time = check_time
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
            second = node.args[1]
            assert isinstance(second, ast.Name)  # the validator allows only a name here
            wanted = second.id
            if wanted not in self.unknowns:
                raise ToolError(f"line {node.lineno}: '{wanted}' is not an unknown of the equation")
        elif len(self.unknowns) == 1:
            wanted = next(iter(self.unknowns))
        else:
            raise ToolError(f"line {node.lineno}: name the unknown wanted: solve(..., {next(iter(self.unknowns))})")
        symbols = list(self.unknowns.values())
        self.check_time()
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
            return Fraction(int(value.p), int(value.q))
        result = complex(value.evalf(30))
        if abs(result.imag) > 1e-12 * max(1.0, abs(result.real)):
            raise ToolError(f"line {line}: the solution is not a real number")
        return result.real

    def equation(self, node: ast.expr) -> Any:
        if _is_eq(node):
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
        self.check_time()
        if not self.has_unknown(node):
            return self.constant(self.evaluate(node), node), (0, 0)
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
                exponent = self.evaluate(node.right) if not self.has_unknown(node.right) else None
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
        if _is_eq(node):
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
            (isinstance(n, ast.Name) and id(n) not in not_values and not self.is_known(n.id)) or _is_eq(n)
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


def _is_eq(node: ast.AST) -> TypeGuard[ast.Call]:
    """Whether `node` is a call of `Eq(...)`."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Eq"
