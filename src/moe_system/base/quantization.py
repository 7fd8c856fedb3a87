"""Calibration for quantized weights: what each linear of the base sees, and how each linear is held, chosen from it
by a chooser the engine names (`engine.kernels.calibration_for`): SmoothQuant factors for int8 on the block kernel,
an activation-weighted int4 fit, or, for int8 on fbgemm (described below), factors and float channels.

Quantizing activations to 8 bits per token costs the embedded model +3.3% perplexity on its own (weights alone
cost +0.3%; both simulated in float on 6,000 tokens of this project's READMEs): a few input channels carry values
far above the rest, and one scale per token rounds the rest coarsely. Two remedies, chosen per linear by
`engine.kernels.best_calibration` (the choice whose int8 product is closest to the float product on the
calibration activations): SmoothQuant (Xiao et al., 2023) moves that range into the weights (with
s_j = max|x_j|^a / max|W_j|^(1-a) per input channel j, x / s and W * s give the same product with tamer
activations; which a is best differs by linear), and the few channels still loudest after it are multiplied in
float beside the int8 product (as LLM.int8() does, with the channels fixed here). Measured on SmolLM2-135M,
perplexity on 4,096 tokens of this project's READMEs (the development text): +4.92% without either, +1.67% with
a = 0.5 everywhere, +1.19% with a chosen per linear; with the float channels too, +0.28% on 4,096 tokens of the
English README and +0.60% on 6,144 of the Russian one. Held out, on `data/quality/perplexity.yaml` (see
`moe bench quality --quantization`): +2.04% smoothed alone, +0.76% with both.

The activations come from one float forward over a fixed hand-written EN + RU calibration chat
(`calibration/calibration.yaml`, never used to evaluate): each linear's max |x| per input channel and a sample of
its input rows. What was chosen is cached under `MOE_HOME/models/calibration/`, keyed by the weights' sha256,
the calibration text's and the choosing method's name: a later load reads them in milliseconds, and a corrupt
cache file is computed again.

    from moe_system.base.quantization import linear_calibration
    chosen = linear_calibration(base, settings, choose, "method-1")  # {"model.layers.0.self_attn.q_proj": {...}}
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
SAMPLE_ROWS = 32  # input rows kept per linear and chunk for choosing its smoothing (256 in all)


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


@dataclass
class Activations:
    """What the linears of a model saw on the calibration chat, by module name."""

    maxima: dict[str, torch.Tensor]  # [in]: max |x| per input channel
    samples: dict[str, torch.Tensor]  # [rows, in]: input rows drawn at random, `SAMPLE_ROWS` a chunk


def observe(model: torch.nn.Module, chunks: list[list[int]], seed: int = 0) -> Activations:
    """The activations every `nn.Linear` of `model` receives over `chunks` (one float forward each)."""
    import torch

    maxima: dict[str, torch.Tensor] = {}
    samples: dict[str, list[torch.Tensor]] = {}
    draw = torch.Generator().manual_seed(seed)

    def keep(name: str) -> Callable[[torch.nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def hook(_: torch.nn.Module, inputs: tuple[torch.Tensor, ...], __: torch.Tensor) -> None:
            rows = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).float()  # [tokens, in]
            seen = rows.abs().amax(dim=0)  # [in]
            maxima[name] = torch.maximum(maxima[name], seen) if name in maxima else seen
            picked = torch.randperm(rows.shape[0], generator=draw)[:SAMPLE_ROWS]
            samples.setdefault(name, []).append(rows[picked.to(rows.device)].cpu())
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
    return Activations(maxima, {name: torch.cat(rows) for name, rows in samples.items()})


# (weight [out, in], max |x| [in], input rows [rows, in]) -> how to hold that linear quantized, as named tensors
Choose = Callable[["torch.Tensor", "torch.Tensor", "torch.Tensor"], "Mapping[str, torch.Tensor]"]
SEPARATOR = "::"  # between a linear's name and a tensor's in the cache file


def linear_calibration(
    base: LoadedBase, settings: Settings, choose: Choose, method: str
) -> dict[str, dict[str, torch.Tensor]]:
    """What `choose` made of each linear's calibration activations, by linear name (linears it returned nothing
    for are absent), from the cache or measured on the calibration chat; its name (`method`) keys the cache."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save_file

    text_sha = hashlib.sha256(calibration_text()).hexdigest()
    weights = weights_sha256(base.path, settings.home / "cache")
    key = hashlib.sha256(f"{weights}\0{text_sha}\0{method}".encode()).hexdigest()[:24]
    path = settings.models_dir / "calibration" / f"{key}.safetensors"
    chosen: dict[str, dict[str, torch.Tensor]] = {}
    try:
        for key, tensor in load_file(path).items():
            linear, _, name = key.rpartition(SEPARATOR)
            chosen.setdefault(linear, {})[name] = tensor
        return chosen
    except (OSError, ValueError, SafetensorError):  # missing or corrupt: measure again
        chosen.clear()
    seen = observe(base.model, calibration_ids(base.tokenizer))
    modules = dict(base.model.named_modules())
    for linear, maxima in seen.maxima.items():
        weight = modules[linear].get_parameter("weight").detach().float().cpu()
        made = choose(weight, maxima.cpu(), seen.samples[linear])
        tensors = {name: tensor.contiguous() for name, tensor in made.items()}
        if tensors:
            chosen[linear] = tensors
    flat: dict[str, torch.Tensor] = {f"{linear}{SEPARATOR}{name}": tensor
                                     for linear, tensors in chosen.items() for name, tensor in tensors.items()}
    write_atomic(path, lambda target: save_file(flat, target))
    return chosen
