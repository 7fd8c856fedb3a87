"""Text-to-SQL data: random schemas from everyday domains, random rows, and English or Russian questions with a
gold SQLite query that is executed to prove it runs and returns rows.

Each item draws a connected set of 1-6 tables from one domain (shop, school, library, hospital, company, music,
travel, sports), fills them with rows, then asks one question of a kind drawn from filters, comparisons,
ORDER BY + LIMIT, aggregates, GROUP BY / HAVING, 2- and 3-table joins, DISTINCT, LIKE, BETWEEN, subqueries and
date conditions. Every item carries the whole database as an SQL script (`db_sql`), so evaluation compares
result sets without any external file.

The words live in data files beside the code: `vocabulary.yaml` (domains, tables, columns and how they are named,
value pools) and `questions.yaml` (the question templates of every kind and their weights). Modules:
`vocabulary` and `wording` read them, `schema` draws databases and rows, `kinds` and `joins` are the question
kinds.

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
from moe_system.data.sql import joins, kinds
from moe_system.data.sql.kinds import Draft, Kind
from moe_system.data.sql.schema import db_sql, draw_schema, run_query, schema_text
from moe_system.data.sql.wording import SOURCE, questions

TASK = "sql"
KINDS: dict[str, Kind] = kinds.KINDS | joins.KINDS


@cache
def _weighted_kinds() -> tuple[Sequence[Kind], Sequence[int]]:
    """The question kinds in `questions.yaml` order, with their weights."""
    weights = questions().weights
    if set(weights) != set(KINDS):
        unknown = sorted(set(weights) ^ set(KINDS))[0]
        raise bad_data(SOURCE, f"kinds.{unknown}", f"the question kinds must be exactly: {', '.join(KINDS)}")
    return tuple(KINDS[name] for name in weights), tuple(weights.values())


def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    schema = draw_schema(rng, "ru" if lang == "ru" and rng.random() < 0.5 else "en")
    drawn, weights = _weighted_kinds()
    found: Draft | None = None
    for _ in range(8):
        found = rng.choices(drawn, weights=weights)[0](rng, schema, lang)
        if found:
            break
    if found is None:
        return None
    database = db_sql(schema)
    try:
        rows = run_query(database, found.sql)
    except sqlite3.Error:
        return None
    if not rows or all(value is None for value in rows[0]):
        return None
    style = rng.choice(("compact", "create"))
    return {
        "id": item_id(TASK, found.question, found.sql, database),
        "lang": lang,
        "difficulty": difficulty(found.level + 0.04 * (len(schema.tables) - 1)),
        "question": found.question,
        "schema": schema_text(schema, style),
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
