"""Tools experts use to finish or check their answers: a calculator for math, a compile check for SQL.

Program-aided answering: a small model slips on arithmetic far more often than on setting a problem up,
so a math expert may write its computation as a tiny ```python block; `math_tool` runs it with
`safe_eval_program` and writes the result as the final `Answer:` line. `sql_tool` / `check_sql` try SQL
candidates on an empty database built from the schema the model was shown and keep the first one that
compiles and runs. An expert's manifest lists the tools its answers pass through (`"tools": ["calculator"]`,
names from `TOOLS`); the SDK applies them to the final answer (`sql_check_answer` resamples with the
expert's own model when its query does not run).

`safe_eval_program` never hands the source to `eval`/`exec`: the AST is first checked against a small
whitelist (assignments, arithmetic, comparisons, numbers, a few math functions) and then walked by the
interpreter below, with limits on integer size, exponents and time. SQL runs read-only: one SELECT/WITH
statement, an authorizer that denies every write, ATTACH and PRAGMA, and a progress handler that aborts
it after a time limit. `run_select` is shared with the SQL scorer.

    >>> safe_eval_program("apples = 12\\nanswer = apples * 3 / 4")
    9.0
    >>> check_sql("SELECT nme FROM users", "users(id, name)")
    'the query fails: no such column: nme'
"""

from __future__ import annotations

import ast
import math
import operator
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from typing import Any

from moe_system.errors import MoEError, one_line


class ToolError(MoEError):
    """A tool refused its input or failed on it; the message says why."""


# ---- calculator: a whitelisted arithmetic interpreter

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


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": _round, "min": min, "max": max, "sum": sum, "len": len, "int": int, "float": float,
    "sqrt": math.sqrt, "floor": math.floor, "ceil": math.ceil,
}  # fmt: skip
_CONSTANTS = {"pi": math.pi}
_MATH_NAMES = {"sqrt", "floor", "ceil", "pi"}  # reachable both as `math.X` and as a bare name
_RESERVED = {*_FUNCTIONS, *_CONSTANTS, "math", "print"}  # names a program may not assign

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


def safe_eval_program(source: str, timeout_s: float = 1.0) -> float | int:
    """Run a tiny arithmetic program and return its `answer` (or, without one, its last expression).

    Allowed: assignments to plain names (`x = ...`, `x += ...`), numbers, names assigned earlier, + - * / // %
    **, unary minus, comparisons, parentheses, lists (for sum, min, max, len), calls of abs, round, min, max,
    sum, len, int, float, sqrt, floor, ceil (also as math.sqrt, ...) and the constant pi / math.pi. `import math` and
    `from math import sqrt` are accepted as no-ops, and `print(x)` as a statement counts as the expression x,
    because small models write both out of habit. Anything else raises `ToolError` before anything runs."""
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
    value = _Interpreter(time.monotonic() + timeout_s, timeout_s).run(tree)
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int | float):
        raise ToolError("the answer is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the answer is not a finite number")
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
            if node.id in _FUNCTIONS:
                raise ToolError(f"line {node.lineno}: '{node.id}' can only be called")
            if node.id not in self.assigned and node.id not in _CONSTANTS:
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
        else:
            raise _rejected(node)

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if _math_attribute(func) not in _FUNCTIONS:
                raise _rejected(func)
        elif not isinstance(func, ast.Name) or func.id not in _FUNCTIONS:
            shown = func.id if isinstance(func, ast.Name) else type(func).__name__
            raise ToolError(f"line {node.lineno}: calling '{shown}' is not allowed (allowed: {', '.join(_FUNCTIONS)})")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise ToolError(f"line {node.lineno}: only positional arguments are allowed")
        for arg in node.args:
            self.expression(arg)


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
                elif isinstance(node, ast.AugAssign):
                    name = _name(node.target)
                    self.names[name] = self.binary(node.op, self.names[name], self.eval(node.value))
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

    def eval(self, node: ast.expr) -> Any:
        if time.monotonic() > self.deadline:
            raise ToolError(f"the program ran longer than {self.timeout_s:g} s")
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
            return _checked(_FUNCTIONS[_name(node.func)](*(self.eval(arg) for arg in node.args)))
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(element) for element in node.elts]
        raise AssertionError(f"unvalidated node {type(node).__name__}")  # the validator let it through

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        left, right = _number(left), _number(right)
        # an int power has at least (bit_length - 1) * exponent bits: refuse before computing it
        integers = isinstance(left, int) and isinstance(right, int)
        if isinstance(op, ast.Pow) and integers and right > 0 and (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
            raise ToolError(f"exponent too large: the result would exceed {MAX_INT_BITS} bits")
        return _checked(_BINARY[type(op)](left, right))


def _number(value: Any) -> int | float:
    if not isinstance(value, int | float):
        raise ToolError("arithmetic and comparisons take numbers, not lists")
    return value


def _checked(value: Any) -> Any:
    if isinstance(value, complex):
        raise ToolError("the result is a complex number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"a number exceeds {MAX_INT_BITS} bits")
    return value


def format_number(value: float) -> str:
    """Integers without `.0`, other numbers with up to 6 decimals (tiny ones in 6 significant digits)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return f"{value:.6g}" if text in {"0", "-0"} else text


_PYTHON_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\r?\n(.*?)```", re.S | re.I)
_ANSWER_LINE = re.compile(r"^[ \t*#>_]*(?:final\s+|итоговый\s+)?(answer|ответ)\b[^:\n]{0,30}:[^\n]*", re.I | re.M)
_RUSSIAN_MARKER = re.compile(r"ответ\s*:", re.I)


def math_tool(answer_text: str) -> str:
    """Run the first ```python block of a math answer and make `Answer: <value>` its final answer line.

    An answer line after the block is replaced, otherwise one is appended; `Ответ:` is kept when the text
    uses it. Text without a block, or whose program `safe_eval_program` refuses, comes back unchanged."""
    block = _PYTHON_BLOCK.search(answer_text)
    if block is None:
        return answer_text
    try:
        value = format_number(safe_eval_program(block.group(1)))
    except ToolError:
        return answer_text
    head, tail = answer_text[: block.end()], answer_text[block.end() :]
    lines = list(_ANSWER_LINE.finditer(tail))
    if lines:
        last = lines[-1]
        marker = "Ответ" if last.group(1).lower() == "ответ" else "Answer"
        return f"{head}{tail[: last.start()]}{marker}: {value}{tail[last.end() :]}"
    marker = "Ответ" if _RUSSIAN_MARKER.search(answer_text) else "Answer"
    return f"{answer_text.rstrip()}\n{marker}: {value}"


# ---- SQL: read-only execution, schema databases, the compile check

SQL_TIMEOUT_S = 2.0
MAX_ROWS = 100_000
MAX_VALUE_BYTES = 10_000_000  # the longest string or blob a query may build (randomblob(1e12) and the like)
_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)", re.S)
_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z]*)")
_TABLE_LINE = re.compile(r"^\s*(?:[-*]\s+)?[\"`\[]?([A-Za-z_][\w$]*)[\"`\]]?\s*\((.*)\)\s*;?\s*$")
_COLUMN_NAME = re.compile(r"\s*[\"`\[]?([^\"`\]\s,():]+)")
_SCHEMA_LABEL = re.compile(r"^[ \t]*(?:schema|схема)[ \t]*:[ \t]*$", re.I | re.M)
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_LANGUAGES = {"sql": {"sql", "sqlite", "sqlite3"}, "python": {"python", "python3", "py"}}
SQL_RETRY_SEEDS = (1, 2, 3)  # seeds of the sampled candidates tried when the greedy query does not run
RETRY_TEMPERATURE = 0.7


def split_sql(script: str) -> list[str]:
    """The statements of `script` (semicolons inside strings and comments respected), without the final `;`;
    pieces holding only comments are dropped."""
    statements: list[str] = []
    current = ""
    pieces = script.split(";")
    for index, piece in enumerate(pieces):
        current += piece
        if sqlite3.complete_statement(current + ";"):
            if _COMMENTS.sub("", current).strip():
                statements.append(current.strip())
            current = ""
        elif index < len(pieces) - 1:
            current += ";"
    if _COMMENTS.sub("", current).strip():
        statements.append(current.strip())
    return statements


def single_select(query: str) -> str:
    """The one SELECT / WITH statement of `query`; `ToolError` for anything else (writes, ATTACH, PRAGMA,
    several statements). The authorizer of `run_select` enforces read-only access as well."""
    statements = split_sql(query)
    if not statements:
        raise ToolError("the query is empty")
    keyword = _keyword(statements[0])
    if keyword not in {"SELECT", "WITH"}:
        raise ToolError(f"only a SELECT or WITH query is allowed, not {keyword or repr(statements[0][:20])}")
    if len(statements) > 1:
        raise ToolError("only one statement is allowed")
    return statements[0]


def _keyword(statement: str) -> str:
    """The first word of a statement, upper-cased, after comments and opening parentheses."""
    match = _FIRST_WORD.match(_COMMENTS.sub(" ", statement))
    return match.group(1).upper() if match else ""


def _read_only(action: int, *_: object) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY


def run_select(
    db: sqlite3.Connection, query: str, timeout_s: float = SQL_TIMEOUT_S, max_rows: int = MAX_ROWS
) -> list[tuple[Any, ...]]:
    """The rows of one read-only SELECT / WITH query; `ToolError` says why it was refused, failed, ran past
    `timeout_s` (aborted by a progress handler) or returned more than `max_rows` rows."""
    statement = single_select(query)
    deadline = time.monotonic() + timeout_s
    expired = False

    def progress() -> int:
        nonlocal expired
        expired = time.monotonic() > deadline
        return int(expired)

    length = db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    db.set_authorizer(_read_only)
    db.set_progress_handler(progress, 1000)
    try:
        with closing(db.execute(statement)) as cursor:
            rows = cursor.fetchmany(max_rows + 1)
    except sqlite3.Error as err:
        if expired:
            raise ToolError(f"the query ran longer than {timeout_s:g} s") from err
        if "not authorized" in str(err):
            raise ToolError("the query is not read-only (only SELECT / WITH may run)") from err
        raise ToolError(f"the query fails: {one_line(err)}") from err
    finally:
        db.set_progress_handler(None, 0)
        db.set_authorizer(None)
        db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, length)
    if len(rows) > max_rows:
        raise ToolError(f"the query returns more than {max_rows} rows")
    return rows


def schema_database(schema: str) -> sqlite3.Connection:
    """An empty in-memory database with the tables of `schema`: its CREATE statements as given, or, when it
    has none, `table(col, ...)` lines turned into tables with untyped columns. Other statements (INSERT,
    ATTACH, PRAGMA, ...) are skipped. `ToolError` when a CREATE statement fails or there is no table."""
    creates = [statement for statement in split_sql(schema) if _keyword(statement) == "CREATE"]
    if not creates:
        creates = [
            f"CREATE TABLE {_quote(table)} ({', '.join(_quote(column) for column in columns)})"
            for table, columns in _table_lines(schema)
        ]
    if not creates:
        raise ToolError("the schema has no CREATE TABLE statement and no `table(col, ...)` line")
    db = sqlite3.connect(":memory:")
    try:
        for statement in creates:
            db.execute(statement)
    except sqlite3.Error as err:
        db.close()
        raise ToolError(f"the schema does not build: {one_line(err)}") from err
    return db


def _table_lines(schema: str) -> list[tuple[str, list[str]]]:
    """(table, columns) for every `table(col, col TYPE, ...)` line; column types are dropped."""
    tables = []
    for line in schema.splitlines():
        match = _TABLE_LINE.match(line)
        if match is None:
            continue
        columns = [m.group(1) for part in _split_top_level(match.group(2)) if (m := _COLUMN_NAME.match(part))]
        if columns:
            tables.append((match.group(1), columns))
    return tables


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses: `a INT, b DECIMAL(10, 2)` -> two columns."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_sql(query: str, schema: str) -> str | None:
    """Why `query` fails on an empty database with `schema`'s tables, or None when it runs.
    `ToolError` when the schema itself does not build."""
    with closing(schema_database(schema)) as db:
        try:
            run_select(db, query)
        except ToolError as err:
            return str(err)
    return None


def sql_tool(candidates: Iterable[str], schema: str) -> str | None:
    """The first candidate that runs on an empty database with `schema`'s tables, else None. Candidates are
    taken one at a time, so a generator that samples them lazily stops at the first that passes.
    `ToolError` when the schema itself does not build."""
    with closing(schema_database(schema)) as db:
        for candidate in candidates:
            try:
                run_select(db, candidate)
            except ToolError:
                continue
            return candidate
    return None


def checked_query(query: str, schema: str, sample: Callable[[int], str]) -> str:
    """The greedy `query` if it runs on the empty `schema`, else the first of up to three sampled ones
    (`sample(seed)`, drawn only while needed) that does, else `query`. Unchanged when the schema does not
    build (there is nothing to check against)."""

    def candidates() -> Iterator[str]:
        yield query
        for seed in SQL_RETRY_SEEDS:
            yield sample(seed)

    try:
        return sql_tool(candidates(), schema) or query
    except ToolError:
        return query


def schema_in_prompt(prompt: str) -> str:
    """The schema of a sql request: what follows its last `Schema:` / `Схема:` line, else the whole message
    (CREATE statements and `table(col, ...)` lines are picked out of it)."""
    labels = list(_SCHEMA_LABEL.finditer(prompt))
    return prompt[labels[-1].end():] if labels else prompt


def sql_check_answer(answer: str, prompt: str, sample: Callable[[int], str]) -> str:
    """`answer` with its query replaced by the first candidate that runs on the schema in `prompt`: the
    answer's own query, then those of up to three answers sampled with `sample(seed)`. Unchanged when its
    query runs, when the prompt has no schema, or when no candidate runs."""
    query = extract_code(answer, "sql")
    chosen = checked_query(query, schema_in_prompt(prompt), lambda seed: extract_code(sample(seed), "sql"))
    return answer if chosen == query else answer.replace(query, chosen, 1)


# ---- reading answers


def extract_code(text: str, language: str) -> str:
    """The body of the first ```language block (an unclosed one runs to the end), else of the first fenced
    block of any language, else the whole text; stripped."""
    names = _LANGUAGES.get(language, {language})
    blocks = [(match.group(1).lower(), match.group(2)) for match in _FENCE.finditer(text)]
    for name, body in blocks:
        if name in names:
            return body.strip()
    return blocks[0][1].strip() if blocks else text.strip()


# Tool names a manifest may list in `tools` (see `moe_system.experts.manifest.ToolName`).
TOOLS: dict[str, Callable[..., Any]] = {"calculator": math_tool, "sql_check": sql_tool}

