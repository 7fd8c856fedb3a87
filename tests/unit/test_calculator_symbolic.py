"""The calculator's symbolic layer (`solve`, `Eq`, `Rational`), `math_verdict`, and a display that never
contradicts the computed answer (also for the free-text arithmetic of experts trained before the change).

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q tests/unit/test_calculator_symbolic.py
"""

from __future__ import annotations

import time

import pytest

from moe_system.errors import ToolError
from moe_system.tools.calculator import grouped_numbers, safe_eval_program
from moe_system.tools.math_answer import carries_arithmetic, math_tool, math_verdict

# ---- solve, Eq, Rational


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("answer = solve(2*x + 3 - 11, x)", 4),
        ("answer = solve(Eq(2*n + 7, 31))", 12),  # "a number doubled plus 7 is 31"
        ("answer = solve(2*x + 3 == 11)", 4),  # `==` reads as Eq
        ("area = 49\nanswer = solve(Eq(side**2, area))", 7),  # the positive root of +-7
        ("answer = solve(Eq(w * (w + 3), 40))", 5),  # w = 5 or -8
        ("answer = solve(Eq(a * (13 - a), 40))", 5),  # 5 and 8 both positive: the smallest
        ("answer = solve(Eq(1/3 + 1/6, 1/t))", 2),  # floats enter sympy as the exact decimals written
        ("answer = solve(Eq(Rational(1, 3) + Rational(1, 6), 1/t))", 2),
        ("answer = solve(Eq(price * 1.15, 230))", 200),
        ("answer = solve([Eq(a + b, 10), Eq(a - b, 2)], b)", 4),  # a linear system: name the unknown
        ("answer = solve(x**2 - 2)", 2**0.5),
        ("answer = solve(x**2 - 49, x)[0]", 7),  # sympy's list habit reads as the chosen root
        ("answer = solve(Eq(x + 5, 2))", -3),
        ("answer = Rational(3, 5) * 40", 24),
        ("answer = Rational(2, 3) * 10", 20 / 3),
    ],
)
def test_solve_and_rational(source: str, expected: float) -> None:
    value = safe_eval_program(source)
    assert value == pytest.approx(expected, rel=1e-12)
    assert type(value) is (int if float(expected).is_integer() else float)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("answer = solve('2*x - 4')", "strings are not allowed"),  # never a string to sympy
        ("answer = solve(x - 1, 'x')", "the unknown's name"),
        ("answer = solve(sympify('x'))", "calling 'sympify' is not allowed"),
        ("answer = solve(x.subs(1))", "attributes other than math"),
        ("e = Eq(x, 1)", "calling 'Eq' is not allowed"),
        ("answer = solve(solve(x - 1) - y)", "cannot be nested"),
        ("answer = solve(x**2 + 1)", "no real solution"),
        ("answer = solve(x + y)", "name the unknown wanted"),
        ("answer = solve(Eq(3, 3))", "needs an unknown"),
        ("answer = solve(sqrt(x) - 3)", "unknowns can only be combined"),
        ("answer = solve([Eq(a * b, 10), Eq(a + b, 7)], a)", "must be linear"),
        ("answer = solve(x**x - 1)", "whole power up to 4"),
        ("answer = solve(x**(10**9) - 1)", "whole power up to 4"),
        ("answer = solve(x**5 - 1)", "whole power up to 4"),
        ("answer = solve((x + 1)**4 * (x + 2)**4 - 1)", "up to degree 4"),
        ("answer = solve(x*x*x*x*x*x*x*x*x*x - 1)", "up to degree 4"),
        ("answer = solve(" + " + ".join(["(x + 1)"] * 200) + " - 5)", "too long for solve()"),
        ("answer = solve(x**4 + 10**3000 * x - 1)", "too large"),  # root isolation would take minutes
        ("answer = Rational(0.5, 2)", "whole numbers"),
        ("answer = solve(x - 1)[1]", "subscripts are not allowed"),
        ("sum = solve(x - 1)", "built-in name"),
    ],
)
def test_solve_refuses_and_stays_bounded(source: str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError) as info:
        safe_eval_program(source)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)
    assert time.monotonic() - started < 2.0


# ---- math_verdict


def test_math_verdict_keys_equal_results_equally() -> None:
    answers = [
        "```python\nanswer = 6 * 7\n```\nAnswer: 41",
        "```python\nanswer = 84 / 2\n```",
        "```python\nx = solve(Eq(2 * x, 84))\nanswer = x\n```",
        "```python\nanswer = 41.9999999999\n```",
    ]
    verdicts = [math_verdict(answer, "What is 6 times 7?") for answer in answers]
    assert all(v.ok and v.reason == "" for v in verdicts)
    assert {v.key for v in verdicts} == {42} and all(type(v.key) is int for v in verdicts)
    assert verdicts[0].text.endswith("Answer: 42")
    assert math_verdict("```python\nanswer = 0.1 + 0.2\n```", "").key == 0.3
    assert math_verdict("```python\nanswer = -0.0\n```", "").key == 0


def test_math_verdict_fails_without_a_running_program() -> None:
    for answer, reason in [("Answer: 42", "no ```python block"), ("```python\nimport os\n```", "imports")]:
        verdict = math_verdict(answer, "")
        assert not verdict.ok and verdict.key is None and verdict.text == math_tool(answer) and reason in verdict.reason


# ---- the display agrees with itself


OLD_STYLE = """The salary was 20500 and it rose by 8%.
Increase: 20500 × 2 / 100 = 425.
Total: 21150

```python
change = 20500 * 8 / 100  # 20500 * 2 / 100 = 425
answer = 20500 + change
```

So the answer is 21150.
Answer: 21150"""


def test_an_old_style_answer_is_shown_without_the_contradicting_arithmetic() -> None:
    shown = math_tool(OLD_STYLE)
    assert "425" not in shown and "21150" not in shown
    assert "The salary was 20500 and it rose by 8%." in shown  # prose without arithmetic stays
    assert "change = 20500 * 8 / 100  # = 1640\nanswer = 20500 + change  # = 22140\n```" in shown
    assert shown.endswith("Answer: 22140")


def test_the_program_is_annotated_and_russian_prose_is_filtered() -> None:
    text = ("Найдём цену со скидкой.\nСкидка: 1500 * 20 / 100 = 300 руб.\nИтого: 1 250,5 руб.\n"
            "```python\nprice = 1500\ndiscount = price * 20 / 100\nanswer = price - discount\n```\nОтвет: 1250")
    shown = math_tool(text)
    assert shown == ("Найдём цену со скидкой.\n```python\nprice = 1500\ndiscount = price * 20 / 100  # = 300\n"
                     "answer = price - discount  # = 1200\n```\nОтвет: 1200")


@pytest.mark.parametrize(
    ("line", "arithmetic"),
    [
        ("20500 × 2 / 100 = 425", True), ("Total: 21150", True), ("Итого: 1 250,5 руб.", True),
        ("12 : 4 is 3", True), ("= $36", True), ("So the answer is 8.", True), ("3 \\times 4", True),
        ("She read 3/5 of the book.", False), ("The car costs 20500 and the price rose by 2%.", False),
        ("Find the sale price.", False), ("Use 5-7 people.", False),
    ],
)
def test_carries_arithmetic(line: str, arithmetic: bool) -> None:
    assert carries_arithmetic(line) is arithmetic


def test_a_conclusion_after_the_program_cannot_restate_another_number() -> None:
    text = ("Add the prices.\n```python\nanswer = 3 * 4 + 2\n```\nSo he pays 15 dollars in total.\nThat is all."
            "\nAnswer: 15")
    assert math_tool(text) == "Add the prices.\n```python\nanswer = 3 * 4 + 2  # = 14\n```\nThat is all.\nAnswer: 14"


def test_wrong_comments_inside_the_program_are_dropped() -> None:
    program = ("# 3 * 4 = 13\nprice = 3  # each\ntotal = (price *  # 3 * 4 = 13\n         4)  # total cost\n"
               "answer = total")
    shown = math_tool(f"```python\n{program}\n```")
    assert shown == ("```python\nprice = 3  # each\ntotal = (price *\n         4)  # = 12\nanswer = total\n```\n"
                     "Answer: 12")


def test_an_answer_whose_program_fails_drops_its_prose_arithmetic_and_says_its_answer_is_unchecked() -> None:
    text = "Increase: 20500 × 2 / 100 = 425.\nDivide it.\n```python\nanswer = 1 / 0\n```\nAnswer: 425"
    assert math_tool(text) == ("Divide it.\n```python\nanswer = 1 / 0\n```\n"
                               "Answer: 425 (not checked: the program failed: division by zero)")
    verdict = math_verdict(text, "")
    assert not verdict.ok and verdict.text == math_tool(text) and verdict.reason == "division by zero"
    assert math_tool("```python\nx = 2\n```\nОтвет:").startswith("```python\nx = 2\n```\nОтвет: not computed (")
    assert math_tool("Just prose: 2 + 2 = 4.") == "Just prose: 2 + 2 = 4."  # no program: nothing to check against


@pytest.mark.parametrize(
    ("program", "value"),
    [
        ("answer = 1,000 + 5", 1005),  # digit groups copied from "$1,000"
        ("x = 1,000,000.5 * 2\nanswer = x", 2000001),
        ("answer = 45 000 / (2 + 3 + 4)", 5000),  # "45 000 рублей"
        ("answer = 2,5 * 2", 5),  # a decimal comma: "2,5 кг"
        ("answer = (1,250 - 250) * 2  # 1,000 * 2", 2000),
        ("answer = max(3,5)", 5),  # a call's arguments stay arguments
        ("answer = round(2,5)", 2),
    ],
)
def test_numbers_written_as_people_write_them_are_numbers(program: str, value: float) -> None:
    assert safe_eval_program(program) == value


def test_grouping_keeps_line_numbers_and_leaves_broken_programs_to_the_parser() -> None:
    assert grouped_numbers("a = 1,000\n\nb = a *  2 500") == "a = 1000\n\nb = a *  2500"
    assert grouped_numbers("a = (1,") == "a = (1,"
    shown = math_tool("```python\nprice = 1,200\nanswer = price * 2\n```")
    assert "answer = price * 2  # = 2400" in shown and shown.endswith("Answer: 2400")
