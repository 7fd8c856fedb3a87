"""The text-to-SQL generator's grammar: every shape of `shapes.yaml` in both languages and all registers, gold
queries that run and return rows on their own database and pass the schema check in every schema form, templates
read from the data file, determinism."""

from __future__ import annotations

import random
import re
import sqlite3
from typing import Any

import pytest

from moe_system.data import GENERATORS
from moe_system.data.common import read_yaml
from moe_system.data.sql import grammar
from moe_system.data.sql.schema import SCHEMA_STYLES, db_sql, draw_schema, schema_text
from moe_system.tools.sql_check import sql_verdict
from moe_system.tools.sql_schema import SchemaInfo, schema_problem

CYRILLIC = re.compile("[а-яё]", re.I)


def _bound(name: str, lang: str, register: str) -> tuple[str, str, str, Any]:
    """(question, gold sql, database, schema) for a shape, drawn until its gold query is accepted."""
    shape = grammar.shapes()[name]
    rng = random.Random(f"{name}/{lang}/{register}")
    for _ in range(400):
        schema = draw_schema(rng, "en" if lang == "en" or rng.random() < 0.5 else "ru")
        bound = grammar.bind(rng, schema, lang, shape)
        if bound is None:
            continue
        binding, sql = bound
        database = db_sql(schema)
        if grammar.accept(shape, binding, sql, database):
            return grammar.word(rng, shape, binding, register), sql, database, schema
    raise AssertionError(f"shape {name} never fit a drawn schema in {lang}")


def test_the_grammar_has_enough_shapes_registers_and_languages() -> None:
    shapes = grammar.shapes()
    assert len(shapes) >= 30
    for shape in shapes.values():
        assert set(shape.questions) == {"en", "ru"}
        assert all(set(registers) == set(grammar.REGISTERS) for registers in shape.questions.values())


def test_english_templates_have_no_cyrillic_and_russian_ones_have_some() -> None:
    for shape in grammar.shapes().values():
        for lang, registers in shape.questions.items():
            for template in (t for templates in registers.values() for t in templates):
                words = re.sub(r"\{[^}]*\}", "", template)
                assert bool(CYRILLIC.search(words)) == (lang == "ru"), (shape.name, template)


def test_shapes_and_their_sql_come_from_the_data_file() -> None:
    raw = read_yaml("moe_system.data.sql", "shapes.yaml")["shapes"]
    assert list(raw) == list(grammar.shapes())
    assert all(grammar.shapes()[name].sql == spec["sql"].strip() for name, spec in raw.items())
    with open(grammar.__file__, encoding="utf-8") as source:
        assert "SELECT " not in source.read()  # no query text in the code


@pytest.mark.parametrize("name", list(grammar.shapes()))
def test_every_shape_in_both_languages_and_all_registers_runs_and_returns_rows(name: str) -> None:
    for lang in ("en", "ru"):
        for register in grammar.REGISTERS:
            question, sql, database, schema = _bound(name, lang, register)
            assert "{" not in question and "}" not in question, question
            assert bool(CYRILLIC.search(question)) == (lang == "ru"), question  # build_prompt picks "Схема:" by it
            if register == "casual":
                assert question == question.lower() or any(c.isupper() for c in sql), question
            conn = sqlite3.connect(":memory:")
            conn.executescript(database)
            assert conn.execute(sql).fetchall(), sql
            conn.close()
            for style in SCHEMA_STYLES:  # the tool's schema check accepts every gold query in every form
                text = schema_text(schema, style, lang)
                assert schema_problem(sql, SchemaInfo.of(text)) is None, (style, sql)
            verdict = sql_verdict(f"```sql\n{sql}\n```", f"{question}\n\nSchema:\n{schema_text(schema, 'compact')}")
            assert verdict.ok, verdict.reason


def test_nullable_columns_lose_not_null_and_hold_nulls() -> None:
    _, _, database, schema = _bound("null_is", "en", "formal")
    table = next(t for t in schema.tables if t.nullable)
    column = next(iter(table.nullable))
    assert re.search(rf"\n  {column} \w+,?\n", database)  # no NOT NULL on it
    assert any(row[column] is None for row in table.rows)
    assert "nullable" in schema_text(schema, "bullets", "en")


def test_generated_items_are_deterministic_and_use_every_schema_form() -> None:
    first = GENERATORS["sql"].generate(120, 0, "mix")
    assert first == GENERATORS["sql"].generate(120, 0, "mix")
    assert first != GENERATORS["sql"].generate(120, 1, "mix")
    assert {item["schema_style"] for item in first} == set(SCHEMA_STYLES)
    for item in first:
        conn = sqlite3.connect(":memory:")
        conn.executescript(item["db_sql"])
        assert conn.execute(item["gold_sql"]).fetchall(), item["gold_sql"]
        conn.close()
        assert schema_problem(item["gold_sql"], SchemaInfo.of(item["schema"])) is None, item


def test_casual_questions_sometimes_carry_a_typo_that_spares_the_values() -> None:
    rng = random.Random(0)
    keep = {"Moscow", "price"}
    typed = {grammar._typo(rng, "show every customer from Moscow sorted by price", keep) for _ in range(30)}
    assert len(typed) > 3
    assert all("Moscow" in text and "price" in text for text in typed)
