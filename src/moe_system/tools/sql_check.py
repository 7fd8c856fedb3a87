"""The SQL check tool: read-only execution, empty databases built from a schema, and the compile check.

`sql_tool` / `check_sql` try SQL candidates on an empty database built from the schema the model was shown and
keep the first one that compiles and runs; `sql_check_answer` resamples with the expert's own model when its
query does not run. SQL runs read-only: one SELECT/WITH statement, an authorizer that denies every write, ATTACH
and PRAGMA, and a progress handler that aborts it after a time limit. `run_select` is shared with the SQL scorer.

    >>> check_sql("SELECT nme FROM users", "users(id, name)")
    'the query fails: no such column: nme'
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from typing import Any

from moe_system.errors import ToolError, one_line
from moe_system.tools.code import extract_code

SQL_TIMEOUT_S = 2.0
MAX_ROWS = 100_000
MAX_VALUE_BYTES = 10_000_000  # the longest string or blob a query may build (randomblob(1e12) and the like)
_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)", re.S)
_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z]*)")
_TABLE_LINE = re.compile(r"^\s*(?:[-*]\s+)?[\"`\[]?([A-Za-z_][\w$]*)[\"`\]]?\s*\((.*)\)\s*;?\s*$")
_COLUMN_NAME = re.compile(r"\s*[\"`\[]?([^\"`\]\s,():]+)")
_SCHEMA_LABEL = re.compile(r"^[ \t]*(?:schema|схема)[ \t]*:[ \t]*$", re.I | re.M)
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
