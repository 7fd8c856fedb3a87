"""Expert tools: the whitelisted calculator (and the attacks it refuses), math_tool, read-only SQL and sql_tool."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import get_args

import pytest

from moe_system.errors import MoEError, ToolError
from moe_system.experts.manifest import Manifest, ToolName
from moe_system.tools import TOOLS
from moe_system.tools.calculator import safe_eval_program
from moe_system.tools.math_answer import format_number, math_tool
from moe_system.tools.sql_check import check_sql, run_select, schema_database, split_sql, sql_tool

# ---- safe_eval_program


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("answer = 2 + 3 * 4", 14),
        ("price = 12.5\ncount = 4\nanswer = price * count", 50.0),
        ("x = 3\ny = x ** 2\nx + y", 12),  # no `answer`: the last expression
        ("x = 1\nx += 2\nx *= 5\nanswer = x", 15),
        ("answer = 7 // 2 + 7 % 2 - -3", 7),
        ("import math\nr = 2\nanswer = round(math.pi * r ** 2, 2)", 12.57),
        ("from math import sqrt\nprint(sqrt(16))", 4.0),
        ("answer = floor(2.5) + ceil(2.5) + abs(-1) + int(2.9) + float(1)", 9.0),
        ("a = [3, 1, 2]\nanswer = sum(a) / len(a) + min(a) + max(4, 5)", 8.0),
        ("answer = (1 < 2 <= 2) + (3 == 4)", 1),  # True + False
        ("answer = 2 ** -1", 0.5),
        ("# a comment\nanswer = 1e3", 1000.0),
    ],
)
def test_safe_eval_program_computes(source: str, expected: float) -> None:
    value = safe_eval_program(source)
    assert value == pytest.approx(expected)
    assert type(value) in {int, float}


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("__import__('os')", "calling '__import__' is not allowed"),
        ("__import__('os').system('echo hi')", "attributes other than math"),
        ("answer = ().__class__", "attributes other than math"),
        ("x = 1\nanswer = x.real", "attributes other than math"),
        ("answer = math.e", "attributes other than math"),
        ("answer = 9 ** 9 ** 9", "exponent too large"),
        ("answer = 10 ** 100000", "exponent too large"),
        ("x = 10 ** 3000\nanswer = x * x * x * x", "exceeds 10000 bits"),
        ("answer = 'a' * 3", "strings are not allowed"),
        ("answer = len('abc')", "strings are not allowed"),
        ("answer = 0\nfor i in [1, 2]:\n    answer += i", "loops are not allowed"),
        ("while True:\n    pass", "loops are not allowed"),
        ("f = lambda: 1", "lambdas are not allowed"),
        ("def f():\n    return 1", "function definitions are not allowed"),
        ("answer = sum([x for x in [1, 2]])", "comprehensions are not allowed"),
        ("a = [1, 2]\nanswer = a[0]", "subscripts are not allowed"),
        ("import os", "imports (other than `import math`) are not allowed"),
        ("from os import path", "imports (other than `import math`) are not allowed"),
        ("answer = open('x')", "calling 'open' is not allowed"),
        ("answer = getattr(1, 'real')", "calling 'getattr' is not allowed"),
        ("__builtins__ = 1", "dunder names"),
        ("answer = y + 1", "name 'y' is not assigned before it is used"),
        ("sum = 3", "'sum' is a built-in name"),
        ("f = sqrt", "'sqrt' can only be called"),
        ("answer = abs(x=1)", "only positional arguments"),
        ("answer = 1 if 2 else 3", "conditionals are not allowed"),
        ("answer = 1 << 3", "operator LShift is not allowed"),
        ("answer = not 1", "operator Not is not allowed"),
        ("answer = (-8) ** 0.5", "complex number"),
        ("answer = 1 / 0", "division by zero"),
        ("answer = 1e308 * 10", "not a finite number"),
        ("answer = [1, 2]", "not a number"),
        ("answer = [1] + [2]", "take numbers, not lists"),
        ("answer = round(1.5, 10 ** 9)", "round() takes a whole number of digits"),
        ("answer = (", "syntax error on line 1"),
        ("x = 1", "assigns no `answer`"),
        ("x = 1\0", "null bytes"),
        ("answer = " + "-" * 30_000 + "1", "longer than 20000 characters"),
    ],
)
def test_safe_eval_program_refuses(source: str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError) as info:
        safe_eval_program(source)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)
    assert time.monotonic() - started < 0.5


def test_tool_errors_are_user_errors_and_time_is_limited() -> None:
    assert issubclass(ToolError, MoEError)
    with pytest.raises(ToolError, match="ran longer than"):
        safe_eval_program("answer = 1 + 1", timeout_s=-1.0)  # a deadline already past


def test_format_number() -> None:
    assert [format_number(v) for v in (42, 42.0, -3.0, 2.5, 1 / 3, 2.0000000001, 1e-9, 1e20)] == [
        "42", "42", "-3", "2.5", "0.333333", "2", "1e-09", "100000000000000000000",
    ]  # fmt: skip


# ---- math_tool


def test_math_tool_replaces_the_answer_line() -> None:
    text = "17 apples times 23.\n```python\nanswer = 17 * 23\n```\nAnswer: 390\n"
    assert math_tool(text) == "17 apples times 23.\n```python\nanswer = 17 * 23  # = 391\n```\nAnswer: 391\n"


def test_math_tool_keeps_russian_marker_and_appends_when_missing() -> None:
    assert math_tool("Решение:\n```python\nanswer = 10 / 4\n```\n**Ответ:** 2").endswith("\nОтвет: 2.5")
    assert math_tool("```python\nx = 1 / 3\nx\n```").endswith("```\nAnswer: 0.333333")
    assert math_tool("Считаем (Ответ: ниже)\n```py\nanswer = 6 * 7\n```").endswith("```\nОтвет: 42")


@pytest.mark.parametrize(
    "text",
    ["Answer: 3", "```sql\nSELECT 1\n```", "I'd say 2 + 2 = 4."],
)
def test_math_tool_leaves_text_without_a_program_alone(text: str) -> None:
    assert math_tool(text) == text


# ---- SQL


SCHEMA_LINES = "users(id, name, age)\norders(id, user_id, total DECIMAL(10, 2))"
SCHEMA_DDL = """CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER);
INSERT INTO users VALUES (1, 'Ada; Lovelace', 36);
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), total REAL);"""


def test_split_sql_respects_strings_and_comments() -> None:
    script = "SELECT 'a;b' FROM t; -- done;\n SELECT 2; /* end */"
    assert split_sql(script) == ["SELECT 'a;b' FROM t", "-- done;\n SELECT 2"]
    assert split_sql("  ;; -- nothing") == []


@pytest.mark.parametrize("schema", [SCHEMA_LINES, SCHEMA_DDL])
def test_schema_database_is_empty_and_has_the_tables(schema: str) -> None:
    db = schema_database(schema)
    try:
        assert run_select(db, "SELECT count(*) FROM users") == [(0,)]
        assert run_select(db, "SELECT o.total, u.name FROM orders o JOIN users u ON u.id = o.user_id") == []
    finally:
        db.close()


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("SELECT name FROM users WHERE age > 30", None),
        ("```sql is not extracted here```", "only a SELECT or WITH query is allowed"),
        ("-- the names\nSELECT name FROM users;", None),
        ("WITH old AS (SELECT * FROM users WHERE age > 60) SELECT count(*) FROM old", None),
        ("SELECT nme FROM users", "unknown column nme (users has: age, id, name); did you mean name?"),
        ("SELECT * FROM customers", "unknown table customers"),
        ("DELETE FROM users", "only a SELECT or WITH query is allowed, not DELETE"),
        ("INSERT INTO users VALUES (2, 'x', 1)", "not INSERT"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "not ATTACH"),
        ("PRAGMA table_info(users)", "not PRAGMA"),
        ("WITH x AS (SELECT 1) DELETE FROM users", "not read-only"),
        ("SELECT * FROM pragma_table_info('users')", "not read-only"),
        ("SELECT 1; DROP TABLE users", "only one statement is allowed"),
        ("", "the query is empty"),
        ("SELECT randomblob(1000000000)", "string or blob too big"),
    ],
)
def test_check_sql(query: str, problem: str | None) -> None:
    result = check_sql(query, SCHEMA_LINES)
    assert result == problem if problem is None else problem in (result or "")


def test_run_select_stops_a_recursive_bomb_and_long_results() -> None:
    db = schema_database(SCHEMA_LINES)
    bomb = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"ran longer than 0\.2 s"):
        run_select(db, bomb, timeout_s=0.2)
    assert time.monotonic() - started < 1.5
    many = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50) SELECT x FROM c"
    with pytest.raises(ToolError, match="more than 10 rows"):
        run_select(db, many, max_rows=10)
    assert len(run_select(db, many)) == 50  # the connection is usable again afterwards
    db.close()


def test_sql_tool_takes_the_first_candidate_that_runs_and_stops_there() -> None:
    seen: list[str] = []

    def candidates() -> Iterator[str]:
        for query in ("SELECT nme FROM users", "SELECT name FROM users", "SELECT never FROM reached"):
            seen.append(query)
            yield query

    assert sql_tool(candidates(), SCHEMA_DDL) == "SELECT name FROM users"
    assert len(seen) == 2
    assert sql_tool(["DROP TABLE users", "SELECT x FROM y"], SCHEMA_LINES) is None


def test_a_schema_that_does_not_build_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="the schema does not build"):
        check_sql("SELECT 1", "CREATE TABLE t (a INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB;")


def test_tool_names_match_the_manifest() -> None:
    assert set(TOOLS) == set(get_args(ToolName))
    data = {"name": "math", "version": "1.0.0", "kind": "lora", "base_model": {"name": "b", "sha256": "ab" * 32}}
    assert Manifest.from_dict(data).tools == []
    assert Manifest.from_dict({**data, "tools": ["calculator"]}).tools == ["calculator"]
    with pytest.raises(MoEError, match=r"field 'tools\.0'"):
        Manifest.from_dict({**data, "tools": ["shell"]})
