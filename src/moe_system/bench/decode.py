"""Decode speed of the engine against plain `transformers` `generate` on the same model, same run.

    moe bench decode --json          # or: python benchmarks/decode.py --json

Measures, for greedy decoding of `new_tokens` tokens from ~40-token chat prompts: tokens/s at batch 1
and batch 8 (eight different prompts, so rows have different lengths), time to first token, and the
process RSS. Both sides run the same weights with the same thread count, ours as `--quantization` says (fp32,
int8), the peer fp32; each number is the
median of `repeats` runs after a warm-up. Our engine is measured first, then the peer is loaded.
"""

from __future__ import annotations

from typing import Any

import torch

from moe_system.bench.common import PROMPTS, cpu_model, left_padded, median_time, peak_rss_mb, rss_mb
from moe_system.config import Quantization, Settings


def run(settings: Settings, new_tokens: int = 64, repeats: int = 3, batch: int = 8,
        quantization: Quantization = "none") -> dict[str, Any]:
    """Run the benchmark and return the numbers (see module docstring); `quantization` is how our engine runs the
    base's weights (the peer always runs fp32)."""
    from transformers import AutoModelForCausalLM

    from moe_system.base import base_model_dir
    from moe_system.engine import Engine, SamplingParams
    from moe_system.runtime import Runtime

    settings = settings.model_copy(update={"base": settings.base.model_copy(
        update={"dtype": "float32", "quantization": quantization})})
    runtime = Runtime.load(settings)
    prompts = [runtime.prompt_ids([{"role": "user", "content": p}], None) for p in PROMPTS[:batch]]
    engine = Engine(runtime.engine.backend)  # no stop tokens: every run decodes exactly new_tokens
    params = SamplingParams(max_new_tokens=new_tokens)
    first = SamplingParams(max_new_tokens=1)

    ours = {
        "batch1_s": median_time(lambda: engine.generate(prompts[:1], params), repeats),
        "batchN_s": median_time(lambda: engine.generate(prompts, params), repeats),
        "ttft_s": median_time(lambda: engine.generate(prompts[:1], first), repeats),
    }
    rss_ours = rss_mb()
    peak_ours = peak_rss_mb()

    model = AutoModelForCausalLM.from_pretrained(
        base_model_dir(settings), dtype=torch.float32, local_files_only=True
    ).eval()
    pad = runtime.tokenizer.tokenizer.pad_token_id or 0

    def hf_generate(rows: list[list[int]], count: int) -> None:
        ids, mask = left_padded(rows, pad)
        with torch.inference_mode():
            model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=count, min_new_tokens=count,
                do_sample=False, pad_token_id=pad,
            )

    peer = {
        "batch1_s": median_time(lambda: hf_generate(prompts[:1], new_tokens), repeats),
        "batchN_s": median_time(lambda: hf_generate(prompts, new_tokens), repeats),
        "ttft_s": median_time(lambda: hf_generate(prompts[:1], 1), repeats),
    }

    def rates(t: dict[str, float]) -> dict[str, float]:
        return {
            "batch1_tokens_per_s": round(new_tokens / t["batch1_s"], 2),
            f"batch{batch}_tokens_per_s": round(batch * new_tokens / t["batchN_s"], 2),
            "ttft_ms": round(t["ttft_s"] * 1000, 1),
        }

    mine, theirs = rates(ours), rates(peer)
    return {
        "cpu": cpu_model(),
        "model": runtime.model_name,
        "backend": runtime.backend_name,
        "dtype": "float32",
        "quantization": runtime.engine.backend.quantization,
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
