"""Random databases for the text-to-SQL data: a connected set of 1-6 tables of one domain, some optional columns
dropped, filled with rows (localized names, cities, dates, prices), written out as SQLite CREATE TABLE and
INSERT statements (`db_sql`). A grammar shape may make a column nullable (`Table.nullable`: NULLs in its rows, no
NOT NULL in the DDL). `schema_text` shows the schema to the model in one of `SCHEMA_STYLES` (CREATE TABLE,
compact, typed, "table: columns" lines, typed bullet lists), every one of which `tools.sql_schema` reads back.

    .venv/bin/python -c "import random; from moe_system.data.sql.schema import draw_schema, db_sql; \
print(db_sql(draw_schema(random.Random(0), 'en')))"
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from moe_system.data.sql.vocabulary import Column, TableDef, vocabulary


@dataclass
class Table:
    """One table of a drawn schema: its definition, the columns kept, and its rows."""

    d: TableDef
    columns: list[Column]
    rows: list[dict[str, Any]]
    nullable: set[str] = field(default_factory=set)  # columns that may hold NULL (no NOT NULL in the DDL)

    @property
    def name(self) -> str:
        return self.d.name

    @property
    def label(self) -> str:
        return self.d.label

    def cols(self, *kinds: str) -> list[str]:
        return [c.name for c in self.columns if c.kind in kinds]

    def kind(self, column: str) -> str:
        return next(c.kind for c in self.columns if c.name == column)

    def values(self, column: str) -> list[Any]:
        return sorted({row[column] for row in self.rows if row[column] is not None})

    def fks(self) -> list[tuple[str, str]]:
        """(fk column, parent table name) pairs."""
        return [(c.name, c.args[0]) for c in self.columns if c.kind == "fk"]


@dataclass
class Schema:
    tables: list[Table]

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def links(self) -> list[tuple[Table, str, Table]]:
        """(child, fk column, parent) for every foreign key."""
        return [(t, fk, self.table(parent)) for t in self.tables for fk, parent in t.fks()]


def draw_schema(rng: random.Random, locale: str) -> Schema:
    """A connected set of 1-6 tables from one domain, with some optional columns dropped, and rows."""
    domains = vocabulary().domains
    defs = domains[rng.choice(tuple(domains))]
    size = rng.choices((1, 2, 3, 4, 5, 6), weights=(2, 3, 3, 2, 1, 1))[0]
    edges = {(d.name, c.args[0]) for d in defs for c in d.columns if c.kind == "fk"}
    chosen = [rng.choice(defs).name]
    while len(chosen) < size:
        near = sorted(({b for a, b in edges if a in chosen} | {a for a, b in edges if b in chosen}) - set(chosen))
        if not near:
            break
        chosen.append(rng.choice(near))
    tables: list[Table] = []
    counts: dict[str, int] = {}
    for d in defs:  # definition order puts parents first
        if d.name not in chosen:
            continue
        columns = [c for c in d.columns if c.kind != "fk" or c.args[0] in chosen]
        optional = [c for c in columns if c.kind not in ("id", "fk") and c.name != d.label]
        if len(optional) > 2 and rng.random() < 0.3:
            columns.remove(rng.choice(optional))
        rows = _fill(rng, d, columns, locale, counts)
        counts[d.name] = len(rows)
        tables.append(Table(d, columns, rows))
    return Schema(tables)


def _fill(rng: random.Random, d: TableDef, columns: list[Column], locale: str, counts: dict[str, int]
          ) -> list[dict[str, Any]]:
    label = next(c for c in columns if c.name == d.label)
    wanted = rng.randint(*d.rows)
    if label.kind == "id":
        labels: list[Any] = list(range(1, wanted + 1))
    elif label.kind == "pool":
        pool = vocabulary().pools[label.args[0]]
        labels = rng.sample(pool, min(wanted, len(pool)))
    else:
        seen: dict[str, None] = {}
        for _ in range(wanted * 4):
            seen.setdefault(_label(rng, label.kind, locale))
            if len(seen) == wanted:
                break
        labels = list(seen)
    rows = []
    for i, value in enumerate(labels, 1):
        row: dict[str, Any] = {"id": i, label.name: value}
        for c in columns:
            if c.name not in row:
                row[c.name] = _value(rng, c, locale, row, counts)
        rows.append(row)
    return rows


def _person(rng: random.Random, locale: str) -> str:
    names = vocabulary().names
    if locale == "ru":
        if rng.random() < 0.5:
            return f"{rng.choice(names['ru_first_m'])} {rng.choice(names['ru_last'])}"
        return f"{rng.choice(names['ru_first_f'])} {rng.choice(names['ru_last'])}а"  # the feminine surname
    return f"{rng.choice(names['en_first'])} {rng.choice(names['en_last'])}"


def _label(rng: random.Random, kind: str, locale: str) -> str:
    """A name for a row: a person, a company, a product, a title... (English words; people follow the locale)."""
    vocab = vocabulary()
    words, forms = vocab.label_words, vocab.label_forms

    def pick(form: str, **slots: str) -> str:
        return rng.choice(forms[form]).format(**slots)

    adj, noun = rng.choice(words["title_adjectives"]), rng.choice(words["title_nouns"])
    makers: dict[str, Callable[[], str]] = {
        "person": lambda: _person(rng, locale),
        "company": lambda: f"{rng.choice(words['company_names'])} {rng.choice(words['company_kinds'])}",
        "product": lambda: f"{rng.choice(words['product_adjectives'])} {rng.choice(words['products'])}",
        "book": lambda: pick("book", adj=adj, noun=noun, noun2=rng.choice(words["title_nouns"])),
        "course": lambda: f"{rng.choice(words['course_levels'])} {rng.choice(vocab.pools['subject'])}",
        "band": lambda: pick("band", adj=adj, noun=noun),
        "album": lambda: pick("album", adj=adj, noun=noun),
        "track": lambda: pick("track", adj=adj, noun=noun),
        "username": lambda: f"{rng.choice(vocab.names['en_first']).lower()}{rng.randint(1, 999)}",
        "flight": lambda: f"{rng.choice(words['airline_codes'])}{rng.randint(100, 9999)}",
        "playlist": lambda: f"{rng.choice(words['playlist_moods'])} {rng.choice(words['playlist_kinds'])}",
        "team": lambda: f"{rng.choice(vocab.local_pools['city']['en'])} {rng.choice(words['team_animals'])}",
        "hotel": lambda: f"{rng.choice(words['hotel_names'])} {rng.choice(words['hotel_kinds'])}",
        "project": lambda: pick("project", codename=rng.choice(words["codenames"]),
                                codename2=rng.choice(words["codenames"]), kind=rng.choice(words["project_kinds"])),
    }
    return makers[kind]()


def _value(rng: random.Random, c: Column, locale: str, row: dict[str, Any], counts: dict[str, int]) -> Any:
    vocab = vocabulary()
    if c.kind == "fk":
        return rng.randint(1, counts[c.args[0]])
    if c.kind in ("qty", "num", "year"):
        return rng.randint(int(c.args[0]), int(c.args[1]))
    if c.kind == "money":
        lo, hi = int(c.args[0]), int(c.args[1])
        if hi <= 1000:
            return rng.randint(lo * 100, hi * 100) / 100
        step = 10 if hi <= 20000 else 1000
        return float(rng.randrange(lo, hi + 1, step))
    if c.kind == "date":
        start = date(int(c.args[0]), 1, 1)
        return (start + timedelta(days=rng.randrange((date(int(c.args[1]), 12, 31) - start).days))).isoformat()
    if c.kind == "cat":
        pool = c.args[0]
        return rng.choice(vocab.local_pools[pool][locale] if pool in vocab.local_pools else vocab.pools[pool])
    if c.kind == "email":
        person = row.get("full_name")
        if locale == "en" and isinstance(person, str):
            handle = person.lower().replace(" ", rng.choice(vocab.label_words["email_separators"]))
        else:
            handle = f"{rng.choice(vocab.names['en_first']).lower()}{rng.randint(1, 99)}"
        return f"{handle}@{rng.choice(vocab.pools['email_domain'])}"
    raise ValueError(f"no value generator for column kind {c.kind!r}")


# ------------------------------------------------------------------------------------------------------ SQL text


def lit(value: Any) -> str:
    """An SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _create(t: Table) -> str:
    lines = []
    for c in t.columns:
        if c.kind == "id":
            lines.append(f"  {c.name} INTEGER PRIMARY KEY")
        elif c.kind == "fk":
            lines.append(f"  {c.name} INTEGER NOT NULL REFERENCES {c.args[0]}(id)")
        else:
            lines.append(f"  {c.name} {c.sql_type}{'' if c.name in t.nullable else ' NOT NULL'}")
    return f"CREATE TABLE {t.name} (\n" + ",\n".join(lines) + "\n);"


def db_sql(s: Schema) -> str:
    """The whole database as an SQL script: every CREATE TABLE, then the rows."""
    parts = [_create(t) for t in s.tables]
    for t in s.tables:
        names = [c.name for c in t.columns]
        values = ",\n".join("  (" + ", ".join(lit(row[n]) for n in names) + ")" for row in t.rows)
        parts.append(f"INSERT INTO {t.name} ({', '.join(names)}) VALUES\n{values};")
    return "\n".join(parts) + "\n"


SCHEMA_STYLES = {"create": 4, "compact": 4, "typed": 1, "lines": 1, "bullets": 2}  # style -> how often drawn


def _declared(t: Table, c: Column) -> str:
    """A column's type with its keys: `INTEGER PRIMARY KEY`, `INTEGER REFERENCES customers(id)`, `TEXT`."""
    if c.kind == "id":
        return "INTEGER PRIMARY KEY"
    if c.kind == "fk":
        return f"INTEGER REFERENCES {c.args[0]}(id)"
    return c.sql_type


def _bullet(t: Table, c: Column, lang: str) -> str:
    words = {"en": ("primary key", "nullable"), "ru": ("первичный ключ", "может быть NULL")}[lang]
    notes = [c.sql_type]
    if c.kind == "id":
        notes.append(words[0])
    elif c.kind == "fk":
        notes.append(f"-> {c.args[0]}.id")
    elif c.name in t.nullable:
        notes.append(words[1])
    return f"- {c.name} ({', '.join(notes)})"


def schema_text(s: Schema, style: str, lang: str = "en") -> str:
    """The schema as shown to the model (any form `tools.sql_schema` reads): `create` CREATE TABLE statements;
    `compact` lines `table(col, ...)`; `typed` the same with types and keys; `lines` "table: col, ..." lines;
    `bullets` a "Table name:" line (Russian "Таблица") and one typed bullet per column."""
    if style == "create":
        return "\n".join(_create(t) for t in s.tables)
    if style == "typed":
        return "\n".join(f"{t.name}({', '.join(f'{c.name} {_declared(t, c)}' for c in t.columns)})" for t in s.tables)
    if style == "lines":
        return "\n".join(f"{t.name}: {', '.join(c.name for c in t.columns)}" for t in s.tables)
    if style == "bullets":
        title = {"en": "Table", "ru": "Таблица"}[lang]
        return "\n\n".join(f"{title} {t.name}:\n" + "\n".join(_bullet(t, c, lang) for c in t.columns)
                           for t in s.tables)
    return "\n".join(f"{t.name}({', '.join(c.name for c in t.columns)})" for t in s.tables)


def run_query(db_sql: str, query: str) -> list[tuple[Any, ...]]:
    """Build an in-memory SQLite database from `db_sql` and return all rows of `query`."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(db_sql)
        return conn.execute(query).fetchall()
    finally:
        conn.close()
