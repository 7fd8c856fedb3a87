"""Decode speed of the engine against plain `transformers` `generate` on the same model, same run.

    moe bench decode --json          # or: python benchmarks/decode.py --json

Measures, for greedy decoding of `new_tokens` tokens from ~40-token chat prompts: tokens/s at batch 1
and batch 8 (eight different prompts, so rows have different lengths), time to first token, and the
process RSS. Both sides run fp32 on the same weights with the same thread count; each number is the
median of `repeats` runs after a warm-up. Our engine is measured first, then the peer is loaded.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import psutil
import torch

from moe_system.config import Settings

PROMPTS = [
    "Write a short story about a robot who learns to paint pictures of the sea at night.",
    "Explain in simple words why the sky looks blue during the day and red at sunset.",
    "Give me three practical tips for learning a new programming language quickly and well.",
    "Напиши короткое стихотворение о зимнем лесе и о тишине, которая там царит.",
    "What are the main differences between a list and a tuple in Python? Be brief.",
    "Describe how a bicycle works, from the pedals to the rear wheel, in a few sentences.",
    "Suggest a healthy breakfast menu for a busy weekday morning with a short explanation.",
    "Расскажи, почему важно высыпаться, и дай два совета, как лучше спать по ночам.",
]


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(settings: Settings, new_tokens: int = 64, repeats: int = 3, batch: int = 8) -> dict[str, Any]:
    """Run the benchmark and return the numbers (see module docstring)."""
    from transformers import AutoModelForCausalLM

    from moe_system.base import base_model_dir
    from moe_system.engine import Engine, SamplingParams
    from moe_system.runtime import Runtime

    settings = settings.model_copy(update={"base": settings.base.model_copy(update={"dtype": "float32"})})
    runtime = Runtime.load(settings)
    prompts = [runtime.prompt_ids([{"role": "user", "content": p}], None) for p in PROMPTS[:batch]]
    engine = Engine(runtime.engine.backend)  # no stop tokens: every run decodes exactly new_tokens
    params = SamplingParams(max_new_tokens=new_tokens)
    first = SamplingParams(max_new_tokens=1)

    ours = {
        "batch1_s": _median_time(lambda: engine.generate(prompts[:1], params), repeats),
        "batchN_s": _median_time(lambda: engine.generate(prompts, params), repeats),
        "ttft_s": _median_time(lambda: engine.generate(prompts[:1], first), repeats),
    }
    rss_ours = _rss_mb()
    peak_ours = _peak_rss_mb()

    model = AutoModelForCausalLM.from_pretrained(
        base_model_dir(settings), dtype=torch.float32, local_files_only=True
    ).eval()
    pad = runtime.tokenizer.tokenizer.pad_token_id or 0

    def hf_generate(rows: list[list[int]], count: int) -> None:
        longest = max(len(r) for r in rows)
        ids = torch.tensor([[pad] * (longest - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (longest - len(r)) + [1] * len(r) for r in rows])
        with torch.inference_mode():
            model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=count, min_new_tokens=count,
                do_sample=False, pad_token_id=pad,
            )

    peer = {
        "batch1_s": _median_time(lambda: hf_generate(prompts[:1], new_tokens), repeats),
        "batchN_s": _median_time(lambda: hf_generate(prompts, new_tokens), repeats),
        "ttft_s": _median_time(lambda: hf_generate(prompts[:1], 1), repeats),
    }

    def rates(t: dict[str, float]) -> dict[str, float]:
        return {
            "batch1_tokens_per_s": round(new_tokens / t["batch1_s"], 2),
            f"batch{batch}_tokens_per_s": round(batch * new_tokens / t["batchN_s"], 2),
            "ttft_ms": round(t["ttft_s"] * 1000, 1),
        }

    mine, theirs = rates(ours), rates(peer)
    return {
        "model": runtime.model_name,
        "backend": runtime.backend_name,
        "dtype": "float32",
        "threads": torch.get_num_threads(),
        "prompt_tokens": len(prompts[0]),
        "new_tokens": new_tokens,
        "batch": batch,
        "repeats": repeats,
        **mine,
        "rss_mb": round(rss_ours, 1),
        "peak_rss_mb": round(peak_ours, 1),
        "peer": {"name": "transformers.generate", **theirs},
        "ratio": {
            "batch1": round(mine["batch1_tokens_per_s"] / theirs["batch1_tokens_per_s"], 2),
            f"batch{batch}": round(
                mine[f"batch{batch}_tokens_per_s"] / theirs[f"batch{batch}_tokens_per_s"], 2
            ),
            "ttft": round(theirs["ttft_ms"] / mine["ttft_ms"], 2),
        },
    }
