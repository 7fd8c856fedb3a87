"""`moe eval`: the accuracy of an expert, or of the base model, on a held-out sql / python / math file.

    moe eval --expert sql --task sql --file sql-test.jsonl --json
    {"task": "sql", "expert": "sql", "n": 200, "correct": 131, "accuracy": 0.655, "best_of": null,
     "by_lang": {"en": 0.67, "ru": 0.64}}
    moe eval --expert none --task math --file math-test.jsonl --limit 50

Item formats and scoring are described in `moe_system.training.evaluation`. Without `--json` a table goes to
stdout and a few wrong answers to stderr; the progress bar is on stderr either way.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from moe_system.cli.common import err, make_client, out, print_json
from moe_system.training.evaluation import EvalResult, build_prompt, load_items
from moe_system.training.evaluation import evaluate as run_evaluation

WRONG_SHOWN = 3


class Task(StrEnum):
    sql = "sql"
    python = "python"
    math = "math"


def evaluate(
    expert: Annotated[str, typer.Option("--expert", "-e", help="an installed expert (NAME or NAME@VERSION), or none")],
    task: Annotated[Task, typer.Option("--task", help="which kind of items the file holds")],
    file: Annotated[Path, typer.Option("--file", "-f", help="JSONL items, one per line")],
    db: Annotated[
        Path | None, typer.Option("--db", help="SQLite database for sql items (opened read-only) instead of db_sql")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="only the first N items")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", "-n", min=1, help="answer length limit")] = None,
    no_tools: Annotated[bool, typer.Option("--no-tools", help="ignore the tools the expert's manifest lists")] = False,
    best_of: Annotated[int | None, typer.Option(
        "--best-of", min=1, max=16, help="verified best-of-N (1 = greedy); default: the expert's manifest")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Score an expert (or `none`, the base model) on a task file: greedy decoding, or verified best-of-N."""
    items = load_items(file, task.value)[:limit]
    result = run_evaluation(make_client(batching=True), task.value, items, expert, max_tokens=max_tokens,
                            tools=not no_tools, db=db, best_of=best_of)
    if json_output:
        print_json(result.to_dict())
        return
    table = Table()
    languages = result.by_lang()
    for column in ("task", "expert", "n", "correct", "accuracy", *languages):
        table.add_column(column, justify="left" if column in {"task", "expert"} else "right")
    table.add_row(task.value, result.expert or "none (base)", str(result.n), str(result.correct),
                  f"{result.accuracy:.1%}", *(f"{value:.1%}" for value in languages.values()))  # fmt: skip
    out.print(table)
    _show_wrong(result, items)


def _show_wrong(result: EvalResult, items: list[dict[str, Any]]) -> None:
    wrong = [(entry, item) for entry, item in zip(result.per_item, items, strict=True) if not entry["correct"]]
    for entry, item in wrong[:WRONG_SHOWN]:
        question = build_prompt(item, result.task).split("\n\n")[0]
        expected = {"sql": item.get("gold_sql"), "math": item.get("answer")}.get(result.task, "the tests to pass")
        err.print(f"[bold red]wrong[/] item {escape(str(entry['id']))}: {escape(_short(question))}")
        err.print(f"  got:      {escape(_short(str(entry['prediction'])))}")
        err.print(f"  expected: {escape(_short(str(expected)))}")
    if len(wrong) > WRONG_SHOWN:
        err.print(f"[dim]… and {len(wrong) - WRONG_SHOWN} more wrong[/]")


def _short(text: str, width: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
