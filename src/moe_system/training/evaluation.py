"""Evaluation of an expert, or the base model, on held-out sql / python / math items (behind `moe eval`).

    from moe_system.training.evaluation import evaluate, load_items
    items = load_items(Path("sql-test.jsonl"), "sql")
    result = evaluate(MoEClient(), "sql", items, expert="sql")
    result.to_dict()   # {"task": "sql", "expert": "sql", "n": 200, "correct": 131, "accuracy": 0.655}

Items are JSONL, one object a line; keys other than these are ignored:
- sql: `question`, `schema` (the text shown to the model), `gold_sql`, optional `db_sql` (a script that builds
  the database; `--db FILE` opens an existing SQLite file read-only instead). Correct when the predicted query
  returns the same rows as the gold one: a multiset, in order only when the gold query has ORDER BY, numbers
  equal within 1e-6. Only one SELECT / WITH statement runs, read-only, for at most 2 s.
- python: `prompt`, `entry_point`, `tests` (Python source with asserts). The answer's code, then the tests,
  run in the sandbox (`tools/sandbox.py`: under bubblewrap, no network and no view of `MOE_HOME`, `python -I -B`
  in a fresh folder, with limits on processes, CPU, 1 GiB address space, file size and core files) and a
  wall-clock timeout (10 s); correct when every
  test ran and it exits with status 0. The code runs as module `solution`, so its `if __name__ == "__main__":`
  block does not.
- math: `question`, `answer` (a number). Correct when the answer's final number is within 1e-6 (relative) of
  it: the first number after the last `Answer:` / `Ответ:`, else the last number of the text.

Decoding is greedy. Tools (`moe_system.tools`, applied by the SDK) post-process an expert's answers only when its
manifest lists them:
`calculator` runs a math answer's ```python block and rewrites its `Answer:` line; `sql_check` runs the
greedy query on an empty copy of the schema and, when it fails, samples up to three more candidates
(temperature 0.7, seeds 1, 2, 3) and keeps the first that runs, falling back to the greedy one. The base
model (`expert="none"`) never gets tools, so expert and base scores differ only by what the expert adds.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from moe_system.data.dev import dev_file, dev_tasks
from moe_system.data.field import SCORING_ONLY, field_file
from moe_system.errors import MoEError, ToolError, one_line
from moe_system.experts.spec import parse_expert_spec
from moe_system.tools.code import extract_code
from moe_system.tools.sandbox import run_python
from moe_system.tools.sql_check import run_select

TASKS = ("sql", "python", "math")
REQUIRED_KEYS = {
    "sql": ("question", "schema", "gold_sql"),
    "python": ("prompt", "entry_point", "tests"),
    "math": ("question", "answer"),
}
DEFAULT_MAX_TOKENS = {"sql": 256, "python": 512, "math": 512}
PYTHON_TIMEOUT_S = 10.0
GOLD_TIMEOUT_S = 30.0  # the gold query is trusted, but may be slow on a large --db
MEMORY_LIMIT_MB = 1024
REL_TOL = 1e-6


class EvalError(MoEError):
    """An evaluation file, item or option is unusable; the message names the line or item."""


@dataclass
class EvalResult:
    """The score of one run. `per_item` holds `{"id", "prediction", "correct", "lang"}` per item, in file order."""

    task: str
    expert: str | None  # None: the base model
    n: int
    correct: int
    accuracy: float
    per_item: list[dict[str, Any]] = field(default_factory=list)
    best_of: int | None = None  # what the run asked for; None: each expert's own setting (its manifest)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of `moe eval --json` (`by_lang`: the accuracy per `lang` of the items that have one)."""
        return {"task": self.task, "expert": self.expert, "n": self.n, "correct": self.correct,
                "accuracy": self.accuracy, "best_of": self.best_of, "by_lang": self.by_lang()}  # fmt: skip

    def by_lang(self) -> dict[str, float]:
        """Accuracy per language, over the items that name theirs (`lang`), in language order."""
        marks: dict[str, list[bool]] = {}
        for entry in self.per_item:
            if entry.get("lang") is not None:
                marks.setdefault(str(entry["lang"]), []).append(bool(entry["correct"]))
        return {lang: round(sum(hits) / len(hits), 4) for lang, hits in sorted(marks.items())}

    def details(self) -> list[dict[str, Any]]:
        """Per-item predictions and verdicts."""
        return [dict(entry) for entry in self.per_item]


# ---- items and prompts


def load_items(path: Path, task: str) -> list[dict[str, Any]]:
    """Read and check a JSONL file of `task` items; `EvalError` names the line and the problem."""
    keys = _required_keys(task)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise EvalError(f"cannot read {path}: {one_line(err)}") from err
    items = []
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 may sit inside a string
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise EvalError(f"{where}: invalid JSON at column {err.colno}: {err.msg}") from err
        if not isinstance(item, dict):
            raise EvalError(f"{where}: expected a JSON object, not {type(item).__name__}")
        missing = [key for key in keys if key not in item]
        if missing:
            raise EvalError(f"{where}: missing key '{missing[0]}' (a {task} item needs {', '.join(keys)})")
        _check_values(item, task, where)
        items.append(item)
    if not items:
        raise EvalError(f"{path}: no items")
    return items


def field_items(task: str) -> list[dict[str, Any]]:
    """The field test set of `task` (`data/field/`), without its scoring-only fields; [] when it has none."""
    path = field_file(task)
    return [] if path is None else _shown_fields(load_items(path, task))


def dev_items(task: str) -> list[dict[str, Any]]:
    """The dev set of `task` (`data/dev/`: picks checkpoints, never a reported score), without its scoring-only
    fields; [] when it has none."""
    return _shown_fields(load_items(dev_file(task), task)) if task in dev_tasks() else []


def _shown_fields(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in item.items() if key not in SCORING_ONLY} for item in items]


def _required_keys(task: str) -> tuple[str, ...]:
    if task not in REQUIRED_KEYS:
        raise EvalError(f"unknown task '{task}' (use {', '.join(TASKS)})")
    return REQUIRED_KEYS[task]


def _check_values(item: Mapping[str, Any], task: str, where: str) -> None:
    strings = [key for key in REQUIRED_KEYS[task] if key != "answer"]
    for key in strings:
        if not isinstance(item[key], str) or not item[key].strip():
            raise EvalError(f"{where}: '{key}' must be a non-empty string")
    if task == "sql" and "db_sql" in item and not isinstance(item["db_sql"], str):
        raise EvalError(f"{where}: 'db_sql' must be a string")
    if task == "python" and not item["entry_point"].isidentifier():
        raise EvalError(f"{where}: 'entry_point' must be a Python name, not {item['entry_point']!r}")
    if task == "math":
        try:
            _gold_number(item["answer"])
        except EvalError as err:
            raise EvalError(f"{where}: {err}") from err


_CYRILLIC = re.compile(r"[а-яё]", re.I)


def build_prompt(item: Mapping[str, Any], task: str) -> str:
    """The user message for an item: sql gets its question, a blank line and the schema; python its prompt;
    math its question."""
    _required_keys(task)
    if task == "sql":
        label = "Схема:" if _CYRILLIC.search(item["question"]) else "Schema:"
        return f"{item['question'].strip()}\n\n{label}\n{item['schema'].strip()}"
    return str(item["prompt"] if task == "python" else item["question"])


# ---- reading answers

_SPACES = "[ \u00a0\u202f]"
_NUMBER = re.compile(
    rf"""(?<![\w.,])(?P<sign>[-−])?
    (?: (?P<commas>[1-9]\d{{0,2}}(?:,\d{{3}})+(?:\.\d+)?)          # 1,234,567.5
      | (?P<spaces>[1-9]\d{{0,2}}(?:{_SPACES}\d{{3}})+(?:,\d+)?)  # 1 234 567,5
      | (?P<plain>\d+(?:[.,]\d+)?) )                              # 1234.5 or 1234,5
    (?P<exponent>[eE][-+]?\d+)?(?!\d)""",
    re.X,
)
_MARKER = re.compile(r"(?:answer|ответ)\s*[:：]", re.I)


def extract_number(text: str) -> float | None:
    """The answer's final number: the first one after the last `Answer:` / `Ответ:`, else the last one in the
    text; None when there is none. Reads 1234.5, 1,234.5, 1 234,5, 1234,5, -3 and 1e-3."""
    markers = list(_MARKER.finditer(text))
    if markers:
        after = _NUMBER.search(text, markers[-1].end())
        if after is not None:
            return _parse_number(after)
    numbers = list(_NUMBER.finditer(text))
    return _parse_number(numbers[-1]) if numbers else None


def _parse_number(match: re.Match[str]) -> float:
    if match.group("commas"):
        digits = match.group("commas").replace(",", "")
    elif match.group("spaces"):
        digits = re.sub(_SPACES, "", match.group("spaces")).replace(",", ".")
    else:
        digits = match.group("plain").replace(",", ".")
    value = float(digits + (match.group("exponent") or ""))
    return -value if match.group("sign") else value


def _gold_number(answer: Any) -> float:
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        return float(answer)
    value = extract_number(answer) if isinstance(answer, str) else None
    if value is None:
        raise EvalError(f"'answer' must be a number, not {answer!r}")
    return value


# ---- scorers


def score_math(item: Mapping[str, Any], answer: str) -> bool:
    """Whether the answer's final number equals the item's `answer` (relative tolerance 1e-6)."""
    predicted = extract_number(answer)
    return predicted is not None and math.isclose(predicted, _gold_number(item["answer"]), rel_tol=REL_TOL,
                                                  abs_tol=1e-9)  # fmt: skip


_ORDER_BY = re.compile(r"\border\s+by\b", re.I)
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_INNERMOST = re.compile(r"\([^()]*\)")


def orders_rows(sql: str) -> bool:
    """Whether the outermost query sorts its rows: an ORDER BY outside every parenthesis (not the one of a window's
    `OVER (...)` or of a subquery) and outside quoted text."""
    text, previous = _QUOTED.sub("''", sql), None
    while text != previous:
        text, previous = _INNERMOST.sub(" ", text), text
    return _ORDER_BY.search(text) is not None


def score_sql(item: Mapping[str, Any], answer: str, db: Path | None = None) -> bool:
    """Whether the answer's query returns the gold query's rows on the item's database (`db`, opened
    read-only, or one built from `db_sql`). A refused, failing or slow query is wrong; a failing gold
    query raises `EvalError`."""
    query = extract_code(answer, "sql")
    with closing(_item_database(item, db)) as connection:
        try:
            gold = run_select(connection, item["gold_sql"], timeout_s=GOLD_TIMEOUT_S)
        except ToolError as err:
            raise EvalError(f"the gold query fails ({err}); is the database right for this item?") from err
        try:
            predicted = run_select(connection, query)
        except ToolError:
            return False
    return same_rows(gold, predicted, ordered=orders_rows(item["gold_sql"]))


def _item_database(item: Mapping[str, Any], db: Path | None) -> sqlite3.Connection:
    if db is not None:
        try:
            return sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as err:
            raise EvalError(f"cannot open {db} read-only: {one_line(err)}") from err
    if not item.get("db_sql"):
        raise EvalError("the item has no 'db_sql'; name a database with --db")
    connection = sqlite3.connect(":memory:")
    # db_sql is trusted like the file it came from; still, nothing may reach the disk (ATTACH, VACUUM INTO)
    connection.set_authorizer(
        lambda action, *_: sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK
    )
    try:
        connection.executescript(item["db_sql"])
    except sqlite3.Error as err:
        connection.close()
        raise EvalError(f"'db_sql' does not build: {one_line(err)}") from err
    connection.set_authorizer(None)
    return connection


def same_rows(gold: Sequence[tuple[Any, ...]], predicted: Sequence[tuple[Any, ...]], ordered: bool) -> bool:
    """Equal as multisets of rows (as lists when `ordered`); numbers compare within 1e-6."""
    if len(gold) != len(predicted):
        return False
    if not ordered:
        gold, predicted = sorted(gold, key=_row_key), sorted(predicted, key=_row_key)
    return all(
        len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(gold, predicted, strict=True)
    )


def _row_key(row: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    """Sorts rows of mixed SQLite values; numbers are rounded so that near-equal ones sort alike."""
    return tuple(
        (0, 0) if value is None
        else (1, round(float(value), 4)) if isinstance(value, int | float)
        else (2, value) if isinstance(value, str)
        else (3, bytes(value))
        for value in row
    )  # fmt: skip


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=REL_TOL)
    return bool(a == b)


# The trusted driver of a python run: the answer's code runs under the name "solution" (so its
# `if __name__ == "__main__":` block stays quiet), the tests in the same namespace, and a per-run token is
# printed last, so that code which exits early with status 0 (sys.exit, unittest.main) does not pass.
_DRIVER = """import sys
namespace = {"__name__": "solution"}
for name in ("solution.py", "tests.py"):
    with open(name, encoding="utf-8") as source:
        exec(compile(source.read(), name, "exec"), namespace)
print(sys.argv[1], flush=True)
"""


def score_python(item: Mapping[str, Any], answer: str, timeout_s: float = PYTHON_TIMEOUT_S, *, scratch: Path) -> bool:
    """Whether the answer's code passes the item's tests, run in the sandbox (`tools.sandbox`) in a fresh folder
    under `scratch` with resource limits and a wall-clock timeout: exit status 0 after the last test.
    Tests that define `check(candidate)` without calling it are called with the entry point."""
    tests = item["tests"]
    if re.search(r"^def check\(", tests, re.M) and not re.search(r"^check\(", tests, re.M):
        tests += f"\n\ncheck({item['entry_point']})\n"
    token = secrets.token_hex(16)
    result = run_python(
        _DRIVER, timeout_s=timeout_s, memory_mb=MEMORY_LIMIT_MB, args=[token], scratch=scratch,
        files={"solution.py": extract_code(answer, "python") + "\n", "tests.py": tests},
    )
    return result.returncode == 0 and result.stdout.rstrip().endswith(token)


# ---- the evaluation loop


def evaluate(
    client: Any,
    task: str,
    items: Sequence[Mapping[str, Any]],
    expert: str | None,
    batch_size: int = 8,
    max_tokens: int | None = None,
    progress: bool = True,
    tools: bool = True,
    *,
    db: Path | None = None,
    timeout_s: float = PYTHON_TIMEOUT_S,
    best_of: int | None = None,
) -> EvalResult:
    """Answer every item greedily with `expert` (a name, or "none" / None for the base model) and score it.
    `best_of`: verified best-of-N (`MoEClient.stream_chat`): 1 = the greedy answer alone, None = as the expert's
    manifest says.

    `client` is a `MoEClient` (anything with `generate`, `registry` and `settings.home` will do).
    `max_tokens` defaults per task (`DEFAULT_MAX_TOKENS`); `db` is an SQLite file for sql items without
    `db_sql`; `timeout_s` limits each python run; `tools=False` asks the SDK not to apply the manifest's
    tools. With a batching client (`MoEClient(batching=True)`) up to `batch_size` items are answered at once from
    as many threads, so they decode together; otherwise one at a time (the same greedy tokens, but for float
    rounding in a near tie)."""
    _required_keys(task)
    if batch_size < 1:
        raise EvalError("batch_size must be at least 1")
    if db is not None and not db.is_file():
        raise EvalError(f"--db {db}: no such file")
    name = _expert_name(expert)
    limit = max_tokens or DEFAULT_MAX_TOKENS[task]
    scratch = Path(client.settings.home) / "tmp"

    def generate(prompt: str) -> str:
        response = client.generate(prompt, expert=name or "none", max_tokens=limit, temperature=0.0, tools=tools,
                                   best_of=best_of)
        return str(response.text)

    def answer(index: int) -> dict[str, Any]:
        item = items[index]
        label = item.get("id", index + 1)
        try:
            prediction, correct = score_answer(item, task, generate(build_prompt(item, task)), db, timeout_s,
                                               scratch=scratch)
        except EvalError as err:
            raise EvalError(f"item {label}: {err}") from err
        return {"id": label, "prediction": prediction, "correct": correct, "lang": item.get("lang")}

    per_item: list[dict[str, Any]] = []
    workers = batch_size if getattr(client, "batching", False) else 1
    with _progress_bar(progress, f"eval {task}", len(items)) as advance, ThreadPoolExecutor(workers) as pool:
        for entry in pool.map(answer, range(len(items))):  # in item order, whatever order they finish in
            per_item.append(entry)
            advance(entry["correct"])
    right = sum(entry["correct"] for entry in per_item)
    return EvalResult(task, name, len(per_item), right, right / len(per_item) if per_item else 0.0, per_item, best_of)


def score_answer(
    item: Mapping[str, Any], task: str, text: str, db: Path | None = None, timeout_s: float = PYTHON_TIMEOUT_S,
    *, scratch: Path,
) -> tuple[Any, bool]:
    """(prediction, correct) for one answer: the query or code that was scored, or the math answer's number."""
    if task == "math":
        return extract_number(text), score_math(item, text)
    if task == "python":
        return extract_code(text, "python"), score_python(item, text, timeout_s, scratch=scratch)
    query = extract_code(text, "sql")
    return query, score_sql(item, query, db)


def _expert_name(expert: str | None) -> str | None:
    choice = parse_expert_spec(expert)
    if choice == "auto" or len(choice) > 1:
        raise EvalError(f"evaluate one expert by name, or none for the base model (not {expert!r})")
    return next(iter(choice), None)


@contextmanager
def _progress_bar(enabled: bool, description: str, total: int) -> Iterator[Callable[[bool], None]]:
    """A rich progress bar on stderr with the running accuracy; yields `advance(correct)`."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[accuracy]}"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), disable=not enabled) as bar:
        job = bar.add_task(description, total=total, accuracy="")
        done = right = 0

        def advance(correct: bool) -> None:
            nonlocal done, right
            done, right = done + 1, right + int(correct)
            bar.update(job, advance=1, accuracy=f"accuracy {right / done:.1%}")

        yield advance

