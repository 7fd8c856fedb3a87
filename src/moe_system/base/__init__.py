"""Base models: resolve the configured model, convert GGUF once into a cached folder, load it.

    from moe_system.base import base_model_dir, load_base
    path = base_model_dir()          # cached HF folder of the configured base model
    base = load_base()               # model + chat tokenizer, ready for the engine
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from moe_system.base.convert import ensure_converted
from moe_system.base.source import ModelSource, resolve_source
from moe_system.base.tokenizer import ChatTokenizer
from moe_system.config import Settings, load_settings
from moe_system.errors import ConfigError, ModelNotFoundError, one_line

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

__all__ = ["ChatTokenizer", "LoadedBase", "ModelSource", "base_model_dir", "load_base", "resolve_device"]


def base_model_dir(settings: Settings | None = None, console: Console | None = None) -> Path:
    """The cached Hugging Face folder of the configured base model (converting a GGUF on first use)."""
    settings = settings or load_settings()
    source = resolve_source(settings.base)
    if source.gguf_file is None:
        return source.path
    return ensure_converted(source, settings.models_dir, console)


@dataclass
class LoadedBase:
    """A loaded base model: the transformers module, its chat tokenizer and where it came from."""

    model: PreTrainedModel
    tokenizer: ChatTokenizer
    path: Path
    name: str
    device: torch.device
    dtype: torch.dtype

    @property
    def context_length(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without it is a config error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("base.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def load_base(settings: Settings | None = None, console: Console | None = None) -> LoadedBase:
    """Load the configured base model and tokenizer from local files only (safetensors weights)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    settings = settings or load_settings()
    if settings.base.threads:
        torch.set_num_threads(settings.base.threads)
    path = base_model_dir(settings, console)
    device = resolve_device(settings.base.device)
    dtype = getattr(torch, settings.base.dtype)
    hf_logging.disable_progress_bar()  # the cached folder loads in about a second
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=dtype, local_files_only=True, use_safetensors=True
        )
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(f"cannot load base model from {path}: {one_line(err)}") from err
    model.to(device).eval()  # type: ignore[arg-type]  # transformers types `to` as a decorator wrapper
    eos = getattr(model.generation_config, "eos_token_id", None)
    return LoadedBase(
        model=model,
        tokenizer=ChatTokenizer.from_hf(tokenizer, eos),
        path=path,
        name=resolve_source(settings.base).name,
        device=device,
        dtype=dtype,
    )
