"""Expert switching and mixed-expert batches: our adapter cache and batched engine against PEFT, same run.

    moe bench experts --json          # or: python benchmarks/experts.py --json

Setup: `load_count` LoRA adapters, rank `rank` on all seven linears of every layer (20 MB each at r16 on
SmolLM2-135M), random weights, written as PEFT folders (`adapter_config.json` + safetensors). Ours runs on the
native backend, PEFT on the transformers model (eager); each side is also timed without adapters on its own engine,
so the adapter technique can be told apart from the base engine. Both sides are measured the same way, with the
same sample counts, taking turns (ours, then PEFT, for every sample), so that a slow phase of a shared machine hits
both alike. Measured:

- `load_ms_page_cache`: reading one adapter into the engine (safetensors -> ready tensors, every byte read:
  safetensors maps the file lazily, so the bench reads each tensor once) right after it was written, so from
  the page cache; median over the `load_count` adapters loaded one after another, plus the first
  and the last (it must stay flat as experts accumulate). Peer: `PeftModel.load_adapter` of the same folders.
- `load_ms_cold`: the same read with the adapter's files out of the page cache: fsync (so the pages are clean),
  then `posix_fadvise(POSIX_FADV_DONTNEED)`, checked with mincore(2): `cold_cache` says how much of the files was
  resident before and after the drop. (On a virtual machine the host may still cache the disk.)
- `hot_swap_ms`: switching a request to another already-loaded expert (cache hit + building the batch's
  adapter state), median of `swaps` switches. Peer: `set_adapter`.
- tokens/s at batch `batch` (greedy, `new_tokens` each, no early stop): the plain base (`base`), every row with the
  same expert (`uniform`), every row with a different expert (`mixed`): medians of `repeats` turns. `mixed_ratio` =
  mixed ÷ uniform; `uniform_vs_base` and `mixed_vs_base` are each side's speed with adapters ÷ its own base speed
  (each the median of the ratios within a turn). Peer: `generate` with the adapters disabled, after
  `set_adapter`, and with `adapter_names=`.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from moe_system.bench.common import PROMPTS, cpu_model, left_padded, rss_mb
from moe_system.config import Settings
from moe_system.experts.layout import SHIPPED_DTYPE

SITES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def write_random_lora(folder: Path, shapes: dict[tuple[int, str], tuple[int, int]], rank: int, seed: int) -> Path:
    """A PEFT LoRA folder with random A and B (B non-zero, so the adapter really changes the output), stored in the
    dtype the trainer ships packages in (`SHIPPED_DTYPE`), so benchmarks load and read the bytes a real expert has."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for (layer, site), (n_in, n_out) in shapes.items():
        block = "mlp" if site in {"gate_proj", "up_proj", "down_proj"} else "self_attn"
        prefix = f"base_model.model.model.layers.{layer}.{block}.{site}"
        tensors[f"{prefix}.lora_A.weight"] = torch.randn(rank, n_in, generator=generator) / n_in**0.5
        tensors[f"{prefix}.lora_B.weight"] = torch.randn(n_out, rank, generator=generator) * 0.01
    folder.mkdir(parents=True, exist_ok=True)
    save_file({key: tensor.to(SHIPPED_DTYPE) for key, tensor in tensors.items()}, folder / "adapter_model.safetensors")
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 2 * rank, "lora_dropout": 0.0,
        "target_modules": list(SITES), "bias": "none", "base_model_name_or_path": None,
    }
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


# ---- the page cache


def resident_share(path: Path) -> float:
    """The share (0..1) of `path`'s pages in the page cache: mincore(2) on a fresh shared mapping, which maps
    without reading anything in."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    if not pages:
        return 0.0
    with open(path, "rb") as file:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, file.fileno(), 0)
    if address is None or address == ctypes.c_void_p(-1).value:
        raise OSError(ctypes.get_errno(), f"mmap of {path} failed")
    try:
        vector = ctypes.create_string_buffer(pages)
        if libc.mincore(address, size, vector) != 0:
            raise OSError(ctypes.get_errno(), f"mincore of {path} failed")
        return sum(byte & 1 for byte in vector.raw[:pages]) / pages
    finally:
        libc.munmap(address, size)


def drop_from_page_cache(folder: Path) -> tuple[float, float]:
    """Evict the files of `folder` from the page cache (fsync first, so every page is clean and can go); return
    the largest resident share of any of them before and after."""
    before = after = 0.0
    for path in sorted(folder.iterdir()):
        before = max(before, resident_share(path))
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        after = max(after, resident_share(path))
    return before, after


# ---- timing


def _load(cache: Any, name: str, folder: Path) -> None:
    """One adapter through the expert cache, read in: safetensors maps files lazily, so until its tensors are read
    a load need not have touched the disk at all (PEFT's `load_adapter` copies them into its parameters)."""
    for delta in cache.get(name, "1.0.0", "lora", folder).sites.values():
        for tensor in (delta.a, delta.b, delta.in_scale, delta.out_scale, delta.out_shift):
            if tensor is not None:
                tensor.sum()


def _seconds(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _taking_turns(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each run, `repeats` times, taking turns (a, b, c, a, b, c, ...) after one warm-up each, so that
    a slow phase of a shared machine hits every variant alike instead of skewing their ratio."""
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(_seconds(fn))
    return times


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _loads(times: Sequence[float], prefix: str) -> dict[str, float]:
    return {prefix: _ms(statistics.median(times)), f"{prefix}_first": _ms(times[0]), f"{prefix}_last": _ms(times[-1])}


def _throughput(seconds: dict[str, list[float]], side: str, tokens: int) -> dict[str, float]:
    """tokens/s of `side`'s base, uniform and mixed runs (medians), and their ratios as medians of the ratios within
    each turn: runs of one turn are seconds apart, so a machine that speeds up or slows down between turns (other
    work starting or ending) moves both sides of a ratio alike."""
    runs = {kind: seconds[f"{side}_{kind}"] for kind in ("base", "uniform", "mixed")}

    def ratio(faster: str, slower: str) -> float:  # tokens/s of `faster` ÷ tokens/s of `slower`
        return round(statistics.median(s / f for f, s in zip(runs[faster], runs[slower], strict=True)), 3)

    return {
        **{f"{kind}_tokens_per_s": round(tokens / statistics.median(times), 2) for kind, times in runs.items()},
        "mixed_ratio": ratio("mixed", "uniform"),
        "uniform_vs_base": ratio("uniform", "base"),
        "mixed_vs_base": ratio("mixed", "base"),
    }


# ---- the benchmark


def run(
    settings: Settings, batch: int = 8, new_tokens: int = 32, repeats: int = 5, rank: int = 16,
    load_count: int = 16, swaps: int = 200, peer: bool = True,
) -> dict[str, Any]:
    """Run the benchmark and return the numbers (see module docstring); the adapters are written to a temporary
    folder, removed at the end."""
    with tempfile.TemporaryDirectory(prefix="moe-bench-experts-") as workdir:
        return _measure(settings, Path(workdir), batch, new_tokens, repeats, rank, load_count, swaps, peer)


def _measure(
    settings: Settings, workdir: Path, batch: int, new_tokens: int, repeats: int, rank: int, load_count: int,
    swaps: int, peer: bool,
) -> dict[str, Any]:
    from moe_system.engine import Engine, SamplingParams
    from moe_system.engine.lora import AdapterBatch
    from moe_system.experts.cache import ExpertCache
    from moe_system.runtime import Runtime

    load_average = os.getloadavg()[0]
    settings = settings.model_copy(update={"base": settings.base.model_copy(update={"dtype": "float32"})})
    runtime = Runtime.load(settings)
    backend = runtime.engine.backend
    if not backend.linears:
        raise RuntimeError("the expert benchmark needs the native backend (a Llama-family base model)")
    shapes = {site: (lin.in_features, lin.out_features) for site, lin in backend.linears.items()}
    count = max(load_count, batch)
    folders = [write_random_lora(workdir / f"e{i}", shapes, rank, seed=i) for i in range(count)]
    adapter_mb = (folders[0] / "adapter_model.safetensors").stat().st_size / 2**20
    prompts = [runtime.prompt_ids([{"role": "user", "content": p}], None) for p in PROMPTS[:batch]]
    theirs = _Peft(settings, prompts, new_tokens, runtime.tokenizer.tokenizer.pad_token_id or 0) if peer else None

    def both(ours: Callable[[], Any], peft: Callable[[], Any] | None) -> dict[str, Callable[[], Any]]:
        return {"ours": ours} if peft is None else {"ours": ours, "peft": peft}

    # ---- loads: from the page cache (just written), then cold (dropped first); ours, then PEFT, for every file
    cache = ExpertCache(backend.linears, backend.dtype, budget_bytes=2**40)
    page_cache: dict[str, list[float]] = {"ours": [], "peft": []}
    cold: dict[str, list[float]] = {"ours": [], "peft": []}
    resident: dict[str, list[float]] = {"before": [], "after": []}
    for index, folder in enumerate(folders):
        loads = both(partial(_load, cache, f"e{index}", folder),
                     partial(theirs.load, folder, f"e{index}") if theirs else None)
        for name, load in loads.items():
            page_cache[name].append(_seconds(load))

    def load_once(folder: Path) -> None:  # a throwaway cache: afterwards nothing maps the folder's file
        _load(ExpertCache(backend.linears, backend.dtype, budget_bytes=2**40), "cold", folder)

    for index, folder in enumerate(folders[:load_count]):
        # a copy: the kernel keeps the pages of a file that a process maps, as the cached experts map theirs
        copy = Path(shutil.copytree(folder, workdir / f"cold{index}"))
        loads = both(partial(load_once, copy), partial(theirs.load, copy, "cold", keep=False) if theirs else None)
        for name, load in loads.items():
            before, after = drop_from_page_cache(copy)
            resident["before"].append(before)
            resident["after"].append(after)
            cold[name].append(_seconds(load))

    # ---- hot swaps
    experts = [cache.get(f"e{i}", "1.0.0", "lora", folders[i]) for i in range(count)]
    turn = iter(range(swaps + 1))  # the warm-up, then `swaps` switches

    def swap() -> None:
        index = next(turn) % count
        AdapterBatch.build([((cache.get(f"e{index}", "1.0.0", "lora", folders[index]), 1.0),)])

    swap_s = _taking_turns(both(swap, theirs.swap if theirs else None), swaps)

    # ---- throughput, all six runs taking turns
    engine = Engine(backend)  # no stop tokens: every run decodes exactly new_tokens
    params = SamplingParams(max_new_tokens=new_tokens)
    uniform_rows = [((experts[0], 1.0),)] * batch
    mixed_rows = [((experts[i], 1.0),) for i in range(batch)]
    runs: dict[str, Callable[[], Any]] = {
        "ours_base": lambda: engine.generate(prompts, params),
        "ours_uniform": lambda: engine.generate(prompts, params, uniform_rows),
        "ours_mixed": lambda: engine.generate(prompts, params, mixed_rows),
    }
    if theirs is not None:
        theirs.model.set_adapter("e0")
        runs |= {
            "peft_base": theirs.base,
            "peft_uniform": theirs.generate,
            "peft_mixed": lambda: theirs.generate(adapter_names=[f"e{i}" for i in range(batch)]),
        }
    seconds = _taking_turns(runs, repeats)

    tokens = batch * new_tokens

    def side(name: str) -> dict[str, Any]:
        return {
            **_loads(page_cache[name], "load_ms_page_cache"), **_loads(cold[name], "load_ms_cold"),
            "hot_swap_ms": _ms(statistics.median(swap_s[name])), **_throughput(seconds, name, tokens),
        }

    ours = side("ours")
    result: dict[str, Any] = {
        "cpu": cpu_model(), "threads": torch.get_num_threads(),
        "model": runtime.model_name, "backend": runtime.backend_name, "rank": rank, "adapter_mb": round(adapter_mb, 2),
        "experts_loaded": count, "batch": batch, "new_tokens": new_tokens, "repeats": repeats, "swaps": swaps,
        "cold_cache": {"method": "fsync + posix_fadvise(POSIX_FADV_DONTNEED), checked with mincore",
                       "resident_before_drop": round(max(resident["before"]), 3),
                       "resident_after_drop": round(max(resident["after"]), 3),
                       "dropped": max(resident["after"]) == 0.0},
        **ours, "rss_mb": round(rss_mb(), 1),
    }
    if theirs is not None:
        peft = result["peer"] = {"name": "peft", "backend": "transformers (eager)", **side("peft")}
        result["vs_peer"] = {
            **{key: round(ours[key] / peft[key], 2)
               for key in ("base_tokens_per_s", "uniform_tokens_per_s", "mixed_tokens_per_s")},
            **{key: round(peft[key] / max(ours[key], 1e-6), 1)
               for key in ("hot_swap_ms", "load_ms_page_cache", "load_ms_cold")},
        }
    result["load_average_1m"] = {"start": round(load_average, 2), "end": round(os.getloadavg()[0], 2)}
    return result


class _Peft:
    """The peer: the same adapters and prompts through PEFT on the transformers model."""

    def __init__(self, settings: Settings, prompts: list[list[int]], new_tokens: int, pad: int) -> None:
        from transformers import AutoModelForCausalLM

        from moe_system.base import base_model_dir

        self.base_model = AutoModelForCausalLM.from_pretrained(
            base_model_dir(settings), dtype=torch.float32, local_files_only=True
        ).eval()
        self.model: Any = None  # the PeftModel, made by the first load
        self.ids, self.mask = left_padded(prompts, pad)
        self.new_tokens, self.pad = new_tokens, pad
        self.swaps = 0

    def load(self, folder: Path, name: str, keep: bool = True) -> None:
        from peft import PeftModel

        if self.model is None:
            self.model = PeftModel.from_pretrained(self.base_model, folder, adapter_name=name).eval()
        else:
            self.model.load_adapter(folder, adapter_name=name)
        if not keep:
            self.model.delete_adapter(name)

    def swap(self) -> None:
        self.model.set_adapter(f"e{self.swaps % len(self.model.peft_config)}")
        self.swaps += 1

    def generate(self, **extra: Any) -> None:
        with torch.inference_mode():
            self.model.generate(
                input_ids=self.ids, attention_mask=self.mask, max_new_tokens=self.new_tokens,
                min_new_tokens=self.new_tokens, do_sample=False, pad_token_id=self.pad, **extra,
            )

    def base(self) -> None:
        with self.model.disable_adapter():
            self.generate()

