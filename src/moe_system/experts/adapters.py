"""PEFT adapter folders read into the form the engine applies them (`engine/lora.py`): a `SiteDelta` per linear.

A PEFT adapter folder (`adapter_config.json` + `adapter_model.safetensors`) is read once into plain tensors,
as transposed views with their scale kept aside, so that loading one is little more than reading the file,
applying it costs two small matmuls per linear, and switching to it costs nothing at all. Every supported
method reduces to the same pieces per linear y = W x + bias:

    y' = W (x * in_scale) * out_scale + out_shift + scale * (x @ a) @ b

- LoRA:  a = A^T [in, r], b = B^T [r, out], scale = alpha / r  (alpha / sqrt(r) with rsLoRA).
- DoRA:  g = m / ||W + s B A||_row (PEFT's formula, the norm treated as a constant), so
         y' = g * (W x) + bias + g * s * B A x: out_scale = g, out_shift = (1 - g) * bias, b = (g * B)^T.
- IA3:   out_scale = l on attention projections, in_scale = l on feed-forward projections (PEFT's
         `feedforward_modules`, applied to the input).

Weights load with `safetensors` only (no pickle). Norms for DoRA come from the base linears themselves
(`BaseLinear.row_norms_sq` and a linear pass over A), so the packed base weights never need reading back.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from moe_system.engine.lora import SITE_NAMES, AdapterWeights, BaseLinear, Site, SiteDelta
from moe_system.errors import ExpertError, one_line

_KEY = re.compile(
    r"^base_model\.model\.(?:model\.)?layers\.(\d+)\.(?:self_attn|mlp)\.(\w+?)\."
    r"(lora_A\.weight|lora_B\.weight|lora_magnitude_vector|ia3_l)$"
)
_SUPPORTED_TYPES = {"LORA", "IA3"}


def load_adapter(
    folder: Path, base: Mapping[Site, BaseLinear], name: str | None = None, dtype: torch.dtype = torch.float32
) -> AdapterWeights:
    """Read a PEFT adapter folder into `AdapterWeights` for the base whose linears are `base`."""
    config_path, weights_path = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ExpertError(f"cannot read {config_path}: {one_line(err)}") from err
    try:
        tensors = load_file(weights_path)
    except (OSError, SafetensorError) as err:
        raise ExpertError(f"cannot read {weights_path}: {one_line(err)}") from err
    return from_peft(tensors, config, base, name or folder.name, dtype)


def from_peft(
    tensors: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    base: Mapping[Site, BaseLinear],
    name: str,
    dtype: torch.dtype = torch.float32,
) -> AdapterWeights:
    """Convert a PEFT state dict (as saved by `save_pretrained`) and its config into `AdapterWeights`
    whose tensors have `dtype`, the base model's compute dtype. Takes ownership of `tensors`: LoRA B
    tensors end up in it, transposed, not copied."""
    peft_type = str(config.get("peft_type", "")).upper()
    if peft_type not in _SUPPORTED_TYPES:
        raise ExpertError(f"adapter '{name}': PEFT type {peft_type or 'missing'!r} is not supported (LORA, IA3)")
    for key, bad in (("modules_to_save", None), ("lora_bias", False), ("fan_in_fan_out", False)):
        if config.get(key, bad) not in (bad, [], {}):
            raise ExpertError(f"adapter '{name}': adapter_config '{key}' = {config[key]!r} is not supported")
    grouped = _group(tensors, name)
    # Linears that add the LoRA term themselves widen bfloat16 exactly (`engine.lora.FusingLinear`): a plain LoRA
    # stays in the bfloat16 its package stores, half the bytes to hold and to read a decode step.
    narrow = dtype == torch.float32 and all(getattr(linear, "fuses_low_rank", False) for linear in base.values())
    sites: dict[Site, SiteDelta] = {}
    for site, parts in sorted(grouped.items()):
        linear = base.get(site)
        if linear is None:
            raise ExpertError(
                f"adapter '{name}' targets layer {site[0]} {site[1]}, which the base model does not have "
                "(was it built for another base model?)"
            )
        if peft_type == "LORA":
            delta = _lora_site(parts, config, site, linear, name, dtype, narrow)
        else:
            delta = _ia3_site(parts, config, site, linear, name)
        sites[site] = _cast(delta, dtype)
    if not sites:
        raise ExpertError(f"adapter '{name}' has no weights for any q/k/v/o/gate/up/down projection")
    kind = "ia3" if peft_type == "IA3" else ("dora" if config.get("use_dora") else "lora")
    return AdapterWeights(name=name, kind=kind, sites=sites)


# ---- per-method conversion


def _group(tensors: Mapping[str, torch.Tensor], name: str) -> dict[Site, dict[str, torch.Tensor]]:
    grouped: dict[Site, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        match = _KEY.match(key)
        if match is None or match.group(2) not in SITE_NAMES:
            raise ExpertError(
                f"adapter '{name}': tensor '{key}' adapts a module the engine cannot (only the "
                f"{'/'.join(SITE_NAMES)} linears of decoder layers)"
            )
        if not tensor.is_floating_point():
            raise ExpertError(f"adapter '{name}': tensor '{key}' is not floating point")
        grouped.setdefault((int(match.group(1)), match.group(2)), {})[match.group(3)] = tensor
    return grouped


def _module_name(site: Site) -> str:
    block = "mlp" if site[1] in {"gate_proj", "up_proj", "down_proj"} else "self_attn"
    return f"model.layers.{site[0]}.{block}.{site[1]}"


def _pattern_value(patterns: Mapping[str, Any], site: Site, default: Any) -> Any:
    """PEFT's `rank_pattern` / `alpha_pattern`: a regex key matched against the end of the module name."""
    module = _module_name(site)
    for pattern, value in patterns.items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


def _lora_site(
    parts: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    site: Site,
    linear: BaseLinear,
    name: str,
    dtype: torch.dtype,
    narrow: bool,
) -> SiteDelta:
    lora_a, lora_b = parts.get("lora_A.weight"), parts.get("lora_B.weight")
    if lora_a is None or lora_b is None:
        raise ExpertError(f"adapter '{name}': layer {site[0]} {site[1]} lacks lora_A or lora_B")
    rank = lora_a.shape[0]
    if lora_a.shape != (rank, linear.in_features) or lora_b.shape != (linear.out_features, rank):
        raise ExpertError(
            f"adapter '{name}': layer {site[0]} {site[1]} has lora_A {tuple(lora_a.shape)} and lora_B "
            f"{tuple(lora_b.shape)}, but the base linear is {linear.in_features} -> {linear.out_features} "
            "(was it built for another base model?)"
        )
    alpha = float(_pattern_value(config.get("alpha_pattern") or {}, site, config.get("lora_alpha", 8)))
    scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
    # Transposed views with the scale kept aside, never new tensors: matmul takes a transposed view as it
    # is (a BLAS flag), the scale rides on addmm's `alpha`, and touching 2 x 210 small tensors per adapter
    # made cold loads 5-10x slower (20 MB: ~7 ms as views, 36-85 ms when copied or scaled).
    magnitude = parts.get("lora_magnitude_vector")
    if magnitude is None and config.get("use_dora"):
        raise ExpertError(f"adapter '{name}': DoRA layer {site[0]} {site[1]} lacks its magnitude vector")
    if magnitude is None and narrow and lora_a.dtype == lora_b.dtype == torch.bfloat16:
        return SiteDelta(a=lora_a.t(), b=lora_b.t(), scale=scale, narrow=True)
    a = lora_a.float().t()  # [in, r]
    b = lora_b.float().t()  # [r, out]
    if magnitude is None:
        return SiteDelta(a=a, b=b, scale=scale)
    g = magnitude.float().reshape(-1) / _dora_norm(linear, a, b, scale, dtype)  # [out]
    shift = (1.0 - g) * linear.bias.float() if linear.bias is not None else None
    return SiteDelta(a=a, b=b * g, scale=scale, out_scale=g, out_shift=shift)


def _dora_norm(
    linear: BaseLinear, a: torch.Tensor, b: torch.Tensor, scale: float, dtype: torch.dtype
) -> torch.Tensor:
    """||W_i + dW_i|| per output row i, with dW = s (a @ b)^T = s B A, expanded as
    ||W_i||^2 + 2 <W_i, dW_i> + ||dW_i||^2 so that only a linear pass over A is needed."""
    with torch.inference_mode():
        w_a = linear(a.t().to(dtype).contiguous()).float()  # [r, out] = A W^T (+ bias)
    if linear.bias is not None:
        w_a = w_a - linear.bias.float()
    cross = (w_a * b).sum(dim=0) * scale  # [out] = sum_k (W A^T)_ik s B_ik
    delta_sq = (a @ b).square().sum(dim=0) * scale**2  # [out]
    return (linear.row_norms_sq + 2 * cross + delta_sq).clamp_min(0).sqrt()


def _ia3_site(
    parts: Mapping[str, torch.Tensor], config: Mapping[str, Any], site: Site, linear: BaseLinear, name: str
) -> SiteDelta:
    vector = parts.get("ia3_l")
    if vector is None:
        raise ExpertError(f"adapter '{name}': layer {site[0]} {site[1]} has no ia3_l vector")
    feedforward = config.get("feedforward_modules") or []
    if isinstance(feedforward, str):
        is_ff = re.fullmatch(feedforward, _module_name(site)) is not None
    else:
        is_ff = any(_module_name(site).endswith(module) for module in feedforward)
    expected = linear.in_features if is_ff else linear.out_features
    if vector.numel() != expected:
        raise ExpertError(
            f"adapter '{name}': ia3_l of layer {site[0]} {site[1]} has {vector.numel()} values, the base "
            f"needs {expected} (was it built for another base model?)"
        )
    vector = vector.float().reshape(-1)
    return SiteDelta(in_scale=vector) if is_ff else SiteDelta(out_scale=vector)


def _cast(delta: SiteDelta, dtype: torch.dtype) -> SiteDelta:
    """`delta` in `dtype`, the base's compute dtype; a narrow one as it is."""
    if delta.narrow:
        return delta

    def cast(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t.to(dtype)

    return SiteDelta(
        a=cast(delta.a), b=cast(delta.b), scale=delta.scale, in_scale=cast(delta.in_scale),
        out_scale=cast(delta.out_scale), out_shift=cast(delta.out_shift),
    )
