"""Evaluation: item files, prompts, answer parsing, the three scorers, `evaluate` with tools, and `moe eval`.

A fake client stands in for the model, so no weights are loaded; python items run real subprocesses.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from moe_system.cli import eval as eval_cli
from moe_system.cli import main
from moe_system.client import _ToolRun
from moe_system.errors import MoEError
from moe_system.experts.manifest import Manifest
from moe_system.training.evaluation import (
    EvalError,
    EvalResult,
    build_prompt,
    evaluate,
    extract_code,
    extract_number,
    load_items,
    score_math,
    score_python,
    score_sql,
)

DB_SQL = """CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT, dept TEXT, salary REAL);
INSERT INTO employees VALUES (1, 'Ada', 'eng', 120.5), (2, 'Bob', 'ops', 80), (3, 'Cy', 'eng', 99.25);"""
SCHEMA = "employees(id, name, dept, salary)"
SQL_ITEM = {"question": "Names of engineers?", "schema": SCHEMA, "db_sql": DB_SQL,
            "gold_sql": "SELECT name FROM employees WHERE dept = 'eng'"}  # fmt: skip
PY_ITEM = {"prompt": "Write add(a, b).", "entry_point": "add", "tests": "assert add(2, 3) == 5\nassert add(-1, 1) == 0"}
MATH_ITEM = {"question": "What is 17 * 23?", "answer": 391}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows))
    return path


class FakeClient:
    """`generate` answers with `reply(prompt, temperature, seed)`, through the SDK's own tool step when the
    expert's manifest lists `tools`; `registry.get` returns that expert. Every call and retry is recorded."""

    def __init__(self, home: Path, reply: Callable[[str, float, int | None], str], tools: list[str] | None = None):
        self.settings = SimpleNamespace(home=home)
        self.reply = reply
        self.calls: list[dict[str, Any]] = []
        data = {"name": "x", "version": "1.0.0", "kind": "lora", "base_model": {"name": "b", "sha256": "ab" * 32},
                "tools": tools or []}  # fmt: skip
        self.expert = SimpleNamespace(manifest=Manifest.from_dict(data))
        self.registry = SimpleNamespace(get=lambda name, version=None: self.expert)

    def generate(self, prompt: str, expert: str = "auto", max_tokens: int | None = None,
                 temperature: float | None = None, seed: int | None = None,
                 tools: bool = True, best_of: int | None = None) -> SimpleNamespace:  # fmt: skip
        self.calls.append({"prompt": prompt, "expert": expert, "temperature": temperature, "seed": seed,
                           "max_tokens": max_tokens, "tools": tools})  # fmt: skip
        names = self.expert.manifest.tools if tools and expert != "none" else []

        def sample(retry_seed: int) -> str:
            self.calls.append({"prompt": prompt, "expert": expert, "temperature": 0.7, "seed": retry_seed})
            return self.reply(prompt, 0.7, retry_seed)

        return SimpleNamespace(text=_ToolRun(names, prompt, sample)(self.reply(prompt, temperature or 0.0, seed)))


# ---- items and prompts


def test_load_items_ignores_extra_keys_and_blank_lines(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "m.jsonl", [{**MATH_ITEM, "id": "m1", "lang": "en"}, "", {"question": "q", "answer": "1,5"}]
    )
    items = load_items(path, "math")
    assert [item["question"] for item in items] == ["What is 17 * 23?", "q"]
    assert items[0]["id"] == "m1"


@pytest.mark.parametrize(
    ("task", "rows", "message"),
    [
        ("sql", [SQL_ITEM, {"question": "q", "schema": "s"}], r"m\.jsonl:2: missing key 'gold_sql' \(a sql item needs"),
        ("math", [MATH_ITEM, "{oops", MATH_ITEM], r"m\.jsonl:2: invalid JSON at column 2"),
        ("math", ["[1, 2]"], r"m\.jsonl:1: expected a JSON object, not list"),
        ("math", [{"question": "q", "answer": "many"}], r"m\.jsonl:1: 'answer' must be a number"),
        ("python", [{**PY_ITEM, "entry_point": "add me"}], r"m\.jsonl:1: 'entry_point' must be a Python name"),
        ("python", [{**PY_ITEM, "tests": ""}], r"m\.jsonl:1: 'tests' must be a non-empty string"),
        ("sql", [{**SQL_ITEM, "db_sql": 3}], r"m\.jsonl:1: 'db_sql' must be a string"),
        ("math", ["", "  "], r"m\.jsonl: no items"),
        ("poetry", [MATH_ITEM], "unknown task 'poetry'"),
    ],
)
def test_load_items_errors_name_the_line(tmp_path: Path, task: str, rows: list[Any], message: str) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    with pytest.raises(EvalError, match=message) as info:
        load_items(path, task)
    assert "\n" not in str(info.value) and isinstance(info.value, MoEError)


def test_load_items_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="cannot read"):
        load_items(tmp_path / "missing.jsonl", "math")


def test_build_prompt() -> None:
    assert build_prompt(SQL_ITEM, "sql") == f"Names of engineers?\n\nSchema:\n{SCHEMA}"
    assert build_prompt({**SQL_ITEM, "question": "Имена инженеров?"}, "sql").startswith("Имена инженеров?\n\nСхема:\n")
    assert build_prompt(PY_ITEM, "python") == "Write add(a, b)."
    assert build_prompt(MATH_ITEM, "math") == "What is 17 * 23?"


# ---- reading answers


@pytest.mark.parametrize(
    ("text", "language", "code"),
    [
        ("Here:\n```sql\nSELECT 1;\n```\nDone.", "sql", "SELECT 1;"),
        ("```python\nx = 1\n```\nand\n```sql\nSELECT 2\n```", "sql", "SELECT 2"),
        ("```\nSELECT 3\n```", "sql", "SELECT 3"),
        ("```py\ndef f():\n    return 1\n```", "python", "def f():\n    return 1"),
        ("```python\ndef f():\n    return 1", "python", "def f():\n    return 1"),  # cut off by max_tokens
        ("  SELECT 4  ", "sql", "SELECT 4"),
    ],
)
def test_extract_code(text: str, language: str, code: str) -> None:
    assert extract_code(text, language) == code


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("The total is 42.", 42.0),
        ("3 boxes of 12 give 36 apples", 36.0),
        ("Answer: 1,234.5 dollars (from 1000 + 234.5)", 1234.5),
        ("We get 7 and then 8.\nAnswer: 7", 7.0),
        ("**Answer:** -3", -3.0),
        ("Ответ: 1 234,5 руб.", 1234.5),
        ("Итого 12,5 кг", 12.5),
        ("Ответ: 0,500", 0.5),
        ("1\u00a0000\u00a0000 people", 1_000_000.0),
        ("x = 1e-3", 0.001),
        ("It is 5-3 = 2", 2.0),
        ("Answer: unknown, but maybe 4", 4.0),
        ("no digits here", None),
    ],
)
def test_extract_number(text: str, number: float | None) -> None:
    assert extract_number(text) == (pytest.approx(number) if number is not None else None)


def test_score_math() -> None:
    assert score_math(MATH_ITEM, "17 * 23 = 391\nAnswer: 391")
    assert score_math(MATH_ITEM, "Ответ: 391,0000001")
    assert not score_math(MATH_ITEM, "Answer: 390")
    assert not score_math(MATH_ITEM, "I do not know")
    assert score_math({"question": "q", "answer": "1,234.5"}, "= 1 234,5")


# ---- sql


@pytest.mark.parametrize(
    ("answer", "correct"),
    [
        ("```sql\nSELECT name FROM employees WHERE dept = 'eng';\n```", True),
        ("SELECT name FROM employees WHERE dept = 'eng' ORDER BY name DESC", True),  # gold has no ORDER BY
        ("SELECT name FROM employees WHERE salary > 90", True),
        ("SELECT name FROM employees", False),
        ("SELECT name, dept FROM employees WHERE dept = 'eng'", False),
        ("SELECT nme FROM employees", False),
        ("DELETE FROM employees", False),
        ("not sql at all", False),
    ],
)
def test_score_sql_compares_result_multisets(answer: str, correct: bool) -> None:
    assert score_sql(SQL_ITEM, answer) is correct


def test_score_sql_order_matters_only_with_order_by_in_gold() -> None:
    item = {**SQL_ITEM, "gold_sql": "SELECT name FROM employees ORDER BY salary DESC"}
    assert score_sql(item, "SELECT name FROM employees ORDER BY salary DESC")
    assert not score_sql(item, "SELECT name FROM employees ORDER BY salary")
    window = {**SQL_ITEM, "gold_sql": "SELECT name, RANK() OVER (ORDER BY salary DESC) FROM employees"}
    assert score_sql(window, "SELECT name, RANK() OVER (ORDER BY salary DESC) FROM employees ORDER BY name")
    inner = {**SQL_ITEM, "gold_sql": "SELECT name FROM (SELECT name FROM employees ORDER BY salary)"}
    assert score_sql(inner, "SELECT name FROM employees ORDER BY name DESC")  # only the outer query orders rows


def test_score_sql_numbers_within_tolerance() -> None:
    item = {**SQL_ITEM, "gold_sql": "SELECT avg(salary) FROM employees WHERE dept = 'eng'"}
    assert score_sql(item, "SELECT (120.5 + 99.25) / 2")
    assert score_sql(item, "SELECT 109.8750000001")
    assert not score_sql(item, "SELECT 109.88")
    assert score_sql({**SQL_ITEM, "gold_sql": "SELECT count(*) FROM employees"}, "SELECT 3.0")


def test_score_sql_stops_a_recursive_bomb() -> None:
    bomb = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x < 0"
    started = time.monotonic()
    assert not score_sql(SQL_ITEM, bomb)
    assert time.monotonic() - started < 4


def test_score_sql_on_a_read_only_database_file(tmp_path: Path) -> None:
    path = tmp_path / "company.db"
    with sqlite3.connect(path) as db:
        db.executescript(DB_SQL)
    db.close()
    before = path.read_bytes()
    item = {key: value for key, value in SQL_ITEM.items() if key != "db_sql"}
    assert score_sql(item, "SELECT name FROM employees WHERE dept = 'eng'", db=path)
    for attack in ("DELETE FROM employees", "WITH x AS (SELECT 1) UPDATE employees SET salary = 0",
                   f"ATTACH DATABASE '{tmp_path / 'new.db'}' AS x", "PRAGMA user_version = 5"):  # fmt: skip
        assert not score_sql(item, attack, db=path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["company.db"]
    with pytest.raises(EvalError, match="no 'db_sql'; name a database with --db"):
        score_sql(item, "SELECT 1")


def test_score_sql_broken_gold_or_db_sql_is_an_item_error() -> None:
    with pytest.raises(EvalError, match="the gold query fails"):
        score_sql({**SQL_ITEM, "gold_sql": "SELECT salary FROM staff"}, "SELECT 1")
    with pytest.raises(EvalError, match="'db_sql' does not build"):
        score_sql({**SQL_ITEM, "db_sql": "CREATE TABLE"}, "SELECT 1")


# ---- python


@pytest.mark.parametrize(
    ("answer", "correct"),
    [
        ("```python\ndef add(a, b):\n    return a + b\n```", True),
        ("def add(a, b):\n    import math\n    return int(math.fsum([a, b]))", True),  # the stdlib imports
        ("```python\ndef add(a, b):\n    return a - b\n```", False),
        ("```python\ndef add(a, b)\n    return a + b\n```", False),  # syntax error
        ("def add(a, b):\n    x = bytearray(2 << 30)\n    return a + b", False),  # over the 1 GiB address space
        ("import os\nos._exit(0)", False),  # exits before the tests: status 0 is not enough
        ("import sys\nsys.exit(0)", False),
        ("def add(a, b):\n    return a + b\nif __name__ == '__main__':\n    print(add(int(input()), 1))", True),
    ],
)
def test_score_python(tmp_path: Path, answer: str, correct: bool) -> None:
    assert score_python(PY_ITEM, answer, scratch=tmp_path / "scratch") is correct
    assert list((tmp_path / "scratch").iterdir()) == []


def test_score_python_kills_an_endless_loop(tmp_path: Path) -> None:
    started = time.monotonic()
    assert not score_python(PY_ITEM, "def add(a, b):\n    while True:\n        pass", timeout_s=1.0, scratch=tmp_path)
    assert time.monotonic() - started < 3


def test_score_python_writes_only_inside_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code = (
        "import os, tempfile\n"
        "open('out.txt', 'w').write('x')\n"
        "open(os.path.expanduser('~/home.txt'), 'w').write('x')\n"
        "tempfile.NamedTemporaryFile(delete=False).write(b'x')\n"
        "def add(a, b):\n    return a + b\n"
    )
    assert score_python(PY_ITEM, code, scratch=tmp_path / "scratch")
    assert list(cwd.iterdir()) == [] and list((tmp_path / "scratch").iterdir()) == []


def test_score_python_calls_a_check_function(tmp_path: Path) -> None:
    item = {**PY_ITEM, "tests": "def check(candidate):\n    assert candidate(1, 1) == 3\n"}
    assert not score_python(item, "def add(a, b):\n    return a + b", scratch=tmp_path)
    assert score_python(item, "def add(a, b):\n    return a + b + 1", scratch=tmp_path)


# ---- evaluate


def test_evaluate_base_model_math_without_tools(tmp_path: Path) -> None:
    client = FakeClient(tmp_path, lambda prompt, t, s: "```python\nanswer = 17 * 23\n```\nAnswer: 390")
    result = evaluate(client, "math", [MATH_ITEM, {"question": "2 + 2?", "answer": 4, "id": "b", "lang": "ru"}],
                      "none", progress=False)  # fmt: skip
    assert result.to_dict() == {"task": "math", "expert": None, "n": 2, "correct": 0, "accuracy": 0.0,
                                "best_of": None, "by_lang": {"ru": 0.0}}  # only the items that name a language
    assert result.details() == [{"id": 1, "prediction": 390.0, "correct": False, "lang": None},
                                {"id": "b", "prediction": 390.0, "correct": False, "lang": "ru"}]  # fmt: skip
    assert {call["expert"] for call in client.calls} == {"none"}
    assert {call["temperature"] for call in client.calls} == {0.0}
    assert {call["max_tokens"] for call in client.calls} == {512}


def test_a_batching_client_answers_items_at_once_and_the_results_keep_their_order(tmp_path: Path) -> None:
    """With `batching`, up to `batch_size` items are in flight together (they would decode in one batch); the
    details still come in item order, whatever order the answers finish in."""
    import threading

    in_flight, most = 0, 0
    lock = threading.Lock()

    def slow_reply(prompt: str, temperature: float, seed: int | None) -> str:
        nonlocal in_flight, most
        number = int(prompt.split("What is ")[1].split(" ")[0])
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.05 * (6 - number))  # the first items finish last
        with lock:
            in_flight -= 1
        return f"Answer: {number}"

    client = FakeClient(tmp_path, slow_reply)
    client.batching = True  # type: ignore[attr-defined]
    items = [{"question": f"What is {n} plus zero?", "answer": n, "id": str(n)} for n in range(1, 6)]
    result = evaluate(client, "math", items, "none", batch_size=4, progress=False)
    assert result.correct == 5 and [entry["id"] for entry in result.details()] == ["1", "2", "3", "4", "5"]
    assert most == 4


def test_evaluate_expert_math_with_the_calculator(tmp_path: Path) -> None:
    client = FakeClient(tmp_path, lambda p, t, s: "```python\nanswer = 17 * 23\n```\nAnswer: 390", ["calculator"])
    result = evaluate(client, "math", [MATH_ITEM], "math", max_tokens=64, progress=False)
    assert (result.expert, result.correct, result.accuracy) == ("math", 1, 1.0)
    assert client.calls[0]["expert"] == "math" and client.calls[0]["max_tokens"] == 64
    assert evaluate(client, "math", [MATH_ITEM], "math", progress=False, tools=False).correct == 0


def test_evaluate_sql_check_resamples_a_failing_query(tmp_path: Path) -> None:
    def reply(prompt: str, temperature: float, seed: int | None) -> str:
        if seed == 2:
            return "```sql\nSELECT name FROM employees WHERE dept = 'eng'\n```"
        return "```sql\nSELECT nme FROM employees WHERE dept = 'eng'\n```"

    client = FakeClient(tmp_path, reply, ["sql_check"])
    result = evaluate(client, "sql", [SQL_ITEM], "sql", progress=False)
    assert result.correct == 1
    assert result.per_item[0]["prediction"] == "SELECT name FROM employees WHERE dept = 'eng'"
    assert [(c["temperature"], c["seed"]) for c in client.calls] == [(0.0, None), (0.7, 1), (0.7, 2)]
    assert client.calls[0]["prompt"] == f"Names of engineers?\n\nSchema:\n{SCHEMA}"

    base = FakeClient(tmp_path, reply, ["sql_check"])
    assert evaluate(base, "sql", [SQL_ITEM], "none", progress=False).correct == 0
    assert len(base.calls) == 1  # no tools for the base model


def test_evaluate_python_and_argument_errors(tmp_path: Path) -> None:
    client = FakeClient(tmp_path, lambda p, t, s: "```python\ndef add(a, b):\n    return a + b\n```")
    result = evaluate(client, "python", [PY_ITEM], "python", progress=False)
    assert isinstance(result, EvalResult) and result.correct == 1
    assert list((tmp_path / "tmp").iterdir()) == []
    with pytest.raises(EvalError, match="evaluate one expert by name"):
        evaluate(client, "python", [PY_ITEM], "auto", progress=False)
    with pytest.raises(EvalError, match="evaluate one expert by name"):
        evaluate(client, "python", [PY_ITEM], "sql,python", progress=False)
    with pytest.raises(EvalError, match=r"--db .*: no such file"):
        evaluate(client, "sql", [SQL_ITEM], "none", db=tmp_path / "nope.db", progress=False)
    with pytest.raises(EvalError, match=r"^item q7: the gold query fails"):
        evaluate(client, "sql", [{**SQL_ITEM, "id": "q7", "gold_sql": "SELECT x FROM y"}], "none", progress=False)


# ---- moe eval


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, client: FakeClient) -> int:
    monkeypatch.setattr(eval_cli, "make_client", lambda batching=False: client)
    monkeypatch.setattr(sys, "argv", ["moe", "eval", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return int(info.value.code or 0)


def test_cli_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "math.jsonl", [{**MATH_ITEM, "lang": "en"}, {"question": "2 + 2?", "answer": 4,
                                                                           "lang": "ru"}, MATH_ITEM])
    client = FakeClient(tmp_path, lambda p, t, s: "Answer: 391")
    code = run_cli(["--expert", "none", "--task", "math", "--file", str(path), "--limit", "2", "--json"],
                   monkeypatch, client)  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out) == {"task": "math", "expert": None, "n": 2, "correct": 1, "accuracy": 0.5,
                                        "best_of": None, "by_lang": {"en": 1.0, "ru": 0.0}}
    assert captured.out.count("\n") == 1


def test_cli_table_and_wrong_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "sql.jsonl", [SQL_ITEM, {**SQL_ITEM, "id": "hard", "gold_sql": "SELECT 1"}])
    client = FakeClient(tmp_path, lambda p, t, s: "SELECT name FROM employees WHERE dept = 'eng'")
    code = run_cli(["-e", "sql", "--task", "sql", "-f", str(path), "--no-tools"], monkeypatch, client)
    captured = capsys.readouterr()
    assert code == 0
    assert "50.0%" in captured.out and "sql" in captured.out
    assert "wrong item hard: Names of engineers?" in captured.err and "expected: SELECT 1" in captured.err


def test_cli_bad_file_exits_2_with_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "py.jsonl", [PY_ITEM, {"prompt": "p", "tests": "assert True"}])
    code = run_cli(["--expert", "python", "--task", "python", "--file", str(path)], monkeypatch,
                   FakeClient(tmp_path, lambda p, t, s: ""))  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2
    assert "py.jsonl:2: missing key 'entry_point'" in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
