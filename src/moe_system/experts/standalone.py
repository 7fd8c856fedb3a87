"""Experts of kind `model`: a self-contained small decoder (the trainer's `ExpertModel`, Llama architecture)
that answers on its own instead of adapting the base. It shares the base tokenizer and chat template, so the
runtime feeds it the same prompt ids and the engine's native backend runs it like any base model.

Package files: `config.json` (the transformers `LlamaConfig`, JSON only) and `model.safetensors` (the
weights; with tied embeddings the LM head is not stored twice). Nothing is unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM

from moe_system.errors import ExpertError, one_line
from moe_system.experts.layout import MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE

_TIED_HEAD = "lm_head.weight"


def save_standalone(model: LlamaForCausalLM, folder: Path, dtype: torch.dtype) -> None:
    """Write `model` as a kind-`model` expert folder: its config and its weights cast to `dtype`."""
    folder.mkdir(parents=True, exist_ok=True)
    tied = bool(model.config.tie_word_embeddings)
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()
               if not (tied and k == _TIED_HEAD)}  # fmt: skip
    save_file(tensors, folder / MODEL_WEIGHTS_FILE, metadata={"format": "pt"})
    (folder / MODEL_CONFIG_FILE).write_text(model.config.to_json_string(use_diff=False), encoding="utf-8")


def load_standalone(folder: Path, name: str, dtype: torch.dtype = torch.float32) -> LlamaForCausalLM:
    """The model of an installed kind-`model` expert, in eval mode with `dtype` weights. `ExpertError` when
    its config is not a Llama decoder config or the weights do not fit it exactly."""
    try:
        raw = json.loads((folder / MODEL_CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ExpertError(f"expert '{name}': cannot read {MODEL_CONFIG_FILE}: {one_line(err)}") from err
    if not isinstance(raw, dict) or raw.get("model_type") != "llama":
        raise ExpertError(f"expert '{name}': {MODEL_CONFIG_FILE} must describe a Llama decoder (model_type llama)")
    try:
        config = LlamaConfig.from_dict(raw)
        tensors = load_file(folder / MODEL_WEIGHTS_FILE)
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise ExpertError(f"expert '{name}': cannot load its model: {one_line(err)}") from err
    model = LlamaForCausalLM(config)
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError as err:  # a tensor of the wrong shape
        raise ExpertError(f"expert '{name}': {MODEL_WEIGHTS_FILE} does not match {MODEL_CONFIG_FILE}: "
                          f"{one_line(err)[:300]}") from err
    allowed_missing = {_TIED_HEAD} if config.tie_word_embeddings else set()
    if set(missing) - allowed_missing or unexpected:
        raise ExpertError(
            f"expert '{name}': {MODEL_WEIGHTS_FILE} does not match {MODEL_CONFIG_FILE} "
            f"(missing {sorted(set(missing) - allowed_missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    model.tie_weights()
    return model.to(dtype).eval()  # type: ignore[arg-type]  # transformers types `to` as a decorator wrapper
