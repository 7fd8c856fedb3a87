"""`moe route`: which expert (or the base model) would answer a request, and how well a strategy routes.

    moe route --json "Сколько будет 15% от 240?"
    {"expert": "math", "confidence": 0.93, "candidates": [...], "strategy": "cascade", "reason": "..."}
    moe route --json --file queries.txt          # one request a line -> one JSON a line
    moe route --eval src/moe_system/data/routing/test.jsonl [--strategy learned] [--json]

`--eval` prints accuracy (English and Russian separately) and per-class precision/recall, and saves the
confusion matrix as a PNG (`--plot`, default `MOE_HOME/routing/confusion-STRATEGY.png`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from moe_system.cli.common import err, out, print_json
from moe_system.errors import InvalidRequestError

if TYPE_CHECKING:
    from moe_system.client import MoEClient

ERRORS_SHOWN = 8


def route(
    text: Annotated[str | None, typer.Argument(help="the request to route")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="route every line of this file")] = None,
    eval_file: Annotated[
        Path | None, typer.Option("--eval", help='score on a JSONL file of {"text", "expert"} (null = base model)')
    ] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", "-s", help="cascade | rules | learned | semantic | hierarchical")
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="where --eval saves the confusion-matrix PNG")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Route a request (or a file of them) to an expert or the base model."""
    from moe_system.client import MoEClient

    if sum(x is not None for x in (text, file, eval_file)) != 1:
        raise InvalidRequestError("give exactly one of: TEXT, --file FILE, --eval FILE")
    client = MoEClient(console=err)
    if eval_file is not None:
        _evaluate(client, eval_file, strategy, plot, json_output)
        return
    if file is not None:
        try:
            lines = [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as error:
            raise InvalidRequestError(f"{file}: cannot read ({error.strerror or error})") from error
        for line in lines:
            _show(client.route(line, strategy).to_dict(), line, json_output)
        return
    assert text is not None
    _show(client.route(text, strategy).to_dict(), text, json_output)


def _show(decision: dict[str, Any], text: str, json_output: bool) -> None:
    if json_output:
        print_json(decision)
        return
    target = decision["expert"] or "base model"
    out.print(f"[bold]{escape(target)}[/] {decision['confidence']:.2f} · {decision['strategy']} · "
              f"{escape(decision['reason'])} · {escape(text[:80])}")


def _evaluate(client: MoEClient, path: Path, strategy: str | None, plot: Path | None, json_output: bool) -> None:
    from moe_system.routing.evaluation import evaluate, load_examples, plot_confusion

    examples = load_examples(path)
    name = strategy or client.settings.routing.strategy
    report = evaluate(lambda t: client.route(t, strategy), examples)
    png = plot_confusion(report, plot or client.settings.home / "routing" / f"confusion-{name}.png", f"routing: {name}")
    if json_output:
        print_json(report.to_dict() | {"strategy": name, "plot": str(png)})
        return
    langs = ", ".join(f"{lang} {acc:.1%}" for lang, acc in report.by_language.items())
    out.print(f"[bold]{name}[/]: accuracy {report.accuracy:.1%} on {report.n} ({langs})")
    table = Table("class", "precision", "recall", "support")
    for label, row in report.per_class.items():
        table.add_row(label, f"{row['precision']:.1%}", f"{row['recall']:.1%}", str(int(row["support"])))
    out.print(table)
    for miss in report.errors[:ERRORS_SHOWN]:
        err.print(f"[red]miss[/] expected {miss['expected'] or 'base'}, routed {miss['routed'] or 'base'}: "
                  f"{escape(miss['text'][:100])}")
    err.print(f"confusion matrix: {escape(str(png))}")
