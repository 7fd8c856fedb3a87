"""The interface every model backend implements: batched prefill, one-token decode, row selection.

A backend owns the KV cache. Rows are independent requests; each keeps its own length, so prompts
of different lengths share a batch with correct per-row positions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from moe_system.engine.kernels import Quantization
from moe_system.engine.lora import BaseLinear, RowAdapters, Site


class Backend(ABC):
    """A causal LM driven on token ids."""

    vocab_size: int
    context_length: int
    device: torch.device
    dtype: torch.dtype
    linears: Mapping[Site, BaseLinear]  # the linears adapters can target; empty when the backend takes none
    quantization: Quantization = "none"  # how the base weights are stored and multiplied

    @abstractmethod
    def prefill(
        self, prompts: Sequence[Sequence[int]], adapters: Sequence[RowAdapters] | None = None
    ) -> tuple[torch.Tensor, Any]:
        """Run whole prompts, row i with `adapters[i]` (all base when None); return logits of each prompt's
        last position [B, V] and the cache state, which keeps the rows' adapters for `decode`."""

    @abstractmethod
    def decode(self, state: Any, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row (tokens: [B] long); return next-token logits [B, V]."""

    @abstractmethod
    def select(self, state: Any, index: torch.Tensor) -> Any:
        """Keep / reorder / repeat rows of the cache (index: [B'] long into the current rows)."""

    @abstractmethod
    def join(self, first: Any, second: Any) -> Any:
        """One state with the rows of `first`, then those of `second` (each keeping its adapters): requests
        prefilled on their own join a batch that is already decoding (continuous batching)."""
