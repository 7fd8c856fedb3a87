"""Decode speed of the engine against plain `transformers` `generate` and onnxruntime-genai, same run.

    moe bench decode [--quantization none|int8|int4] --json    # or: python benchmarks/decode.py --json

Measures, for greedy decoding of `new_tokens` tokens from ~40-token chat prompts: tokens/s at batch 1
and batch 8 (eight different prompts, so rows have different lengths), time to first token for that prompt and
for a `LONG_PROMPT`-token one, load time and the process RSS; then with random r16 LoRA experts on every linear:
batch 1 with one expert, batch 8 with one expert on every row and with 8 different experts. Our engine runs the
base as `--quantization` says, and when that is not fp32, our fp32 engine is measured at batch 1 (with and without
an expert) in the same run for `vs_fp32`; the transformers peer runs fp32 on the same weights with the same thread
count; the onnxruntime-genai peer runs the int4 model its own builder makes of the same base (`base.onnx_export`),
batch 1. Each number is the median of `repeats` runs after a warm-up. Our engine is measured first (its RSS before
anything else is loaded), then the peers, each with the RSS its loading added to the process (`rss_added_mb`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from moe_system.bench.common import PROMPTS, cpu_model, left_padded, median_time, peak_rss_mb, rss_mb
from moe_system.bench.experts import write_random_lora
from moe_system.config import Quantization, Settings

LONG_PROMPT = 512  # tokens of the long prompt whose time to first token is measured


def run(settings: Settings, new_tokens: int = 64, repeats: int = 3, batch: int = 8,
        quantization: Quantization = "int8") -> dict[str, Any]:
    """Run the benchmark and return the numbers (see module docstring); `quantization` is how our engine runs the
    base's weights (the peer always runs fp32)."""
    from transformers import AutoModelForCausalLM

    from moe_system.base import base_model_dir
    from moe_system.engine import Engine, SamplingParams
    from moe_system.runtime import Runtime

    def settings_for(kind: Quantization) -> Settings:
        return settings.model_copy(update={"base": settings.base.model_copy(
            update={"dtype": "float32", "quantization": kind})})

    runtime = Runtime.load(settings_for(quantization))
    prompts = [runtime.prompt_ids([{"role": "user", "content": p}], None) for p in PROMPTS[:batch]]
    long_prompt = _long_prompt(runtime)
    engine = Engine(runtime.engine.backend)  # no stop tokens: every run decodes exactly new_tokens
    params = SamplingParams(max_new_tokens=new_tokens)
    first = SamplingParams(max_new_tokens=1)

    ours = {
        "batch1_s": median_time(lambda: engine.generate(prompts[:1], params), repeats),
        "batchN_s": median_time(lambda: engine.generate(prompts, params), repeats),
        "ttft_s": median_time(lambda: engine.generate(prompts[:1], first), repeats),
        "ttft_long_s": median_time(lambda: engine.generate([long_prompt], first), repeats),
    }
    rss_ours = rss_mb()
    peak_ours = peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="moe-bench-decode-") as folder:
        experts = _expert_rates(runtime, engine, prompts, params, repeats, Path(folder))
        fp32 = None
        if runtime.engine.backend.quantization != "none":
            runtime.close()
            baseline = Runtime.load(settings_for("none"))
            fp32 = {"batch1_tokens_per_s": round(new_tokens / median_time(
                        lambda: Engine(baseline.engine.backend).generate(prompts[:1], params), repeats), 2),
                    **_expert_rates(baseline, Engine(baseline.engine.backend), prompts[:1], params, repeats,
                                    Path(folder) / "fp32")}
            baseline.close()
    onnx_peer = _onnx_peer(settings, prompts[0], long_prompt, new_tokens, repeats)

    before = rss_mb()
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        base_model_dir(settings), dtype=torch.float32, local_files_only=True
    ).eval()
    peer_load_s = time.perf_counter() - started
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
        "ttft_long_s": median_time(lambda: hf_generate([long_prompt], 1), repeats),
    }

    def rates(t: dict[str, float]) -> dict[str, float]:
        return {
            "batch1_tokens_per_s": round(new_tokens / t["batch1_s"], 2),
            f"batch{batch}_tokens_per_s": round(batch * new_tokens / t["batchN_s"], 2),
            "ttft_ms": round(t["ttft_s"] * 1000, 1),
            f"ttft_{LONG_PROMPT}_ms": round(t["ttft_long_s"] * 1000, 1),
        }

    mine, theirs = rates(ours), rates(peer)
    theirs.update(load_s=round(peer_load_s, 2), rss_added_mb=round(rss_mb() - before, 1))
    vs_fp32 = None if fp32 is None else {
        "fp32": fp32,
        "batch1": round(mine["batch1_tokens_per_s"] / fp32["batch1_tokens_per_s"], 2),
        "batch1_with_expert": round(experts["batch1_expert_tokens_per_s"] / fp32["batch1_expert_tokens_per_s"], 2),
    }
    if onnx_peer.get("batch1_tokens_per_s"):
        onnx_peer["ratio_batch1"] = round(mine["batch1_tokens_per_s"] / onnx_peer["batch1_tokens_per_s"], 2)
        onnx_peer["ratio_batch1_with_expert"] = round(
            experts["batch1_expert_tokens_per_s"] / onnx_peer["batch1_tokens_per_s"], 2)
    return {
        "cpu": cpu_model(),
        "model": runtime.model_name,
        "backend": runtime.backend_name,
        "dtype": "float32",
        "quantization": runtime.engine.backend.quantization,
        "threads": torch.get_num_threads(),
        "prompt_tokens": len(prompts[0]),
        "long_prompt_tokens": len(long_prompt),
        "new_tokens": new_tokens,
        "batch": batch,
        "repeats": repeats,
        **mine,
        **experts,
        "load_s": round(runtime.load_s, 2),
        "rss_mb": round(rss_ours, 1),
        "peak_rss_mb": round(peak_ours, 1),
        "peer": {"name": "transformers.generate", **theirs},
        "onnx_peer": onnx_peer,
        "vs_fp32": vs_fp32,
        "ratio": {
            "batch1": round(mine["batch1_tokens_per_s"] / theirs["batch1_tokens_per_s"], 2),
            f"batch{batch}": round(
                mine[f"batch{batch}_tokens_per_s"] / theirs[f"batch{batch}_tokens_per_s"], 2
            ),
            "ttft": round(theirs["ttft_ms"] / mine["ttft_ms"], 2),
        },
    }


def _long_prompt(runtime: Any) -> list[int]:
    """A chat prompt of `LONG_PROMPT` tokens: the user asks about a long passage (the bench prompts, repeated)."""
    text = " ".join(PROMPTS * 40)
    return runtime.prompt_ids([{"role": "user", "content": text}], None)[:LONG_PROMPT]


def _expert_rates(runtime: Any, engine: Any, prompts: list[list[int]], params: Any, repeats: int,
                  folder: Path) -> dict[str, float]:
    """Tokens/s with random r16 LoRA experts on every linear: one expert at batch 1, and with more than one prompt,
    one expert on all rows and a different expert on each row; `mixed_ratio` = different ÷ one expert on all rows."""
    from moe_system.experts.adapters import load_adapter

    backend = runtime.engine.backend
    shapes = {site: (linear.in_features, linear.out_features) for site, linear in backend.linears.items()}
    adapters = [load_adapter(write_random_lora(folder / f"e{i}", shapes, 16, seed=i), backend.linears,
                             name=f"e{i}", dtype=backend.dtype) for i in range(len(prompts))]
    tokens = params.max_new_tokens
    one = [((adapters[0], 1.0),)]
    batch1_s = median_time(lambda: engine.generate(prompts[:1], params, one), repeats)
    if len(prompts) == 1:
        return {"batch1_expert_tokens_per_s": round(tokens / batch1_s, 2)}
    same_s = median_time(lambda: engine.generate(prompts, params, one * len(prompts)), repeats)
    mixed_s = median_time(lambda: engine.generate(prompts, params, [((a, 1.0),) for a in adapters]), repeats)
    return {"batch1_expert_tokens_per_s": round(tokens / batch1_s, 2),
            f"batch{len(prompts)}_one_expert_tokens_per_s": round(len(prompts) * tokens / same_s, 2),
            f"batch{len(prompts)}_mixed_experts_tokens_per_s": round(len(prompts) * tokens / mixed_s, 2),
            "mixed_ratio": round(same_s / mixed_s, 3)}


def _onnx_peer(settings: Settings, prompt: list[int], long_prompt: list[int], new_tokens: int,
               repeats: int) -> dict[str, Any]:
    """onnxruntime-genai on the int4 model its builder makes of the same base (built once, kept under
    `MOE_HOME/models/onnx/`), batch 1; `{"skipped": why}` without the export extra."""
    from moe_system.base import base_model_dir
    from moe_system.base.onnx_export import export_onnx
    from moe_system.bench.onnx import decode_speed
    from moe_system.errors import ConfigError

    source = base_model_dir(settings)
    folder = settings.models_dir / "onnx" / f"{source.name}-int4"
    try:
        started = time.perf_counter()
        if not (folder / "genai_config.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            export_onnx(source, folder, "int4")
        build_s = time.perf_counter() - started
    except ConfigError as err:
        return {"name": "onnxruntime-genai int4", "skipped": str(err)}
    before = rss_mb()
    speed = decode_speed(folder, prompt, new_tokens, repeats, {f"ttft_{LONG_PROMPT}_ms": long_prompt})
    return {"name": "onnxruntime-genai int4", "build_s": round(build_s, 1), **speed,
            "rss_added_mb": round(rss_mb() - before, 1)}
