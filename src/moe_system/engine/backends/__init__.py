"""Model backends: `native` (lean Llama-family loop on packed weights) and `hf` (any transformers model)."""

from __future__ import annotations

from typing import Literal

from transformers import PreTrainedModel

from moe_system.engine.backends.base import Backend
from moe_system.engine.backends.hf import HFBackend
from moe_system.engine.backends.native import NativeBackend, supports_native
from moe_system.errors import ConfigError

__all__ = ["Backend", "HFBackend", "NativeBackend", "build_backend", "supports_native"]


def build_backend(
    model: PreTrainedModel, kind: Literal["auto", "native", "hf"] = "auto", context_length: int | None = None
) -> Backend:
    """`auto` takes the native backend whenever the architecture allows it."""
    if kind == "native" and not supports_native(model):
        raise ConfigError(
            f"base.backend is 'native' but model type '{model.config.model_type}' is not supported by it; "
            "use 'auto' or 'hf'"
        )
    if kind == "native" or (kind == "auto" and supports_native(model)):
        return NativeBackend(model, context_length)
    return HFBackend(model, context_length)
