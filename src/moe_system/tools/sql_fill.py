"""A small database filled from a schema, to run candidate queries on and compare their results.

`fill_database(schema_text, seed)` builds the schema's tables (any form `sql_schema` reads) in memory and puts a
few synthetic rows in each, the same rows for the same schema and seed: values follow the declared type or, when
a column has none, what its name suggests (`*_id` and `id` integers, `*_date` / `*_at` ISO dates, `price` and
`total` money, `email` addresses, `city`, `status`, `name` words people use); values repeat (small pools) so
GROUP BY, HAVING and DISTINCT mean something; nullable columns get some NULLs; foreign keys point at existing
rows of their parent (declared with REFERENCES, or guessed from a `customer_id` -> `customers` name), and some
parents get no children so LEFT JOIN counts reach zero. `Hints.of(question)` mixes the values a request names
(quoted strings, numbers and their neighbours, dates, years) into the rows, so that its filters select something
and near misses (`>` for `>=`, another literal) give another result.

    .venv/bin/python -c "from moe_system.tools.sql_fill import fill_database; \
print(fill_database('users(id, name, city)', 0).execute('SELECT * FROM users').fetchall())"
"""

from __future__ import annotations

import random
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from moe_system.tools.sql_schema import ColumnInfo, SchemaInfo, schema_database

ROWS = (6, 9)  # rows per table, drawn per table
NULL_SHARE = 0.2
_WORDS = {
    "name": ("Anna Smith", "Boris Petrov", "Chen Li", "Dana Fox", "Emil Novak", "Fatima Khan"),
    "title": ("Blue River", "Dark Sky", "Green Field", "Old Road", "Red Stone"),
    "city": ("Berlin", "Kazan", "London", "Moscow", "Paris"),
    "country": ("France", "Germany", "Russia", "UK"),
    "status": ("active", "cancelled", "done", "pending"),
    "category": ("books", "food", "games", "tools"),
    "department": ("IT", "Sales", "HR", "Support"),
    "gender": ("F", "M"),
}
_DATE_WORDS = re.compile(r"date|_at$|_on$|time|day$|^dob$|birth|created|updated|since|until|start|end", re.I)
_MONEY_WORDS = re.compile(r"price|total|amount|salary|cost|fee|balance|revenue|budget|sum|paid", re.I)
_INT_WORDS = re.compile(r"(^|_)(id|count|qty|quantity|age|year|num|number|stock|level|rank|score|seats|"
                        r"credits|pages|days|nights|hours|minutes|capacity|floor|goals|points|grade)$", re.I)
_BOOL_WORDS = re.compile(r"^(is|has)_|active|enabled|flag", re.I)


def _kind(column: ColumnInfo) -> str:
    """int, real, date, datetime, bool or text: the declared type first, then the column name."""
    declared, name = column.type, column.name
    if "INT" in declared:
        return "bool" if _BOOL_WORDS.search(name) else "int"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB", "DECIMAL", "NUMERIC")):
        return "real"
    if "BOOL" in declared:
        return "bool"
    if "TIME" in declared:
        return "datetime"
    if "DATE" in declared:
        return "date"
    if declared and not any(word in declared for word in ("CHAR", "TEXT", "CLOB")):
        return "text"
    if _DATE_WORDS.search(name) and not name.lower().endswith("_id"):
        return "datetime" if re.search(r"_at$|time", name, re.I) and not declared else "date"
    if declared:
        return "text"
    if _INT_WORDS.search(name):
        return "int"
    if _MONEY_WORDS.search(name):
        return "real"
    if _BOOL_WORDS.search(name):
        return "bool"
    return "text"


def _parent(column: ColumnInfo, info: SchemaInfo, table: str) -> tuple[str, str] | None:
    """(parent table, parent column) of a foreign key: declared, or guessed from `x_id` -> table x / xs."""
    if column.references is not None:
        parent = info.table_name(column.references[0])
        if parent is None:
            return None
        key = column.references[1] or next((c.name for c in info.tables[parent] if c.pk), "rowid")
        return parent, key
    match = re.fullmatch(r"(\w+?)_?id", column.name, re.I)
    if match is None or not match.group(1):
        return None
    stem = match.group(1).rstrip("_").lower()
    for guess in (stem, stem + "s", stem + "es", stem[:-1] + "ies" if stem.endswith("y") else stem):
        found = info.table_name(guess)
        if found is not None and found != table:
            columns = {c.name.lower(): c.name for c in info.tables[found]}
            return (found, columns["id"]) if "id" in columns else None
    return None


def _order(info: SchemaInfo) -> list[str]:
    """Tables with parents before children (cycles broken in schema order)."""
    done: list[str] = []
    pending = list(info.tables)
    while pending:
        for table in pending:
            parents = {p for c in info.tables[table] if (link := _parent(c, info, table)) and (p := link[0]) != table}
            if parents <= set(done) or not any(p in pending for p in parents):
                done.append(table)
                pending.remove(table)
                break
        else:
            done.append(pending.pop(0))
    return done


@dataclass(frozen=True)
class Hints:
    """Values a request names (quoted strings, numbers, dates, years), mixed into the synthetic rows so that
    filters on them select something and `>` and `>=` differ: the same for every candidate of one request."""

    strings: tuple[str, ...] = ()
    numbers: tuple[float, ...] = ()
    dates: tuple[str, ...] = ()
    years: tuple[int, ...] = ()

    @classmethod
    def of(cls, text: str) -> Hints:
        """The values named in `text` (a question)."""
        strings = [m.group(1) or m.group(2) or m.group(3) or m.group(4) for m in _QUOTED.finditer(text)]
        dates = _ISO_DATE.findall(text)
        rest = _ISO_DATE.sub(" ", text)
        years = [int(y) for y in _YEAR.findall(rest)]
        numbers = [float(n) for n in _NUMBER.findall(rest) if not (len(n) == 4 and int(float(n)) in years)]
        return cls(tuple(dict.fromkeys(s.strip() for s in strings if s and s.strip())),
                   tuple(dict.fromkeys(numbers)), tuple(dict.fromkeys(dates)), tuple(dict.fromkeys(years)))


_QUOTED = re.compile(r"'([^'\n]{1,40})'|«([^»\n]{1,40})»|\"([^\"\n]{1,40})\"|=\s*([^\s,;?()'\"]{1,40})")
_ISO_DATE = re.compile(r"\b(\d{4}-\d\d-\d\d)\b")
_YEAR = re.compile(r"(?<![\d.-])((?:19|20)\d\d)(?![\d.-])")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")
HINT_SHARE = 0.5  # how often a value is drawn from the request's own values when it names some


def _hinted(rng: random.Random, kind: str, hints: Hints) -> Any:
    """A value near one the request names, or None when it names none of this kind (or the draw says no)."""
    if rng.random() >= HINT_SHARE:
        return None
    if kind in ("int", "real") and hints.numbers:
        x = rng.choice(hints.numbers)
        value = rng.choice((x, x, x, x + 1, x - 1, x * 2, x / 2))
        return int(value) if kind == "int" else round(float(value), 2)
    if kind in ("date", "datetime") and (hints.dates or hints.years):
        if hints.dates and (not hints.years or rng.random() < 0.7):
            day = date.fromisoformat(rng.choice(hints.dates)) + timedelta(days=rng.choice((0, 0, 1, -1, -20, 20)))
        else:
            day = date(rng.choice(hints.years), rng.randint(1, 12), rng.randint(1, 28))
        return day.isoformat() + (" 12:00:00" if kind == "datetime" else "")
    if kind == "text" and hints.strings:
        return rng.choice(hints.strings)
    return None


def _value(rng: random.Random, kind: str, column: str, row_index: int, hints: Hints = Hints()) -> Any:
    hinted = _hinted(rng, kind, hints)
    if hinted is not None:
        return hinted
    lowered = column.lower()
    if kind == "int":
        if re.search(r"year", lowered):
            return rng.choice((2019, 2020, 2021, 2022, 2023))
        if re.search(r"age", lowered):
            return rng.choice((19, 25, 31, 42, 58))
        return rng.choice((1, 2, 3, 5, 8, 10, 12, 20))
    if kind == "real":
        return rng.choice((4.5, 9.99, 12.0, 25.5, 40.0, 99.9, 150.0))
    if kind == "bool":
        return rng.choice((0, 1))
    if kind in ("date", "datetime"):
        day = date(2023, 1, 1) + timedelta(days=rng.choice((0, 14, 45, 90, 130, 200, 260, 340, 400, 520)))
        if kind == "datetime":
            return f"{day.isoformat()} {rng.choice((8, 12, 17)):02d}:{rng.choice((0, 30)):02d}:00"
        return day.isoformat()
    if "email" in lowered:
        return f"{rng.choice(('anna', 'boris', 'chen', 'dana'))}{row_index}@{rng.choice(('mail.com', 'example.org'))}"
    if "phone" in lowered:
        return f"+1-555-01{row_index:02d}"
    for word, pool in _WORDS.items():
        if word in lowered:
            return rng.choice(pool)
    return f"{lowered}_{rng.randint(1, 4)}"


def _rows(rng: random.Random, table: str, info: SchemaInfo, keys: dict[tuple[str, str], list[Any]], hints: Hints
          ) -> list[dict[str, Any]]:
    columns = info.tables[table]
    pks = [c for c in columns if c.pk] or [c for c in columns if c.name.lower() == "id"]
    count = rng.randint(*ROWS)
    rows = []
    for index in range(1, count + 1):
        row: dict[str, Any] = {}
        for column in columns:
            link = _parent(column, info, table)
            kind = _kind(column)
            if len(pks) == 1 and column is pks[0] and kind in ("int", "text") and link is None:
                row[column.name] = index if kind == "int" else f"{column.name.lower()}_{index}"
            elif link is not None and keys.get(link):
                parents = keys[link]
                favoured = parents[: max(1, (2 * len(parents)) // 3)]  # the last third stays without children
                row[column.name] = rng.choice(favoured)
            elif link is not None and link[0] == table:
                row[column.name] = rng.randint(1, index - 1) if index > 1 else None
            else:
                row[column.name] = _value(rng, kind, column.name, index, hints)
            if not column.notnull and column not in pks and index > 2 and rng.random() < NULL_SHARE \
                    and row[column.name] is not None and (link is None or link[0] != table):
                row[column.name] = None
        rows.append(row)
    return rows


@lru_cache(maxsize=128)
def _filled_script(schema_text: str, seed: int, hints: Hints
                   ) -> tuple[tuple[str, str, tuple[tuple[Any, ...], ...]], ...]:
    """Per table: its name, its INSERT statement and the rows that went in (cached; the same for a seed)."""
    info = SchemaInfo.of(schema_text)
    keys: dict[tuple[str, str], list[Any]] = {}
    out = []
    with closing(schema_database(schema_text)) as db:
        for table in _order(info):
            rng = random.Random(f"{seed}:{table}")
            names = [c.name for c in info.tables[table]]
            statement = (f"INSERT INTO {_quote(table)} ({', '.join(_quote(n) for n in names)}) "
                         f"VALUES ({', '.join('?' * len(names))})")
            kept = []
            for row in _rows(rng, table, info, keys, hints):
                values = tuple(row[n] for n in names)
                try:
                    db.execute(statement, values)
                except sqlite3.Error:  # a UNIQUE or CHECK constraint the synthetic values break: leave the row out
                    continue
                kept.append(values)
            for n in names:
                keys[(table, n)] = [v[names.index(n)] for v in kept if v[names.index(n)] is not None]
            keys[(table, "rowid")] = list(range(1, len(kept) + 1))
            out.append((table, statement, tuple(kept)))
    return tuple(out)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fill_database(schema_text: str, seed: int = 0, hints: Hints = Hints()) -> sqlite3.Connection:
    """An in-memory SQLite database with the tables of `schema_text` and a few synthetic rows in each, the same
    rows for the same schema, seed and hints (`Hints.of(question)`: values the request names, mixed into the
    rows). `ToolError` when the schema does not build."""
    db = schema_database(schema_text)
    for _, statement, rows in _filled_script(schema_text, seed, hints):
        db.executemany(statement, rows)
    db.commit()
    return db
