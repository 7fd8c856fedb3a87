"""Convert a GGUF file once into a cached Hugging Face folder (fp32 safetensors + tokenizer).

transformers dequantizes GGUF on load, but refuses to `save_pretrained` a model that still carries
its GGUF quantization config. So: load it, build a fresh model from the config without that entry,
copy the state dict in (all keys match) and save. The result is written into a temporary sibling
folder and renamed into place, under a file lock, so a crash or a concurrent process never leaves a
half-written cache. Measured here: ~20-60 s once, then the cached folder loads in ~1 s.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from moe_system.base.source import ModelSource
from moe_system.durable import replace_folder

MARKER = "moe_source.json"
_CONVERT_STEPS = ("tokenizer", "dequantize weights", "save safetensors")


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cache_dir_for(source: ModelSource, models_dir: Path) -> Path:
    """Cache folder for a GGUF source, keyed by name and file size + mtime (cheap; sha256 is recorded)."""
    assert source.gguf_file is not None
    stat = source.gguf_file.stat()
    key = hashlib.sha256(f"{source.gguf_file.resolve()}:{stat.st_size}".encode()).hexdigest()[:10]
    return models_dir / f"{source.name.lower()}-{key}"


def ensure_converted(source: ModelSource, models_dir: Path, console: Console | None = None) -> Path:
    """Return the cached HF folder for a GGUF source, converting it first if needed."""
    target = cache_dir_for(source, models_dir)
    if (target / MARKER).is_file():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with _locked(models_dir / f".{target.name}.lock"):
        if (target / MARKER).is_file():  # another process finished while we waited
            return target
        _convert(source, target, console or Console(stderr=True))
    return target


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _convert(source: ModelSource, target: Path, console: Console) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    assert source.gguf_file is not None
    gguf_name = source.gguf_file.name
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    console.print(f"[bold]First use:[/] converting {gguf_name} into {target} (once)")
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=False,
    )
    hf_logging.disable_progress_bar()
    try:
        with progress:
            task = progress.add_task("converting: tokenizer", total=len(_CONVERT_STEPS))
            tokenizer = AutoTokenizer.from_pretrained(source.path, gguf_file=gguf_name)
            progress.update(task, advance=1, description="converting: dequantize weights")
            quantized = AutoModelForCausalLM.from_pretrained(
                source.path, gguf_file=gguf_name, dtype=torch.float32
            )
            config = quantized.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            model.load_state_dict(quantized.state_dict(), strict=True)
            del quantized
            progress.update(task, advance=1, description="converting: save safetensors")
            model.save_pretrained(staging, safe_serialization=True)
            tokenizer.save_pretrained(staging)
            marker = {
                "source": str(source.gguf_file),
                "source_sha256": file_sha256(source.gguf_file),
                "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            (staging / MARKER).write_text(json.dumps(marker, indent=2))
            progress.update(task, advance=1, description="converting: done")
        replace_folder(staging, target)  # over a stale, unmarked folder from an older crash, if any
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        hf_logging.enable_progress_bar()
    console.print(f"Converted in {time.perf_counter() - started:.0f} s; later loads use the cache.")
