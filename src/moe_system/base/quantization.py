"""Calibration for int8: the largest activation each linear of the base sees on every input channel.

Quantizing activations to 8 bits per token costs the embedded model +3.3% perplexity on its own (weights alone
cost +0.3%): a few input channels carry values far above the rest, and one scale per token rounds the rest
coarsely. SmoothQuant (Xiao et al., 2023) moves that range into the weights: with s_j = max|x_j|^a / max|W_j|^(1-a)
per input channel j, x / s and W * s give the same product with tamer activations. Measured on SmolLM2-135M (6,000
tokens of this project's READMEs, calibrated on its docs): +3.95% perplexity without smoothing, +2.14% / +1.16% /
+1.37% with a = 0.3 / 0.5 / 0.7. The maxima come from one float forward over a fixed hand-written EN + RU
calibration chat (`calibration/calibration.yaml`, never used to evaluate) and are cached under
`MOE_HOME/models/calibration/`, keyed by the weights' sha256 and the calibration text's: a later load reads them
in milliseconds, and a corrupt cache file is computed again.

    from moe_system.base.quantization import activation_maxima
    maxima = activation_maxima(base, settings)   # {"model.layers.0.self_attn.q_proj": tensor [in], ...}
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING

import yaml

from moe_system.base.fingerprint import weights_sha256
from moe_system.config import Settings
from moe_system.durable import write_atomic

if TYPE_CHECKING:
    import torch

    from moe_system.base import ChatTokenizer, LoadedBase

CALIBRATION = "calibration.yaml"
CHUNK_TOKENS = 512  # one forward's tokens
MAX_TOKENS = 4096  # the calibration's tokens in all (about 2 s of fp32 forward on 2 cores)
MESSAGES_PER_CHAT = 6


def calibration_text() -> bytes:
    return resources.files("moe_system.base.calibration").joinpath(CALIBRATION).read_bytes()


def calibration_ids(tokenizer: ChatTokenizer) -> list[list[int]]:
    """The calibration chat as the model serves it: chat-templated conversations of a few turns, each cut to
    `CHUNK_TOKENS`, `MAX_TOKENS` in all."""
    texts = yaml.safe_load(calibration_text())["texts"]
    messages = [{"role": str(t["role"]), "content": str(t["text"])} for t in texts]
    chunks: list[list[int]] = []
    for start in range(0, len(messages), MESSAGES_PER_CHAT):
        ids = tokenizer.chat_ids(messages[start:start + MESSAGES_PER_CHAT], add_generation_prompt=False)
        chunks.append(ids[:CHUNK_TOKENS])
        if sum(map(len, chunks)) >= MAX_TOKENS:
            break
    return chunks


def measure_maxima(model: torch.nn.Module, chunks: list[list[int]]) -> dict[str, torch.Tensor]:
    """Per-input-channel max |activation| [in] of every `nn.Linear` of `model` over `chunks` (float forward)."""
    import torch

    maxima: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Callable[[torch.nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def hook(_: torch.nn.Module, inputs: tuple[torch.Tensor, ...], __: torch.Tensor) -> None:
            seen = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(dim=0).float()  # [in]
            maxima[name] = torch.maximum(maxima[name], seen) if name in maxima else seen
        return hook

    handles = [module.register_forward_hook(keep(name)) for name, module in model.named_modules()
               if isinstance(module, torch.nn.Linear)]
    try:
        with torch.inference_mode():
            device = next(model.parameters()).device
            for chunk in chunks:
                model(torch.tensor([chunk], device=device))
    finally:
        for handle in handles:
            handle.remove()
    return maxima


def activation_maxima(base: LoadedBase, settings: Settings) -> dict[str, torch.Tensor]:
    """The base's per-channel activation maxima on the calibration chat, from the cache or measured (and cached)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save_file

    text_sha = hashlib.sha256(calibration_text()).hexdigest()
    weights = weights_sha256(base.path, settings.home / "cache")
    path = settings.models_dir / "calibration" / f"{weights[:20]}-{text_sha[:12]}.safetensors"
    try:
        return load_file(path)
    except (OSError, ValueError, SafetensorError):  # missing or corrupt: measure again
        pass
    maxima = measure_maxima(base.model, calibration_ids(base.tokenizer))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda target: save_file({name: tensor.contiguous() for name, tensor in maxima.items()}, target))
    return maxima
