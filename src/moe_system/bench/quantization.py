"""The quality gate of base-weight quantization: perplexity and greedy agreement of int8 / int4 against fp32.

    moe bench quality --quantization none,int8,int4 --json

Perplexity is measured on `data/quality/perplexity.yaml`, 37 hand-written English and Russian passages (about
14,000 words) that no calibration or tuning ever read, each passage scored in windows of `WINDOW` tokens, overall
and per language. Agreement: `AGREEMENT_PROMPTS` requests of the routing test set (`data/routing/test.jsonl`: SQL,
Python, math and chat, English and Russian) decoded greedily for `new_tokens` tokens by each kind, compared with
fp32 token by token: the share of prompts whose tokens are all equal, and the mean share of tokens before the first
difference. Every kind runs on the same loaded model, one after the other, in the same process.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from importlib.resources import files
from typing import Any

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
        progress: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Perplexity and agreement of each of `kinds` (fp32 is always measured first, as the reference)."""
    from moe_system.base import load_base
    from moe_system.base.quantization import smoothing_factors
    from moe_system.engine import Engine, SamplingParams, build_backend
    from moe_system.engine.backends.native import NativeBackend
    from moe_system.engine.kernels import SMOOTHING_METHOD, best_smoothing

    base = load_base(settings)
    factors = smoothing_factors(base, settings, best_smoothing, SMOOTHING_METHOD)
    tokenizer = base.tokenizer
    passages = perplexity_passages()
    ids = {lang: [tokenizer.encode(text) for language, text in passages if language == lang] for lang in ("en", "ru")}
    prompts = [tokenizer.chat_ids([{"role": "user", "content": text}]) for text in agreement_prompts()]
    params = SamplingParams(max_new_tokens=new_tokens)
    results: dict[str, dict[str, Any]] = {}
    completions: dict[str, list[list[int]]] = {}
    notes: list[str] = []
    for kind in dict.fromkeys(("none", *kinds)):
        backend = build_backend(base.model, "native", None, kind, notes.append, lambda: factors)
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
        "notes": notes,
    }
