"""Offline data generators (`moe_system.data`) and `moe data`: determinism, variety, both languages, the held-out
evaluation slice, and that every item checks out — SQL gold queries run on their own database and return rows,
Python reference solutions pass their tests, math programs reproduce the answer — plus the chat format and the
CLI. Generation is fast (stdlib only); the whole file runs in a few seconds.

    .venv/bin/pytest -q tests/unit/test_data_generators.py
"""

from __future__ import annotations

import ast
import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from moe_system.data import EVAL_SEED_MIN, GENERATORS, DataError, get_generator
from moe_system.tools.calculator import safe_eval_program
from moe_system.tools.python_examples import stated_examples

N = 500
KEY = {"sql": "question", "python": "prompt", "math": "question"}
EVAL_KEYS = {
    "sql": {"id", "lang", "difficulty", "question", "schema", "schema_style", "gold_sql", "db_sql"},
    "python": {"id", "lang", "difficulty", "prompt", "entry_point", "tests", "solution"},
    "math": {"id", "lang", "difficulty", "question", "answer", "solution"},
}
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


@pytest.fixture(scope="module")
def items() -> dict[str, list[dict[str, Any]]]:
    """N mixed-language training-seed items per task, generated once for the module."""
    return {task: generator.generate(N, 0) for task, generator in GENERATORS.items()}


def _code_block(text: str, language: str) -> str:
    found = re.fullmatch(rf".*```{language}\n(.*?)\n```.*", text, re.DOTALL)
    assert found, text
    return found.group(1)


# ------------------------------------------------------------------------------------------------ common


@pytest.mark.parametrize("task", list(GENERATORS))
def test_same_seed_same_items_and_prefix(task: str, items: dict[str, list[dict[str, Any]]]) -> None:
    generator = GENERATORS[task]
    assert generator.generate(40, 0) == items[task][:40]
    assert generator.generate(40, 0) == generator.generate(40, 0)


@pytest.mark.parametrize("task", list(GENERATORS))
def test_different_seeds_differ_and_eval_is_held_out(task: str, items: dict[str, list[dict[str, Any]]]) -> None:
    generator = GENERATORS[task]
    other = generator.generate(100, 1)
    evaluation = generator.generate(100, EVAL_SEED_MIN)
    train_texts = {item[KEY[task]] for item in items[task]}
    assert len({item[KEY[task]] for item in other} & train_texts) < 10
    assert not {item[KEY[task]] for item in evaluation} & train_texts  # the held-out slice never leaks
    assert not {item["id"] for item in evaluation} & {item["id"] for item in items[task]}


@pytest.mark.parametrize("task", list(GENERATORS))
def test_items_have_the_contract_keys_languages_and_variety(task: str, items: dict[str, list[dict[str, Any]]]) -> None:
    batch = items[task]
    assert len(batch) == N
    for item in batch:
        assert set(item) == EVAL_KEYS[task]
        assert re.fullmatch(rf"{task}-[0-9a-f]{{16}}", item["id"])
        assert 0.0 <= item["difficulty"] <= 1.0
        text = item[KEY[task]]
        if task == "python":  # an English coding request may quote Cyrillic data (an edge case), not Cyrillic prose
            text = re.sub(r"`[^`\n]*`|(?<!\w)'[^'\n]*'|\"[^\"\n]*\"", "", text)
        assert (CYRILLIC.search(text) is not None) == (item["lang"] == "ru")
    langs = Counter(item["lang"] for item in batch)
    assert 0.4 * N <= langs["en"] <= 0.6 * N and langs["en"] + langs["ru"] == N
    assert len({item[KEY[task]] for item in batch}) >= 0.9 * N
    assert len({item["id"] for item in batch}) == N
    assert len({round(item["difficulty"], 1) for item in batch}) >= 4


@pytest.mark.parametrize("task", list(GENERATORS))
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_one_language_on_request(task: str, lang: str) -> None:
    assert {item["lang"] for item in GENERATORS[task].generate(30, 3, lang)} == {lang}


def test_bad_requests_are_user_errors() -> None:
    with pytest.raises(DataError, match="language"):
        GENERATORS["sql"].generate(5, 0, "de")
    with pytest.raises(DataError, match="at least 1"):
        GENERATORS["math"].generate(0, 0)
    with pytest.raises(DataError, match="sql, python, math"):
        get_generator("chess")


@pytest.mark.parametrize("task", list(GENERATORS))
def test_chat_examples(task: str, items: dict[str, list[dict[str, Any]]]) -> None:
    generator = GENERATORS[task]
    for item in items[task][:100]:
        chat = generator.to_chat(item)
        assert set(chat) == {"messages", "meta"}
        assert [m["role"] for m in chat["messages"]] == ["user", "assistant"]
        assert chat["meta"] == {"task": task, "lang": item["lang"], "difficulty": item["difficulty"], "id": item["id"]}
        user, assistant = (m["content"] for m in chat["messages"])
        assert user.startswith(item[KEY[task]])
        if task == "sql":
            header, schema = user[len(item["question"]) + 2:].split("\n", 1)
            assert user[len(item["question"]):].startswith("\n\n") and schema == item["schema"]
            assert header in ("Schema:", "Database schema:", "Tables:", "Схема:", "Схема базы данных:", "Таблицы:")
            assert assistant == f"```sql\n{item['gold_sql']}\n```"
        elif task == "python":
            assert assistant == f"```python\n{item['solution'].rstrip()}\n```"
        else:
            assert assistant.endswith(f"{'Answer' if item['lang'] == 'en' else 'Ответ'}: {item['answer']}")


# ---------------------------------------------------------------------------------------------------- sql


def test_sql_gold_queries_run_on_their_database_and_return_rows(items: dict[str, list[dict[str, Any]]]) -> None:
    for item in items["sql"]:
        conn = sqlite3.connect(":memory:")
        conn.executescript(item["db_sql"])
        rows = conn.execute(item["gold_sql"]).fetchall()
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        conn.close()
        assert rows, item["gold_sql"]
        assert 1 <= len(tables) <= 6
        assert all(re.search(rf"\b{t}\b", item["schema"]) for t in tables)
        if item["schema_style"] == "compact":
            assert all(re.fullmatch(r"\w+\(\w+(, \w+)*\)", line) for line in item["schema"].splitlines())
        elif item["schema_style"] == "create":
            assert item["schema"].count("CREATE TABLE") == len(tables) and item["db_sql"].startswith(item["schema"])


def test_sql_covers_the_query_kinds(items: dict[str, list[dict[str, Any]]]) -> None:
    queries = [item["gold_sql"] for item in items["sql"]]
    patterns = {
        "filter": r"WHERE \w+ = '", "compare": r"WHERE \w+ [<>]=? \d", "order_limit": r"ORDER BY .* LIMIT \d",
        "count": r"COUNT\(", "sum": r"SUM\(", "avg": r"AVG\(", "min": r"MIN\(", "max": r"MAX\(",
        "group_by": r"GROUP BY", "having": r"HAVING", "join": r" JOIN ", "join3": r"JOIN .* JOIN ",
        "left_join": r"LEFT JOIN", "distinct": r"DISTINCT", "like": r" LIKE '", "between": r" BETWEEN ",
        "subquery_in": r" IN \(SELECT", "not_in": r"NOT IN \(SELECT", "scalar_subquery": r"\(SELECT AVG",
        "date": r"strftime\('%Y'|'\d{4}-\d\d-\d\d'",
    }
    counts = {kind: sum(bool(re.search(p, q)) for q in queries) for kind, p in patterns.items()}
    assert all(counts.values()), counts
    assert counts["join"] >= 0.15 * N
    assert {item["schema_style"] for item in items["sql"]} == {"compact", "create", "typed", "lines", "bullets"}
    assert len({item["db_sql"] for item in items["sql"]}) == N  # rows always differ; table layouts repeat
    assert len({item["schema"] for item in items["sql"]}) >= 0.4 * N


# ------------------------------------------------------------------------------------------------- python


def test_python_solutions_pass_their_tests(items: dict[str, list[dict[str, Any]]]) -> None:
    for item in items["python"]:
        namespace: dict[str, Any] = {}
        exec(item["solution"], namespace)  # our own reference code
        exec(item["tests"], namespace)
        tree = ast.parse(item["solution"])
        defined = next(node for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef))
        docstring = ast.get_docstring(defined)
        assert defined.name == item["entry_point"] and docstring and "\n" not in docstring
        assert item["entry_point"] in item["prompt"]
        assert item["tests"].count("assert ") >= 4
        stated = [ex for ex in stated_examples(item["prompt"]) if ex.name == item["entry_point"]]
        for example in stated:  # every example the request states is a test
            assert f"assert {example.call()} == {example.expected!r}\n" in item["tests"], item["prompt"]


def test_python_has_many_task_families(items: dict[str, list[dict[str, Any]]]) -> None:
    from moe_system.data.python import families

    assert len(families()) >= 40
    assert len({item["entry_point"] for item in items["python"]}) >= 100


def test_python_reference_check_catches_a_wrong_solution() -> None:
    from moe_system.data.python import run_tests

    item = GENERATORS["python"].generate(1, 0)[0]
    broken = dict(item, solution=item["solution"].replace("return", "return None and", 1))
    assert run_tests([item, broken]) == [True, False]


# --------------------------------------------------------------------------------------------------- math


def test_math_programs_reproduce_the_answer(items: dict[str, list[dict[str, Any]]]) -> None:
    for item in items["math"]:
        reasoning = item["solution"].partition("\n\n```python\n")[0]
        assert 1 <= len(reasoning.splitlines()) <= 4
        program = _code_block(item["solution"], "python")
        assert program.splitlines()[-1].startswith("answer = ")
        assert safe_eval_program(program) == pytest.approx(item["answer"], rel=1e-9, abs=1e-9)
        assert isinstance(item["answer"], int | float) and round(item["answer"], 2) == item["answer"]
        final = item["solution"].splitlines()[-1]
        assert final == f"{'Answer' if item['lang'] == 'en' else 'Ответ'}: {item['answer']}"
        if "3.14" in program:
            assert "π = 3.14" in item["question"] or "π = 3,14" in item["question"]


# ---------------------------------------------------------------------------------------------------- cli


def test_cli_writes_jsonl_refuses_to_overwrite_and_shows(tmp_path: Path) -> None:
    from moe_system.cli import app

    runner = CliRunner()
    target = tmp_path / "out" / "math.jsonl"
    args = ["data", "generate", "math", "--n", "20", "--seed", "1", "-o", str(target)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 20 and all(set(line) == {"messages", "meta"} for line in lines)
    assert "wrote 20 math training examples" in result.output

    again = runner.invoke(app, args)
    assert isinstance(again.exception, DataError) and "--force" in str(again.exception)

    evaluation = tmp_path / "sql-eval.jsonl"
    result = runner.invoke(app, ["data", "generate", "sql", "--n", "5", "--seed", "1000", "--format", "eval",
                                 "--lang", "ru", "-o", str(evaluation)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in evaluation.read_text(encoding="utf-8").splitlines()]
    assert [r["lang"] for r in records] == ["ru"] * 5 and all("gold_sql" in r for r in records)
    assert not list(tmp_path.glob(".*.tmp"))

    forced = runner.invoke(app, [*args[:-2], "--force", "-o", str(target), "--format", "eval"])
    assert forced.exit_code == 0 and "answer" in json.loads(target.read_text(encoding="utf-8").splitlines()[0])

    shown = runner.invoke(app, ["data", "show", "python", "--seed", "2"])
    assert shown.exit_code == 0 and shown.output.count("```python") == 3
