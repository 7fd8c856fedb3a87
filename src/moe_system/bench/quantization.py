"""The quality gate of base-weight quantization: perplexity and greedy agreement of int8 / int4 against fp32.

    moe bench quality --quantization none,int8,int4 --json

Perplexity is measured on `data/quality/perplexity.yaml`, 37 hand-written English and Russian passages (about
14,000 words) that no calibration or tuning ever read, each passage scored in windows of `WINDOW` tokens, overall
and per language. Agreement: `AGREEMENT_PROMPTS` requests of the routing test set (`data/routing/test.jsonl`: SQL,
Python, math and chat, English and Russian) decoded greedily for `new_tokens` tokens by each kind, compared with
fp32 token by token: the share of prompts whose tokens are all equal, and the mean share of tokens before the first
difference. Every kind runs on the same loaded model, one after the other, in the same process.

Experts: with `recipes`, every installed starter expert answers its generator held-out items (rebuilt as its
training run built them, `bench.quality.held_out_sets`) greedily under each kind, scored as `moe eval` scores
them; the change is in accuracy points against fp32 on the same items.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, cast

import torch
import yaml

from moe_system.bench.common import cpu_model
from moe_system.config import Quantization, Settings

WINDOW = 512  # tokens a perplexity window holds (the model sees no further back)
AGREEMENT_PROMPTS = 50


def perplexity_passages() -> list[tuple[str, str]]:
    """(language, text) of the perplexity passages."""
    data = yaml.safe_load(files("moe_system.data.quality").joinpath("perplexity.yaml").read_text(encoding="utf-8"))
    return [(str(p["language"]), str(p["text"])) for p in data["passages"]]


def agreement_prompts() -> list[str]:
    """Every fourth request of the routing test set, `AGREEMENT_PROMPTS` of them."""
    lines = files("moe_system.data.routing").joinpath("test.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[::4] if line.strip()][:AGREEMENT_PROMPTS]


def log_likelihood(score: Callable[[Sequence[int]], torch.Tensor], passages: Sequence[list[int]]) -> tuple[float, int]:
    """(negative log-likelihood summed, tokens scored) over every token after the first of each window of each
    passage; perplexity is exp(nll / tokens)."""
    nll, count = 0.0, 0
    for ids in passages:
        for start in range(0, len(ids) - 1, WINDOW):
            window = ids[start:start + WINDOW + 1]
            if len(window) < 2:
                continue
            logits = score(window[:-1])  # [T, V]
            targets = torch.tensor(window[1:])[:, None]
            nll -= float(torch.log_softmax(logits.float(), dim=-1).gather(-1, targets).sum())
            count += len(window) - 1
    return nll, count


def agreement(reference: Sequence[Sequence[int]], other: Sequence[Sequence[int]]) -> dict[str, float]:
    """Share of identical completions, and mean share of tokens before the first difference."""
    same = [list(a) == list(b) for a, b in zip(reference, other, strict=True)]
    prefix = []
    for a, b in zip(reference, other, strict=True):
        n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        prefix.append(n / max(len(a), 1))
    return {"identical": round(sum(same) / len(same), 3), "prefix": round(sum(prefix) / len(prefix), 3)}


def run(settings: Settings, kinds: Sequence[Quantization], new_tokens: int = 64,
        progress: Callable[[str], None] = lambda message: None, client_for: Callable[[Quantization], Any] | None = None,
        recipes: Sequence[Path] = (), limit: int | None = None, held_out: int | None = None) -> dict[str, Any]:
    """Perplexity and agreement of each of `kinds` (fp32 is always measured first, as the reference); with
    `client_for` (a client serving a given quantization) and `recipes`, the experts' held-out accuracy under each,
    on the first `limit` items of each expert (`held_out` items generated, see `bench.quality.held_out_sets`)."""
    from moe_system.base import load_base
    from moe_system.base.quantization import linear_calibration
    from moe_system.engine import Engine, SamplingParams, build_backend
    from moe_system.engine.backends.native import NativeBackend

    base = load_base(settings)
    calibration = functools.partial(linear_calibration, base, settings)
    tokenizer = base.tokenizer
    passages = perplexity_passages()
    ids = {lang: [tokenizer.encode(text) for language, text in passages if language == lang] for lang in ("en", "ru")}
    prompts = [tokenizer.chat_ids([{"role": "user", "content": text}]) for text in agreement_prompts()]
    params = SamplingParams(max_new_tokens=new_tokens)
    results: dict[str, dict[str, Any]] = {}
    completions: dict[str, list[list[int]]] = {}
    notes: list[str] = []
    for kind in dict.fromkeys(("none", *kinds)):
        backend = build_backend(base.model, "native", None, kind, notes.append, calibration)
        assert isinstance(backend, NativeBackend)
        runs_as = backend.quantization
        if runs_as in completions:  # int4 running as int8: the same numbers
            results[kind] = {**results[runs_as], "runs_as": runs_as}
            completions[kind] = completions[runs_as]
            continue
        progress(f"{kind}: perplexity")
        row: dict[str, Any] = {"runs_as": runs_as}
        t0 = time.perf_counter()
        sums = {lang: log_likelihood(backend.score, passage_ids) for lang, passage_ids in ids.items()}
        for lang, (nll, count) in sums.items():
            row[f"perplexity_{lang}"] = round(math.exp(nll / count), 3)
        row["perplexity"] = round(math.exp(sum(n for n, _ in sums.values()) / sum(c for _, c in sums.values())), 3)
        row["perplexity_s"] = round(time.perf_counter() - t0, 1)
        progress(f"{kind}: greedy agreement")
        completions[runs_as] = completions[kind] = [c.token_ids for c in Engine(backend).generate(prompts, params)]
        results[kind] = row
    reference = results["none"]
    for name, row in results.items():
        row["perplexity_change_pct"] = round((row["perplexity"] / reference["perplexity"] - 1) * 100, 2)
        row["agreement"] = agreement(completions["none"], completions[name])
    return {
        "cpu": cpu_model(),
        "model": base.name,
        "threads": torch.get_num_threads(),
        "perplexity_tokens": {lang: sum(map(len, passage_ids)) for lang, passage_ids in ids.items()},
        "agreement_prompts": len(prompts),
        "new_tokens": new_tokens,
        "kinds": results,
        "experts": None if client_for is None or not recipes else expert_accuracy(
            client_for, recipes, {cast(Quantization, kind): row["runs_as"] for kind, row in results.items()}, limit,
            held_out, progress, notes.append),
        "notes": notes,
    }


def expert_accuracy(client_for: Callable[[Quantization], Any], recipes: Sequence[Path],
                    kinds: Mapping[Quantization, Quantization], limit: int | None, held_out: int | None,
                    progress: Callable[[str], None], note: Callable[[str], None]) -> list[dict[str, Any]] | None:
    """Each installed expert's greedy held-out accuracy under each of `kinds` (asked -> runs as; "none" first), one
    client for each kind that runs, its change in points against fp32 and the share of answers equal to fp32's;
    None, with a `note`, when no expert of `recipes` is installed."""
    from moe_system.bench.quality import held_out_sets
    from moe_system.errors import InvalidRequestError
    from moe_system.training.evaluation import evaluate

    rows: list[dict[str, Any]] = []
    for kind in dict.fromkeys(kinds.values()):
        client = client_for(kind)
        try:
            if not rows:
                try:
                    sets, _ = held_out_sets(client, recipes, limit, progress, held_out)
                except InvalidRequestError as error:
                    note(f"experts not measured: {error}")
                    return None
                rows = [{"expert": held.expert, "task": held.task, "items": len(held.items), "kinds": {},
                         "held": held} for held in sets]
            for row in rows:
                progress(f"{kind}: {row['expert']}, {row['items']} held-out items")
                result = evaluate(client, row["task"], row["held"].items, expert=row["expert"], progress=False,
                                  best_of=1)
                row["kinds"][kind] = {"accuracy": result.accuracy, "by_lang": result.by_lang(),
                                      "answers": [entry["prediction"] for entry in result.per_item]}
        finally:
            client.close()
    for row in rows:
        row.pop("held")
        measured = row["kinds"]
        reference, expected = measured["none"]["accuracy"], measured["none"]["answers"]
        for scores in measured.values():
            answers = scores.pop("answers")
            scores["change_points"] = round((scores["accuracy"] - reference) * 100, 1)
            scores["same_answers"] = round(sum(map(operator.eq, answers, expected)) / max(len(answers), 1), 3)
        row["kinds"] = {asked: {**measured[runs], "runs_as": runs} for asked, runs in kinds.items()}
    return rows
