"""What a math answer shows the user, and what verified best-of-N votes on: the calculator's result, never
contradicted by the text around it.

A math expert writes its computation as a tiny ```python block (`tools/calculator.py` runs it). `math_tool` shows
the answer so that nothing the user reads contradicts the computed result: prose lines with free-text arithmetic
are dropped (`carries_arithmetic`), the program is shown with the value of each computed line
(`total = price * 2  # = 850`, numbers by `format_number`) and the final `Answer:` line is the program's.
`math_verdict` gives verified best-of-N (`tools/vote.py`) the same run as a `Verdict` whose key is `result_key`.
A sum stated in prose that the program contradicts is dropped:

    >>> print(math_tool("Twice: 425 × 2 = 800.\\n```python\\nprice = 425\\nanswer = price * 2\\n```\\nAnswer: 800"))
    ```python
    price = 425
    answer = price * 2  # = 850
    ```
    Answer: 850
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from fractions import Fraction

from moe_system.errors import ToolError
from moe_system.tools.calculator import Run, plain_number, run_program
from moe_system.tools.verdict import Verdict

KEY_DIGITS = 6  # math_verdict: results equal to this many decimals are the same result


def format_number(value: float) -> str:
    """Integers without `.0`, other numbers with up to 6 decimals (tiny ones in 6 significant digits)."""
    if isinstance(value, Fraction):
        value = plain_number(value)
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
            value = plain_number(run.assigned.get(node.end_lineno))
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
    head, tail = answer_text[: block.start()], answer_text[block.end() :]
    lines = list(_ANSWER_LINE.finditer(tail))
    if lines:
        marker = "Ответ" if lines[-1].group(1).lower() == "ответ" else "Answer"
        after = tail[lines[-1].end() :]
        before = tail[: lines[-1].start()]
    else:
        marker = "Ответ" if _RUSSIAN_MARKER.search(answer_text) else "Answer"
        after, before = "", tail
    fence = answer_text[block.start() : block.start(1)]
    head, before, after = _prose(head), _prose(before, after_program=True), _prose(after, after_program=True)
    if not lines:
        before = before.rstrip() + "\n"
    try:
        run = run_program(block.group(1))
    except ToolError as err:
        stated = lines[-1].group(0).split(":", 1)[1].strip() if lines else ""
        failed = f"the program failed: {err}"
        result = f"{stated} (not checked: {failed})" if stated else f"not computed ({failed})"
        return f"{head}{answer_text[block.start() : block.end()]}{before}{marker}: {result}{after}", None, str(err)
    program = _annotated(block.group(1).rstrip("\n"), run)
    return f"{head}{fence}{program}\n```{before}{marker}: {format_number(run.value)}{after}", run.value, ""


def math_tool(answer_text: str) -> str:
    """Run the first ```python block of a math answer and show the answer so that it agrees with itself.

    Prose lines that carry arithmetic ("20500 × 2 / 100 = 425", "Total: 21150") or an answer of their own are
    dropped, and so are the lines after the program that state a number (a conclusion restating a result); the
    program is shown with the value each computed line assigned (`total = price * 2  # = 850`), and
    `Answer: <value>` from the program is the final answer line: an answer line after the block is replaced,
    otherwise one is appended; `Ответ:` is kept when the text uses it. When the program fails, its prose
    arithmetic is dropped all the same and the answer line says so ("Answer: 5.1 (not checked: the program failed:
    ...)"): nothing computed stands behind it. Text without a block comes back unchanged."""
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
