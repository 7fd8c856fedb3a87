"""An exported onnxruntime-genai folder against the native engine: greedy agreement (the export check of
`moe export onnx`) and batch-1 speed (the onnxruntime-genai peer of `moe bench decode`).

Both sides get the same prompt token ids and decode greedily until their end-of-turn token or `new_tokens`.
Agreement is the share of prompts whose tokens are all equal and the mean share of tokens before the first
difference (`bench.quantization.agreement`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from moe_system.base.onnx_export import OnnxModel
from moe_system.bench.common import median_time
from moe_system.bench.quantization import agreement
from moe_system.engine import Engine, SamplingParams
from moe_system.engine.lora import RowAdapters


def agreement_with_engine(folder: Path, engine: Engine, row: RowAdapters, prompts: Sequence[list[int]],
                          new_tokens: int = 32) -> dict[str, Any]:
    """Greedy tokens of the exported folder vs `engine` with the adapters `row` on every prompt (the end-of-turn
    token onnxruntime-genai returns is dropped: the engine's completions leave theirs out)."""
    exported = OnnxModel(folder)
    ours = [c.token_ids for c in engine.generate(prompts, SamplingParams(max_new_tokens=new_tokens),
                                                 [row] * len(prompts))]
    theirs = [exported.greedy(list(ids), new_tokens) for ids in prompts]
    theirs = [tokens[:-1] if tokens and tokens[-1] in engine.stop_token_ids else tokens for tokens in theirs]
    return {"prompts": len(prompts), "new_tokens": new_tokens, **agreement(ours, theirs)}


def decode_speed(folder: Path, prompt: list[int], new_tokens: int, repeats: int,
                 first_tokens: Mapping[str, list[int]] | None = None) -> dict[str, float]:
    """Batch-1 tokens/s over `new_tokens` forced tokens and the time to the first token, medians of `repeats`; and
    the time to the first token after each prompt of `first_tokens`, in milliseconds under its key."""
    started = time.perf_counter()
    exported = OnnxModel(folder)
    load_s = time.perf_counter() - started
    exported.greedy(prompt, 4)  # warm-up

    def decode(count: int) -> None:
        exported.greedy(prompt, count, forced=True)

    batch1_s = median_time(lambda: decode(new_tokens), repeats)
    ttft_s = median_time(lambda: decode(1), repeats)
    def first_token(ids: list[int]) -> float:
        return round(median_time(lambda: exported.greedy(ids, 1, forced=True), repeats) * 1000, 1)

    more = {key: first_token(ids) for key, ids in (first_tokens or {}).items()}
    return {"batch1_tokens_per_s": round(new_tokens / batch1_s, 2), "ttft_ms": round(ttft_s * 1000, 1), **more,
            "load_s": round(load_s, 2)}
