"""Expert switching and mixed-expert batches: our adapter cache and batched engine against PEFT, same run.

    moe bench experts --json          # or: python benchmarks/experts.py --json

Setup: `load_count` LoRA adapters, rank `rank` on all seven linears of every layer (20 MB each at r16 on
SmolLM2-135M), random weights, written as PEFT folders (`adapter_config.json` + safetensors). Measured:

- `cold_load_ms`: reading one installed adapter into the engine (safetensors -> ready tensors), median over
  the `load_count` adapters loaded one after another, plus the first and the last (it must stay flat as
  experts accumulate). Peer: `PeftModel.load_adapter` for the same folders.
- `hot_swap_ms`: switching a request to another already-loaded expert (cache hit + building the batch's
  adapter state), median of 200 switches. Peer: `set_adapter`.
- tokens/s at batch `batch` (greedy, `new_tokens` each, no early stop): every row with the same expert
  (`uniform`), every row with a different expert (`mixed`), and the plain base. `mixed_ratio` = mixed ÷
  uniform. Peer: `generate` after `set_adapter` (uniform) and with `adapter_names=` (mixed).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from moe_system.bench.common import PROMPTS, left_padded, median_time, rss_mb
from moe_system.config import Settings

SITES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def write_random_lora(folder: Path, shapes: dict[tuple[int, str], tuple[int, int]], rank: int, seed: int) -> Path:
    """A PEFT LoRA folder with random A and B (B non-zero, so the adapter really changes the output)."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for (layer, site), (n_in, n_out) in shapes.items():
        block = "mlp" if site in {"gate_proj", "up_proj", "down_proj"} else "self_attn"
        prefix = f"base_model.model.model.layers.{layer}.{block}.{site}"
        tensors[f"{prefix}.lora_A.weight"] = torch.randn(rank, n_in, generator=generator) / n_in**0.5
        tensors[f"{prefix}.lora_B.weight"] = torch.randn(n_out, rank, generator=generator) * 0.01
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, folder / "adapter_model.safetensors")
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 2 * rank, "lora_dropout": 0.0,
        "target_modules": list(SITES), "bias": "none", "base_model_name_or_path": None,
    }
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def _interleaved(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each run, taking turns (base, uniform, mixed, base, ...) after one warm-up each,
    so that a slow phase of a shared machine hits every variant alike instead of skewing their ratio."""
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def run(
    settings: Settings, batch: int = 8, new_tokens: int = 32, repeats: int = 3, rank: int = 16,
    load_count: int = 16, peer: bool = True,
) -> dict[str, Any]:
    """Run the benchmark and return the numbers (see module docstring)."""
    from moe_system.engine import Engine, SamplingParams
    from moe_system.engine.lora import AdapterBatch
    from moe_system.experts.cache import ExpertCache
    from moe_system.runtime import Runtime

    settings = settings.model_copy(update={"base": settings.base.model_copy(update={"dtype": "float32"})})
    runtime = Runtime.load(settings)
    backend = runtime.engine.backend
    if not backend.linears:
        raise RuntimeError("the expert benchmark needs the native backend (a Llama-family base model)")
    shapes = {site: (lin.in_features, lin.out_features) for site, lin in backend.linears.items()}
    workdir = Path(tempfile.mkdtemp(prefix="moe-bench-experts-"))
    count = max(load_count, batch)
    folders = [write_random_lora(workdir / f"e{i}", shapes, rank, seed=i) for i in range(count)]
    adapter_mb = (folders[0] / "adapter_model.safetensors").stat().st_size / 2**20

    prompts = [runtime.prompt_ids([{"role": "user", "content": p}], None) for p in PROMPTS[:batch]]
    engine = Engine(backend)  # no stop tokens: every run decodes exactly new_tokens
    params = SamplingParams(max_new_tokens=new_tokens)

    # ---- ours
    cache = ExpertCache(backend.linears, backend.dtype, budget_bytes=2**40)
    loads = []
    for index, folder in enumerate(folders):
        started = time.perf_counter()
        cache.get(f"e{index}", "1.0.0", "lora", folder)
        loads.append(time.perf_counter() - started)
    experts = [cache.get(f"e{i}", "1.0.0", "lora", folders[i]) for i in range(count)]
    swaps = []
    for step in range(200):
        index = step % count
        started = time.perf_counter()
        adapter = cache.get(f"e{index}", "1.0.0", "lora", folders[index])
        AdapterBatch.build([((adapter, 1.0),)])
        swaps.append(time.perf_counter() - started)
    uniform_rows = [((experts[0], 1.0),)] * batch
    mixed_rows = [((experts[i], 1.0),) for i in range(batch)]
    ours_s = _interleaved({
        "base": lambda: engine.generate(prompts, params),
        "uniform": lambda: engine.generate(prompts, params, uniform_rows),
        "mixed": lambda: engine.generate(prompts, params, mixed_rows),
    }, repeats)
    tokens = batch * new_tokens
    ours = {
        "cold_load_ms": _ms(statistics.median(loads)),
        "cold_load_ms_first": _ms(loads[0]),
        "cold_load_ms_last": _ms(loads[-1]),
        "hot_swap_ms": _ms(statistics.median(swaps)),
        **{f"{k}_tokens_per_s": round(tokens / v, 2) for k, v in ours_s.items()},
    }
    ours["mixed_ratio"] = round(ours["mixed_tokens_per_s"] / ours["uniform_tokens_per_s"], 3)
    result: dict[str, Any] = {
        "model": runtime.model_name, "backend": runtime.backend_name, "threads": torch.get_num_threads(),
        "rank": rank, "adapter_mb": round(adapter_mb, 2), "experts_loaded": count, "batch": batch,
        "new_tokens": new_tokens, "repeats": repeats, **ours, "rss_mb": round(rss_mb(), 1),
    }
    if peer:
        result["peer"] = _peft(settings, folders, prompts, batch, new_tokens, repeats, runtime)
        theirs = result["peer"]
        result["vs_peer"] = {
            "mixed_tokens_per_s": round(ours["mixed_tokens_per_s"] / theirs["mixed_tokens_per_s"], 2),
            "uniform_tokens_per_s": round(ours["uniform_tokens_per_s"] / theirs["uniform_tokens_per_s"], 2),
            "hot_swap": round(theirs["hot_swap_ms"] / max(ours["hot_swap_ms"], 1e-6), 1),
            "cold_load": round(theirs["cold_load_ms"] / max(ours["cold_load_ms"], 1e-6), 1),
        }
    return result


def _peft(
    settings: Settings, folders: list[Path], prompts: list[list[int]], batch: int, new_tokens: int, repeats: int,
    runtime: Any,
) -> dict[str, Any]:
    """The same adapters and prompts through PEFT on the transformers model."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from moe_system.base import base_model_dir

    model = AutoModelForCausalLM.from_pretrained(
        base_model_dir(settings), dtype=torch.float32, local_files_only=True
    ).eval()
    loads = []
    started = time.perf_counter()
    peft_model = PeftModel.from_pretrained(model, folders[0], adapter_name="e0").eval()
    loads.append(time.perf_counter() - started)
    for index, folder in enumerate(folders[1:], start=1):
        started = time.perf_counter()
        peft_model.load_adapter(folder, adapter_name=f"e{index}")
        loads.append(time.perf_counter() - started)
    swaps = []
    for step in range(20):
        started = time.perf_counter()
        peft_model.set_adapter(f"e{step % len(folders)}")
        swaps.append(time.perf_counter() - started)

    pad = runtime.tokenizer.tokenizer.pad_token_id or 0
    ids, mask = left_padded(prompts, pad)

    def generate(**extra: Any) -> None:
        with torch.inference_mode():
            peft_model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                do_sample=False, pad_token_id=pad, **extra,
            )

    peft_model.set_adapter("e0")
    uniform_s = median_time(generate, repeats)
    mixed_s = median_time(lambda: generate(adapter_names=[f"e{i}" for i in range(batch)]), repeats)
    tokens = batch * new_tokens
    return {
        "name": "peft",
        "cold_load_ms": _ms(statistics.median(loads)),
        "cold_load_ms_first": _ms(loads[0]),
        "cold_load_ms_last": _ms(loads[-1]),
        "hot_swap_ms": _ms(statistics.median(swaps)),
        "uniform_tokens_per_s": round(tokens / uniform_s, 2),
        "mixed_tokens_per_s": round(tokens / mixed_s, 2),
        "mixed_ratio": round(uniform_s / mixed_s, 3),
    }
