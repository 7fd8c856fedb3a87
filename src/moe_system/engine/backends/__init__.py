"""Model backends: `native` (lean Llama-family loop on packed weights) and `hf` (any transformers model)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import torch
from transformers import PreTrainedModel

from moe_system.base.quantization import Choose
from moe_system.engine import block_quant
from moe_system.engine.backends.base import Backend
from moe_system.engine.backends.hf import HFBackend
from moe_system.engine.backends.native import NativeBackend, linear_weights, supports_native
from moe_system.engine.kernels import Quantization, calibration_for, runnable_quantization
from moe_system.errors import ConfigError

__all__ = ["Backend", "HFBackend", "NativeBackend", "build_backend", "supports_native"]


def build_backend(
    model: PreTrainedModel, kind: Literal["auto", "native", "hf"] = "auto", context_length: int | None = None,
    quantization: Quantization = "none", warn: Callable[[str], None] | None = None,
    calibration: Callable[[Choose, str], Mapping[str, Mapping[str, torch.Tensor]]] | None = None,
) -> Backend:
    """`auto` takes the native backend whenever the architecture allows it. `quantization` applies to the native
    backend; what cannot run as asked runs as `kernels.runnable_quantization` says, and `warn` gets one line saying
    why. `calibration(choose, method)` gives what `choose` makes of each linear's calibration activations (see
    `kernels.calibration_for`, `base.quantization.linear_calibration`); it is called only when the kernels that run
    use it, since calibrating takes a float pass over the calibration chat the first time."""
    if kind == "native" and not supports_native(model):
        raise ConfigError(
            f"base.backend is 'native' but model type '{model.config.model_type}' is not supported by it; "
            "use 'auto' or 'hf'"
        )
    native = kind == "native" or (kind == "auto" and supports_native(model))
    packable = native and all(block_quant.packable(weight) for weight in linear_weights(model))
    if native:
        runs, why = runnable_quantization(quantization, model.device, packable)
    else:
        runs, why = "none", None if quantization == "none" else \
            f"quantization {quantization}: the hf backend runs float weights only; running them"
    if why and warn:
        warn(why)
    if not native:
        return HFBackend(model, context_length)
    chooser = calibration_for(runs, packable) if native else None
    calibrated = calibration(*chooser) if calibration and chooser else None
    return NativeBackend(model, context_length, runs, calibrated)
