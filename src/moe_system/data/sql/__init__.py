"""Text-to-SQL data: random schemas from everyday domains, random rows, and English or Russian questions with a
gold SQLite query that is executed to prove it runs and returns rows.

Each item draws a connected set of 1-6 tables from one domain (shop, school, library, hospital, company / HR,
music, travel / flights, sports), fills them with rows, then asks one question. Most questions (`GRAMMAR_SHARE`)
come from the compositional grammar (`grammar.py` + `shapes.yaml`): 40+ query shapes written as data (top-N and
OFFSET, second highest, CASE, LIKE, NOT IN, COUNT(DISTINCT), GROUP BY / HAVING, 2- and 3-table and LEFT joins with
zero counts, NOT EXISTS, IN / scalar / correlated subqueries, CTEs, window functions (RANK, ROW_NUMBER per group,
running totals, LAG), dates (strftime by year and month, ranges, the last N days before a stated day), NULLs
(IS NULL, COALESCE)), each worded in English and Russian in a formal, a casual (lowercase, the odd typo) and a
terse register; a guard query rejects data on which two right answers would differ. The rest come from the
coded kinds of `kinds.py` and `joins.py` (filters, comparisons, aggregates, joins, subqueries), some of them
made casual (`grammar.casualize`). The schema is
shown in one of five forms (`schema.SCHEMA_STYLES`: CREATE TABLE, compact `t(a, b)`, typed `t(a INTEGER, ...)`,
"t: a, b" lines, typed bullet lists), all of which `tools.sql_schema` reads. Every item carries the whole
database as an SQL script (`db_sql`), so evaluation compares result sets without any external file.

The words live in data files beside the code: `vocabulary.yaml` (domains, tables, columns and how they are named,
value pools), `questions.yaml` (the templates of the coded kinds and their weights) and `shapes.yaml` (the
grammar's shapes: needs, gold SQL, guard, questions per language and register). Modules: `vocabulary` and
`wording` read the words, `schema` draws databases and rows and writes the schema forms, `grammar` binds and
words the shapes, `kinds` and `joins` are the coded kinds.

    moe data generate sql --n 3000 --seed 0 -o sql-train.jsonl
    moe data generate sql --n 500 --seed 1000 --format eval -o sql-eval.jsonl
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from functools import cache
from typing import Any

from moe_system.data.common import bad_data, chat_example, collect, difficulty, item_id, stable_choice
from moe_system.data.sql import grammar, joins, kinds
from moe_system.data.sql.kinds import Draft, Kind
from moe_system.data.sql.schema import SCHEMA_STYLES, Schema, db_sql, draw_schema, run_query, schema_text
from moe_system.data.sql.wording import SOURCE, questions

TASK = "sql"
KINDS: dict[str, Kind] = kinds.KINDS | joins.KINDS
GRAMMAR_SHARE = 0.65  # items drawn from the shapes of `shapes.yaml`; the rest from the coded kinds


@cache
def _weighted_kinds() -> tuple[Sequence[Kind], Sequence[int]]:
    """The question kinds in `questions.yaml` order, with their weights."""
    weights = questions().weights
    if set(weights) != set(KINDS):
        unknown = sorted(set(weights) ^ set(KINDS))[0]
        raise bad_data(SOURCE, f"kinds.{unknown}", f"the question kinds must be exactly: {', '.join(KINDS)}")
    return tuple(KINDS[name] for name in weights), tuple(weights.values())


def _locale(rng: random.Random, lang: str) -> str:
    return "ru" if lang == "ru" and rng.random() < 0.5 else "en"


def _grammar_draft(rng: random.Random, lang: str) -> tuple[Schema, Draft] | None:
    """A question of a `shapes.yaml` shape whose gold query passes `grammar.accept` on its own fresh schema."""
    for _ in range(8):
        schema = draw_schema(rng, _locale(rng, lang))
        found = grammar.draw(rng, schema, lang)
        if found is not None and grammar.accept(found[1], found[2], found[0].sql, db_sql(schema)):
            return schema, found[0]
    return None


def _kind_draft(rng: random.Random, lang: str) -> tuple[Schema, Draft] | None:
    """A question of one of the coded kinds (`kinds.py`, `joins.py`) whose gold query returns rows."""
    schema = draw_schema(rng, _locale(rng, lang))
    drawn, weights = _weighted_kinds()
    found: Draft | None = None
    for _ in range(8):
        found = rng.choices(drawn, weights=weights)[0](rng, schema, lang)
        if found:
            break
    if found is None:
        return None
    try:
        rows = run_query(db_sql(schema), found.sql)
    except sqlite3.Error:
        return None
    if not rows or all(value is None for value in rows[0]):
        return None
    if rng.random() < grammar.CASUAL_SHARE:
        found = Draft(grammar.casualize(rng, found.question, found.sql), found.sql, found.level)
    return schema, found


def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    drafted = _grammar_draft(rng, lang) if rng.random() < GRAMMAR_SHARE else _kind_draft(rng, lang)
    if drafted is None:
        return None
    schema, found = drafted
    database = db_sql(schema)
    style = rng.choices(tuple(SCHEMA_STYLES), weights=tuple(SCHEMA_STYLES.values()))[0]
    return {
        "id": item_id(TASK, found.question, found.sql, database),
        "lang": lang,
        "difficulty": difficulty(found.level + 0.04 * (len(schema.tables) - 1)),
        "question": found.question,
        "schema": schema_text(schema, style, lang),
        "schema_style": style,
        "gold_sql": found.sql,
        "db_sql": database,
    }


def generate(n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]:
    """`n` distinct validated text-to-SQL eval items (keys: id, lang, difficulty, question, schema, schema_style,
    gold_sql, db_sql). Training seeds < 1000, evaluation seeds >= 1000."""
    return collect(TASK, n, seed, lang, _draft, key="question")


def to_chat(item: dict[str, Any]) -> dict[str, Any]:
    """The training example: question, blank line, schema header and schema -> the query in a sql block."""
    header = stable_choice(item["id"], tuple(questions().headers[item["lang"]]))
    user = f"{item['question']}\n\n{header}\n{item['schema']}"
    return chat_example(TASK, item, user, f"```sql\n{item['gold_sql']}\n```")


__all__ = ["KINDS", "TASK", "generate", "run_query", "to_chat"]
