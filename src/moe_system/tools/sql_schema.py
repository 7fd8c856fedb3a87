"""The schema of a SQL request, read in every form the sql expert is shown, and the check of a query against it.

Forms: SQLite `CREATE TABLE` statements; compact lines `orders(id, customer_id, total)` (types optional:
`orders(id INTEGER PRIMARY KEY, total REAL)`), also inline after a label (`... Schema: orders(id, total),
customers(id, name)`); "table: columns" lines `orders: id, customer_id, total`; and bullet lists under a table
line:

    Table orders:
    - id (INTEGER, primary key)
    - customer_id (INTEGER, -> customers.id)
    - total (REAL)

`schema_database(text)` builds an empty in-memory SQLite database from any of them (the CREATE statements as
given, the other forms turned into CREATE statements), and `SchemaInfo.read(db)` describes its tables (declared
types, NOT NULL, primary and foreign keys) through PRAGMAs. `schema_problem(query, info)` parses a query with
sqlglot (dialect sqlite) and resolves every table and column through its scopes (tables and aliases, CTEs,
derived tables, correlated subqueries, select aliases, USING) and says in one line what is wrong, or None:

    >>> schema_problem("SELECT nme FROM users", SchemaInfo.of("users(id, name)"))
    'unknown column nme (users has: id, name)'
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

from moe_system.errors import ToolError, one_line

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)", re.S)
_NAME = r"[\"`\[]?([A-Za-z_\u0400-\u04ff][\w$]*)[\"`\]]?"
_TABLE_LINE = re.compile(rf"^\s*(?:[-*•]\s+)?{_NAME}\s*\((.*)\)\s*;?\s*$")
_COLON_LINE = re.compile(rf"^\s*(?:[-*•]\s+)?(?:table\s+|таблица\s+)?{_NAME}\s*:\s*(\S.*?)\s*$", re.I)
_INLINE_LABEL = re.compile(r"(?:schema|схема|tables|таблицы)\s*:\s*(\S.*)$", re.I)
_INLINE_TABLE = re.compile(rf"(?<![\w.]){_NAME}\(([^()]*(?:\([^()]*\)[^()]*)*)\)")
_HEADER_LINE = re.compile(rf"^\s*(?:(?:table|таблица)\s+{_NAME}\s*:?|{_NAME}\s*:)\s*$", re.I)
_BULLET = re.compile(rf"^\s*[-*•]\s+{_NAME}\s*(?:[:(—–-]+\s*(.*?))?\)?\s*;?\s*$")
_REFERENCE = re.compile(rf"(?:references|->|→|fk)\s*{_NAME}\s*(?:[.(]\s*{_NAME})?", re.I)
_TYPE = re.compile(r"^(integer|int|bigint|smallint|text|varchar(?:\(\d+\))?|char(?:\(\d+\))?|real|float|double|"
                   r"numeric|decimal(?:\(\d+,\s*\d+\))?|date|datetime|timestamp|boolean|bool|blob)\b", re.I)
_TOKEN = re.compile(r"<Token token_type: [^,]*, text: ([^,]*),[^>]*>")
_IMPLICIT_COLUMNS = {"rowid", "oid", "_rowid_"}
_TABLE_FUNCTIONS = {"json_each", "json_tree", "generate_series"}


# ------------------------------------------------------------------------------------------------ schema forms


def split_statements(script: str) -> list[str]:
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


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses: `a INT, b DECIMAL(10, 2)` -> two columns."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_sql(name: str, detail: str) -> str:
    """A column definition from a name and what a schema line says about it (type, primary key, reference)."""
    parts = [_quote(name)]
    detail = detail.strip()
    if (match := _TYPE.match(detail)) is not None:
        parts.append(match.group(1).upper())
    if re.search(r"primary\s+key|\bpk\b|первичный", detail, re.I):
        parts.append("PRIMARY KEY")
    elif re.search(r"not\s+null", detail, re.I):
        parts.append("NOT NULL")
    if (ref := _REFERENCE.search(detail)) is not None:
        parts.append(f"REFERENCES {_quote(ref.group(1))}" + (f"({_quote(ref.group(2))})" if ref.group(2) else ""))
    return " ".join(parts)


def _line_tables(schema: str) -> list[tuple[str, list[str]]]:
    """(table, column definitions) from compact, "table: columns" and bullet-list lines."""
    tables: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in schema.splitlines():
        if (bullet := _BULLET.match(line)) is not None and current is not None:
            current.append(_column_sql(bullet.group(1), bullet.group(2) or ""))
            continue
        if (header := _HEADER_LINE.match(line)) is not None:
            current = []
            tables.append((header.group(1) or header.group(2), current))
            continue
        current = None
        if (inline := _INLINE_LABEL.search(line)) is not None:  # "... Schema: users(id, name), orders(id, total)"
            tables.extend((m.group(1), _columns(m.group(2))) for m in _INLINE_TABLE.finditer(inline.group(1)))
            continue
        match = _TABLE_LINE.match(line) or _COLON_LINE.match(line)
        if match is not None:
            tables.append((match.group(1), _columns(match.group(2))))
    return [(table, columns) for table, columns in tables if columns]


def _columns(listed: str) -> list[str]:
    """Column definitions from `a, b INTEGER, c TEXT -> t.id` (what a line lists)."""
    columns = []
    for part in _split_top_level(listed):
        name, _, detail = part.partition(" ")
        column = re.fullmatch(_NAME, name.strip("()"))
        if column is not None:
            columns.append(_column_sql(column.group(1), detail.strip(" ()")))
    return columns


def schema_statements(schema: str) -> list[str]:
    """The CREATE TABLE statements of `schema`: its own, or those its lines describe."""
    creates = [s for s in split_statements(schema) if re.match(r"\s*CREATE\b", _COMMENTS.sub(" ", s), re.I)]
    if creates:
        return creates
    return [f"CREATE TABLE {_quote(table)} ({', '.join(columns)})" for table, columns in _line_tables(schema)]


def schema_database(schema: str) -> sqlite3.Connection:
    """An empty in-memory database with the tables of `schema` (any form above); other statements (INSERT,
    ATTACH, PRAGMA, ...) are skipped. `ToolError` when a CREATE statement fails or there is no table."""
    creates = schema_statements(schema)
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


# ------------------------------------------------------------------------------------------------ schema info


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str  # the declared type, upper-cased ("" when none)
    notnull: bool
    pk: bool
    references: tuple[str, str] | None  # (table, column) of a foreign key


@dataclass(frozen=True)
class SchemaInfo:
    """The tables of a schema database, parents before children where foreign keys allow."""

    tables: dict[str, tuple[ColumnInfo, ...]]

    @classmethod
    def read(cls, db: sqlite3.Connection) -> SchemaInfo:
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        tables: dict[str, tuple[ColumnInfo, ...]] = {}
        for name in names:
            refs = {row[3]: (row[2], row[4]) for row in db.execute(f"PRAGMA foreign_key_list({_quote(name)})")}
            tables[name] = tuple(
                ColumnInfo(column, (decl or "").upper(), bool(notnull), bool(pk), refs.get(column))
                for _, column, decl, notnull, _, pk in db.execute(f"PRAGMA table_info({_quote(name)})"))
        return cls(tables)

    @classmethod
    def of(cls, schema: str) -> SchemaInfo:
        """The tables of a schema text (cached); `ToolError` when it does not build."""
        return _schema_info(schema)

    def columns(self, table: str) -> tuple[str, ...] | None:
        """The column names of `table` (case-insensitive), None when there is no such table."""
        found = self._lookup().get(table.lower())
        return None if found is None else tuple(c.name for c in self.tables[found])

    def table_name(self, table: str) -> str | None:
        return self._lookup().get(table.lower())

    def _lookup(self) -> dict[str, str]:
        return {name.lower(): name for name in self.tables}


@lru_cache(maxsize=256)
def _schema_info(schema: str) -> SchemaInfo:
    with closing(schema_database(schema)) as db:
        return SchemaInfo.read(db)


# ------------------------------------------------------------------------------------------------ query check


class _Problem(Exception):
    pass


def schema_problem(query: str, info: SchemaInfo) -> str | None:
    """What is wrong with `query` against the schema, in one line, or None: a parse error, an unknown table,
    an unknown column (naming the columns it could have meant), an ambiguous column."""
    try:
        tree = sqlglot.parse_one(query, read="sqlite")
    except SqlglotError as err:
        errors = getattr(err, "errors", None) or [{}]
        first = errors[0]
        where = f" (line {first['line']}, col {first['col']})" if first.get("line") else ""
        text = _TOKEN.sub(r"'\1'", first.get("description") or one_line(err))
        return f"the query does not parse: {one_line(text)}{where}"
    if tree is None:
        return "the query is empty"
    try:
        for scope in traverse_scope(tree):
            _check_scope(scope, info)
    except _Problem as problem:
        return str(problem)
    except SqlglotError as err:
        return f"the query does not parse: {one_line(err)}"
    return None


def _source_columns(source: exp.Table | Scope, info: SchemaInfo) -> set[str] | None:
    """The lower-cased column names a FROM source offers; None when any column may exist (a star, a function)."""
    if isinstance(source, Scope):
        select = source.expression
        while isinstance(select, exp.SetOperation):
            select = select.left
        if not isinstance(select, exp.Select):
            return None
        if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star) for e in select.expressions):
            return None
        names = {name.lower() for name in select.named_selects}
        cte = source.expression.parent
        if isinstance(cte, exp.CTE) and cte.args.get("alias") is not None:
            declared = [c.name.lower() for c in cte.args["alias"].columns]
            if declared:
                return set(declared)
        return names
    if not isinstance(source, exp.Table):
        return None
    columns = info.columns(source.name)
    if columns is None:
        return None
    return {c.lower() for c in columns} | _IMPLICIT_COLUMNS


def _check_tables(scope: Scope, info: SchemaInfo) -> None:
    for source in _sources(scope).values():
        if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier) and not source.args.get("db") \
                and info.table_name(source.name) is None and source.name.lower() not in _TABLE_FUNCTIONS:
            close = difflib.get_close_matches(source.name, list(info.tables), n=1)
            hint = f"; did you mean {close[0]}?" if close else f" (tables: {', '.join(info.tables)})"
            raise _Problem(f"unknown table {source.name}{hint}")


def _sources(scope: Scope) -> dict[str, exp.Table | Scope]:
    """The sources the scope's own FROM and JOINs name (alias -> table or CTE / derived-table scope)."""
    return {alias: source for alias, (_, source) in scope.selected_sources.items()}


def _own_columns(scope: Scope) -> list[exp.Column]:
    """The columns written in this scope's own SELECT (not in a nested subquery's)."""
    own = []
    for column in scope.expression.find_all(exp.Column):
        if column.find_ancestor(exp.Select, exp.SetOperation) is scope.expression or (
                isinstance(scope.expression, exp.SetOperation)
                and column.find_ancestor(exp.Select, exp.SetOperation) is scope.expression):
            own.append(column)
    return own


def _check_scope(scope: Scope, info: SchemaInfo) -> None:
    _check_tables(scope, info)
    select = scope.expression
    if isinstance(select, exp.SetOperation):  # a compound's ORDER BY names the result columns of its first SELECT
        first: exp.Expression | exp.Query = select
        while isinstance(first, exp.SetOperation):
            first = first.left
        names = {name.lower() for name in first.named_selects} if isinstance(first, exp.Select) else set()
        for column in _own_columns(scope):
            if not column.table and names and column.name.lower() not in names:
                raise _Problem(f"ORDER BY term {column.name} of a compound query is not one of its result columns "
                               f"({', '.join(sorted(names))})")
        return
    aliases = {e.alias.lower() for e in select.expressions if isinstance(e, exp.Alias)} \
        if isinstance(select, exp.Select) else set()
    joins = select.args.get("joins") or [] if isinstance(select, exp.Select) else []
    using = {ident.name.lower() for join in joins for ident in (join.args.get("using") or [])}
    natural = any(join.args.get("method") and str(join.args["method"]).upper() == "NATURAL" for join in joins)
    for column in _own_columns(scope):
        if isinstance(column.parent, exp.Dot) or column.find_ancestor(exp.Lambda) is not None:
            continue
        name = column.name.lower()
        if column.table:
            _check_qualified(scope, column, info)
            continue
        if column.is_star or not name:
            continue
        chain: Scope | None = scope
        found_any, here = False, True
        while chain is not None and not found_any:
            matches = []
            for alias, source in _sources(chain).items():
                offered = _source_columns(source, info)
                if offered is None or name in offered:
                    matches.append((alias, offered is not None))
            certain = [alias for alias, sure in matches if sure]
            if len(certain) > 1 and not (here and (name in using or natural)):
                raise _Problem(f"ambiguous column {column.name}: it is in {' and '.join(certain)}; "
                               f"qualify it (e.g. {certain[0]}.{column.name})")
            if matches or (here and name in aliases):
                found_any = True
                break
            chain, here = chain.parent, False
        if not found_any and name not in _IMPLICIT_COLUMNS:
            raise _Problem(_unknown_column(column.name, scope, info))


def _check_qualified(scope: Scope, column: exp.Column, info: SchemaInfo) -> None:
    qualifier = column.table.lower()
    chain: Scope | None = scope
    while chain is not None:
        for alias, source in _sources(chain).items():
            if alias.lower() == qualifier:
                offered = _source_columns(source, info)
                if column.is_star or offered is None or column.name.lower() in offered:
                    return
                shown = sorted(offered - _IMPLICIT_COLUMNS)
                described = source.name if isinstance(source, exp.Table) else alias
                close = difflib.get_close_matches(column.name.lower(), shown, n=1)
                hint = f"; did you mean {column.table}.{close[0]}?" if close else ""
                raise _Problem(f"unknown column {column.table}.{column.name} ({described} has: "
                               f"{', '.join(shown)}){hint}")
        chain = chain.parent
    names = ", ".join(_sources(scope)) or "none"
    raise _Problem(f"unknown table or alias {column.table} in {column.sql(dialect='sqlite')} "
                   f"(tables and aliases here: {names})")


def _unknown_column(name: str, scope: Scope, info: SchemaInfo) -> str:
    offered: list[tuple[str, list[str]]] = []
    for alias, source in _sources(scope).items():
        columns = _source_columns(source, info)
        if columns is not None:
            label = source.name if isinstance(source, exp.Table) else alias
            offered.append((label, sorted(columns - _IMPLICIT_COLUMNS)))
    everything = [c for _, columns in offered for c in columns]
    close = difflib.get_close_matches(name.lower(), everything, n=1)
    listed = "; ".join(f"{label} has: {', '.join(columns)}" for label, columns in offered)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown column {name}" + (f" ({listed})" if listed else "") + hint
