"""`moe data ...`: generate offline training and evaluation data for the starter experts (sql, python, math).

Training sets use seeds below 1000, held-out evaluation sets seeds from 1000 up; the same seed always gives the
same items. Files are JSONL, written atomically; an existing file is only replaced with --force.

    moe data generate sql --n 3000 --seed 0 -o sql-train.jsonl                    # chat examples
    moe data generate sql --n 500 --seed 1000 --format eval -o sql-eval.jsonl     # items with gold answers
    moe data show math --seed 0 --lang ru
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from moe_system.cli.common import err, out
from moe_system.durable import write_atomic

app = typer.Typer(help="Generate training and evaluation data for the starter experts.", no_args_is_help=True)

FORMATS = ("chat", "eval")
TaskArg = Annotated[str, typer.Argument(help="sql | python | math")]
LangOpt = Annotated[str, typer.Option("--lang", help="en | ru | mix (about half each)")]
FormatOpt = Annotated[str, typer.Option("--format", help="chat (training examples) | eval (items with gold answers)")]


def _check_format(fmt: str) -> None:
    from moe_system.data import DataError

    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """One JSON document per line, written atomically (`durable.write_atomic`)."""

    def write(temp: Path) -> None:
        with temp.open("w", encoding="utf-8") as file:
            for record in records:
                file.write(json.dumps(record, ensure_ascii=False) + "\n")

    write_atomic(path, write)


@app.command("generate")
def generate(
    task: TaskArg,
    n: Annotated[int, typer.Option("--n", min=1, help="number of items")],
    seed: Annotated[int, typer.Option("--seed", help="training: below 1000; evaluation: 1000 and up")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the JSONL file to write")],
    lang: LangOpt = "mix",
    fmt: FormatOpt = "chat",
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
) -> None:
    """Write N validated items as JSONL: chat training examples, or evaluation items with gold answers."""
    from moe_system.data import EVAL_SEED_MIN, DataError, get_generator

    generator = get_generator(task)
    _check_format(fmt)
    if output.is_dir():
        raise DataError(f"{output} is a directory: give a file name such as {task}-{fmt}.jsonl")
    if output.exists() and not force:
        raise DataError(f"{output} already exists: pass --force to replace it")
    if fmt == "eval" and seed < EVAL_SEED_MIN:
        err.print(f"[yellow]warning:[/] evaluation sets should use seeds >= {EVAL_SEED_MIN} (training: lower seeds)")
    elif fmt == "chat" and seed >= EVAL_SEED_MIN:
        err.print(f"[yellow]warning:[/] seeds >= {EVAL_SEED_MIN} are meant for evaluation sets, not training")
    start = time.perf_counter()
    items = generator.generate(n, seed, lang)
    _write_jsonl(output, items if fmt == "eval" else (generator.to_chat(item) for item in items))
    langs = Counter(item["lang"] for item in items)
    kind = "evaluation items" if fmt == "eval" else "training examples"
    err.print(f"wrote {len(items)} {task} {kind} ({langs['en']} en, {langs['ru']} ru; seed {seed}) to {output} "
              f"in {time.perf_counter() - start:.1f} s", markup=False, highlight=False)


@app.command("show")
def show(
    task: TaskArg,
    seed: Annotated[int, typer.Option("--seed", help="the generation seed")] = 0,
    lang: LangOpt = "mix",
    fmt: FormatOpt = "chat",
) -> None:
    """Print 3 examples: the chat messages (or, with --format eval, the evaluation items as JSON)."""
    from moe_system.data import get_generator

    generator = get_generator(task)
    _check_format(fmt)
    for number, item in enumerate(generator.generate(3, seed, lang), 1):
        out.rule(f"{task} #{number} · {item['lang']} · difficulty {item['difficulty']} · {item['id']}")
        if fmt == "eval":
            out.print(json.dumps(item, ensure_ascii=False, indent=2), markup=False, highlight=False)
            continue
        for message in generator.to_chat(item)["messages"]:
            out.print(f"[bold]{message['role']}:[/]")
            out.print(message["content"], markup=False, highlight=False)
