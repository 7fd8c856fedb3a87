"""Quality of the installed experts on the held-out items of the runs that trained them, beside the base model.

    moe bench quality --json                      # the experts installed in MOE_HOME, recipes from ./recipes
    moe bench quality --packages experts --json   # installs the shipped packages first (as `make demo` does)

For each recipe whose expert is installed, the held-out items are rebuilt exactly as its training run built them
(`training.pipeline.prepare_data`: the recipe's eval generator and seed, items that overlap the training split
replaced), answered greedily by the expert (with the tools its manifest lists) and by the base model, and scored
by `moe eval`'s scorers (`training.evaluation`). These are **generator held-out** scores: other seeds of the same
generators the expert was trained on, so they say how well it learned its generator, not how it does on requests
written apart from it. That is what the **field** scores say: the task's field test set (`data/field/`, written
apart from the generators, never trained on), answered the same way, overall and per language.

The expert answers each set twice: greedily (`expert`) and with verified best-of-N (`expert_best_of`: N answers
decoded together, checked by the expert's tool, voted by result; `--best-of`). Their cost at batch 1 is `latency`:
a few field items answered one at a time both ways, median seconds and the ratio.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from moe_system.bench.common import cpu_model
from moe_system.errors import InvalidRequestError
from moe_system.training.config import Recipe
from moe_system.training.evaluation import DEFAULT_MAX_TOKENS, build_prompt, evaluate, field_items
from moe_system.training.pipeline import prepare_data

LATENCY_ITEMS = 5  # field items answered alone, greedy and best-of-N, for the latency ratio


@dataclass
class HeldOut:
    """An installed expert's generator held-out items, rebuilt as the run that trained it built them."""

    expert: str
    task: str
    recipe: Path
    items: list[dict[str, Any]]


def held_out_sets(client: Any, recipes: Sequence[Path], limit: int | None = None,
                  progress: Callable[[str], None] = lambda message: None,
                  size: int | None = None) -> tuple[list[HeldOut], list[str]]:
    """The held-out items of every installed expert that one of `recipes` trains (the first `limit` of each), and a
    line for each recipe skipped; raises when no expert is left. `size` asks the recipe's held-out generator (same
    seed, the same contamination check against the training items) for that many items instead of the recipe's n:
    at 40 items one answer moves an accuracy by 2.5 points, more than some gates allow."""
    installed = set(client.registry.names())
    sets, skipped = [], []
    for path in recipes:
        recipe = Recipe.load(path)
        spec = recipe.train.data.eval_generator
        if size is not None and spec is not None:
            recipe = recipe.with_data(eval_generator=spec.model_copy(update={"n": size}))
        name, task = recipe.expert.name, recipe.task
        if task is None or name not in installed:
            skipped.append(f"{path.name}: {'no task' if task is None else f'expert {name!r} is not installed'}")
            continue
        progress(f"{name}: rebuilding the held-out items")
        items = prepare_data(recipe, Console(file=io.StringIO())).items[:limit]  # the run's words stay quiet
        sets.append(HeldOut(name, task, path, items))
    if not sets:
        raise InvalidRequestError("no installed expert has a recipe here: install the starter experts "
                                  "(`moe bench quality --packages experts`, or `make demo`) or pass --recipes")
    return sets, skipped


def run(client: Any, recipes: Sequence[Path], limit: int | None = None,
        progress: Callable[[str], None] = lambda message: None, best_of: int = 8,
        held_out: int | None = None) -> dict[str, Any]:
    """Score every installed expert that one of `recipes` trains, and the base model, on the same items (`held_out`
    of them, see `held_out_sets`); `best_of` > 1 also scores the expert with verified best-of-N and times both at
    batch 1."""
    sets, skipped = held_out_sets(client, recipes, limit, progress, held_out)
    rows = []
    for held in sets:
        name, task = held.expert, held.task
        field = field_items(task)[:limit]
        rows.append({"expert": name, "version": client.registry.get(name).version, "task": task,
                     "recipe": held.recipe.name, "items": len(held.items),
                     "scores": _scores(client, name, task, held.items, f"{name}: held-out", progress, best_of),
                     "field_items": len(field),
                     "field": _scores(client, name, task, field, f"{name}: field", progress, best_of),
                     "latency": _latency(client, name, task, field[:LATENCY_ITEMS], best_of, progress)})
    return {"cpu": cpu_model(), "kind": "generator held-out and field", "best_of": best_of, "experts": rows,
            "skipped": skipped}


def _scores(client: Any, name: str, task: str, items: Sequence[dict[str, Any]], label: str,
            progress: Callable[[str], None], best_of: int) -> dict[str, Any]:
    """The expert's (greedy, and best-of-N when `best_of` > 1) and the base model's scores on `items`, with
    per-language accuracy where items name theirs."""
    scores: dict[str, Any] = {}
    if not items:
        return scores
    sides = [("expert", name, 1), *([("expert_best_of", name, best_of)] if best_of > 1 else []), ("base", "none", 1)]
    for side, expert, n in sides:
        who = "the base model" if expert == "none" else f"{expert}{f' (best of {n})' if n > 1 else ''}"
        progress(f"{label}, {len(items)} items answered by {who}")
        started = time.perf_counter()
        result = evaluate(client, task, items, expert=expert, progress=False, best_of=n)
        scores[side] = {**result.to_dict(), "seconds": round(time.perf_counter() - started, 1)}
    return scores


def _latency(client: Any, name: str, task: str, items: Sequence[dict[str, Any]], best_of: int,
             progress: Callable[[str], None]) -> dict[str, Any] | None:
    """Median seconds of one request alone (batch 1), greedy and best-of-N, on the same items, and their ratio."""
    if best_of < 2 or not items:
        return None
    progress(f"{name}: {len(items)} requests alone, greedy and best of {best_of}")
    seconds: dict[int, list[float]] = {1: [], best_of: []}
    for item in items:
        for n in seconds:
            started = time.perf_counter()
            client.generate(build_prompt(item, task), expert=name, max_tokens=DEFAULT_MAX_TOKENS[task],
                            temperature=0.0, best_of=n)
            seconds[n].append(time.perf_counter() - started)
    greedy, best = statistics.median(seconds[1]), statistics.median(seconds[best_of])
    return {"items": len(items), "greedy_s": round(greedy, 3), "best_of_s": round(best, 3),
            "ratio": round(best / greedy, 3)}
