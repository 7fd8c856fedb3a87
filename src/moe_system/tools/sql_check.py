"""The SQL check tool: read-only execution, the check of a query against the request's schema, and its verdict.

A candidate query is checked in two steps: `sql_schema.schema_problem` parses it with sqlglot and resolves its
tables and columns against the schema the model was shown (a clear one-line reason for a parse error, an unknown
table or column, an ambiguous column), then it runs on an empty database built from that schema.
`sql_tool` / `check_sql` keep the first candidate that passes; `sql_check_answer` resamples with the expert's own
model when its query does not. `sql_verdict` (the `Verify` of verified best-of-N, `tools/verdict.py`) also runs
the query on a small database filled from the schema and the values the question names (`sql_fill`) and keys the
answer by its result, so two queries that compute the same rows vote together and wrong ones rarely join them.

SQL runs read-only: one SELECT/WITH statement, an authorizer that denies every write, ATTACH and PRAGMA, and a
progress handler that aborts it after a time limit. `run_select` is shared with the SQL scorer.

    >>> check_sql("SELECT nme FROM users", "users(id, name)")
    'unknown column nme (users has: id, name); did you mean name?'
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from moe_system.errors import ToolError, one_line
from moe_system.tools.code import extract_code
from moe_system.tools.sql_fill import Hints, fill_database
from moe_system.tools.sql_schema import SchemaInfo, schema_database, schema_problem
from moe_system.tools.sql_schema import split_statements as split_sql
from moe_system.tools.verdict import RETRY_SEEDS, Verdict

SQL_TIMEOUT_S = 2.0
MAX_ROWS = 100_000
MAX_VALUE_BYTES = 10_000_000  # the longest string or blob a query may build (randomblob(1e12) and the like)
_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)", re.S)
_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z]*)")
_SCHEMA_LABEL = re.compile(r"^[ \t]*(?:schema|схема)[ \t]*:[ \t]*$", re.I | re.M)


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


def query_problem(db: sqlite3.Connection, query: str, info: SchemaInfo) -> str | None:
    """Why `query` fails: refused (not one read-only SELECT / WITH), wrong against the schema (`schema_problem`),
    or failing on `db`; None when it passes. A query sqlglot cannot parse but SQLite runs passes: SQLite is
    the judge of its own dialect."""
    return _judge(db, query, info)[0]


def _judge(db: sqlite3.Connection, query: str, info: SchemaInfo) -> tuple[str | None, list[tuple[Any, ...]]]:
    """(`query_problem`, the rows on `db` when it passes)."""
    try:
        statement = single_select(query)
    except ToolError as err:
        return str(err), []
    problem = schema_problem(statement, info)
    try:
        rows = run_select(db, statement)
    except ToolError as err:
        refused = "not read-only" in str(err) or "ran longer" in str(err)
        return (str(err) if refused else problem or str(err)), []
    if problem is not None and not problem.startswith("the query does not parse"):
        return problem, []
    return None, rows


def check_sql(query: str, schema: str) -> str | None:
    """Why `query` fails against `schema` (one line), or None when it parses, resolves and runs on an empty
    database with its tables. `ToolError` when the schema itself does not build."""
    info = SchemaInfo.of(schema)
    with closing(schema_database(schema)) as db:
        return query_problem(db, query, info)


def sql_tool(candidates: Iterable[str], schema: str) -> str | None:
    """The first candidate that passes `check_sql` against `schema`, else None. Candidates are taken one at a
    time, so a generator that samples them lazily stops at the first that passes. `ToolError` when the schema
    itself does not build."""
    info = SchemaInfo.of(schema)
    with closing(schema_database(schema)) as db:
        for candidate in candidates:
            if query_problem(db, candidate, info) is None:
                return candidate
    return None


def checked_query(query: str, schema: str, sample: Callable[[int], str]) -> str:
    """The greedy `query` if it runs on the empty `schema`, else the first of up to three sampled ones
    (`sample(seed)`, drawn only while needed) that does, else `query`. Unchanged when the schema does not
    build (there is nothing to check against)."""

    def candidates() -> Iterator[str]:
        yield query
        for seed in RETRY_SEEDS:
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


def question_in_prompt(prompt: str) -> str:
    """The question of a sql request: what comes before its last `Schema:` / `Схема:` line, else the whole
    message."""
    labels = list(_SCHEMA_LABEL.finditer(prompt))
    return prompt[:labels[-1].start()] if labels else prompt


def sql_check_answer(answer: str, prompt: str, sample: Callable[[int], str]) -> str:
    """`answer` with its query replaced by the first candidate that runs on the schema in `prompt`: the
    answer's own query, then those of up to three answers sampled with `sample(seed)`. Unchanged when its
    query runs, when the prompt has no schema, or when no candidate runs."""
    query = extract_code(answer, "sql")
    chosen = checked_query(query, schema_in_prompt(prompt), lambda seed: extract_code(sample(seed), "sql"))
    return answer if chosen == query else answer.replace(query, chosen, 1)


# ------------------------------------------------------------------------------------------------------ verdict


VERDICT_SEED = 0  # the rows every candidate of a request runs on
FLOAT_DIGITS = 6


def _cell(value: Any) -> tuple[int, Any]:
    """A sortable, comparable cell: NULL first, numbers (floats rounded, 2.0 == 2) then text then blobs."""
    if value is None:
        return (0, 0)
    if isinstance(value, float):
        value = round(value, FLOAT_DIGITS)
        return (1, int(value) if value.is_integer() else value)
    if isinstance(value, int):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, bytes(value))


def outer_order_by(query: str) -> bool:
    """Whether the outermost query has ORDER BY (not a window's OVER (ORDER BY ...) or a subquery's). A query
    sqlglot cannot parse counts as unordered."""
    try:
        tree = sqlglot.parse_one(query, read="sqlite")
    except SqlglotError:
        return False
    return isinstance(tree, exp.Query) and tree.args.get("order") is not None


def result_key(rows: list[tuple[Any, ...]], ordered: bool) -> tuple[tuple[tuple[int, Any], ...], ...]:
    """The rows as a comparable key: in order when `ordered`, else sorted (a multiset)."""
    cells = [tuple(_cell(value) for value in row) for row in rows]
    return tuple(cells if ordered else sorted(cells))


def sql_verdict(answer: str, request: str) -> Verdict:
    """The verdict on a sql answer (`tools.verdict.Verify`): ok when its query passes the schema check and runs
    on a small database filled from the schema in `request` and the values its question names (`fill_database`
    with `Hints`, the same rows for every candidate); key = its result rows (sorted unless the outermost query
    has ORDER BY, floats rounded), so queries that compute the same rows agree; text = the answer. Not ok when
    the request has no schema that builds, when the query is refused or wrong against the schema, or when it
    fails on the data."""
    query = extract_code(answer, "sql")
    schema = schema_in_prompt(request)
    try:
        info = SchemaInfo.of(schema)
        db = fill_database(schema, VERDICT_SEED, Hints.of(question_in_prompt(request)))
    except ToolError as err:
        return Verdict(False, None, answer, str(err))
    with closing(db):
        problem, rows = _judge(db, query, info)
    if problem is not None:
        return Verdict(False, None, answer, problem)
    return Verdict(True, result_key(rows, outer_order_by(single_select(query))), answer)
