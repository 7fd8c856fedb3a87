"""Generic backend over any transformers causal LM: left padding, a 2-D attention mask and the
model's own `DynamicCache`. Slower than the native backend, but works for every architecture.

Experts work here too wherever the model names its decoder linears like Llama does
(`layers.N.self_attn.q_proj`, `layers.N.mlp.down_proj`, ...: Gemma, Phi-3-small, Mistral, Qwen, ...): each
such `nn.Linear` gets a `forward` that applies the current batch's per-row adapters (`engine/lora.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer

from moe_system.engine.backends.base import Backend
from moe_system.engine.lora import SITE_NAMES, AdapterBatch, RowAdapters, Site, SiteBatch
from moe_system.errors import ExpertError

_SITE = re.compile(r"^(?:.*\.)?layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)$")


@dataclass
class HFState:
    """cache: the model's cache; mask: [B, S] 1 for real tokens; next_position: [B]."""

    cache: DynamicCache
    mask: torch.Tensor
    next_position: torch.Tensor
    adapters: AdapterBatch | None = None


class TorchLinear:
    """An `nn.Linear` seen as an adapter site: `BaseLinear` for adapter loading, plus the hook point."""

    def __init__(self, module: torch.nn.Linear) -> None:
        self.module = module
        self.in_features, self.out_features = module.in_features, module.out_features
        self.bias: torch.Tensor | None = module.bias.detach() if module.bias is not None else None
        self.row_norms_sq = module.weight.detach().float().square().sum(dim=1)  # [out]
        self.site: SiteBatch | None = None  # the running batch's adapters for this linear, if any
        module.forward = self._forward  # type: ignore[method-assign,assignment]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.module.weight, self.module.bias)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self(x) if self.site is None else self.site(self, x)


class HFBackend(Backend):
    """Drives `model(...)` step by step with `past_key_values`."""

    def __init__(self, model: PreTrainedModel, context_length: int | None = None) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.linears: dict[Site, TorchLinear] = {}
        for name, module in model.named_modules():
            match = _SITE.match(name)
            if match and match.group(2) in SITE_NAMES and type(module) is torch.nn.Linear:
                self.linears[(int(match.group(1)), match.group(2))] = TorchLinear(module)
        text_config = model.config.get_text_config()
        self.vocab_size = int(text_config.vocab_size)
        self.context_length: int = context_length or int(getattr(text_config, "max_position_embeddings", 2048))

    @torch.inference_mode()
    def prefill(
        self, prompts: Sequence[Sequence[int]], adapters: Sequence[RowAdapters] | None = None
    ) -> tuple[torch.Tensor, HFState]:
        batch = AdapterBatch.build(adapters) if adapters else None
        if batch is not None and not self.linears:
            raise ExpertError(
                f"this base model ({self.model.config.model_type}) has no Llama-style q/k/v/o/gate/up/down "
                "linears, so experts cannot be applied to it"
            )
        longest = max(len(p) for p in prompts)
        tokens = torch.zeros(len(prompts), longest, dtype=torch.long, device=self.device)
        mask = torch.zeros_like(tokens)
        for row, prompt in enumerate(prompts):
            tokens[row, longest - len(prompt) :] = torch.tensor(list(prompt), dtype=torch.long)
            mask[row, longest - len(prompt) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [B, T]
        cache = DynamicCache(config=self.model.config)
        out = self._with_adapters(batch, lambda: self.model(
            input_ids=tokens, attention_mask=mask, position_ids=positions,
            past_key_values=cache, use_cache=True, logits_to_keep=1,
        ))
        state = HFState(cache=out.past_key_values, mask=mask, next_position=positions[:, -1] + 1, adapters=batch)
        return out.logits[:, -1].float(), state

    @torch.inference_mode()
    def decode(self, state: HFState, tokens: torch.Tensor) -> torch.Tensor:
        state.mask = torch.cat([state.mask, torch.ones_like(state.mask[:, :1])], dim=1)
        out = self._with_adapters(state.adapters, lambda: self.model(
            input_ids=tokens.to(self.device).view(-1, 1), attention_mask=state.mask,
            position_ids=state.next_position[:, None], past_key_values=state.cache, use_cache=True,
        ))
        state.next_position = state.next_position + 1
        return out.logits[:, -1].float()

    def select(self, state: HFState, index: torch.Tensor) -> HFState:
        index = index.to(self.device)
        state.cache.reorder_cache(cast(torch.LongTensor, index))
        adapters = state.adapters.select(index) if state.adapters is not None else None
        return HFState(
            state.cache, state.mask.index_select(0, index), state.next_position.index_select(0, index), adapters
        )

    def join(self, first: HFState, second: HFState) -> HFState:
        """Left-pads the shorter state's cache and mask (rows are left-aligned: new tokens go at the end)."""
        span = max(first.mask.shape[1], second.mask.shape[1])

        def left(tensor: torch.Tensor | None, dim: int) -> torch.Tensor:
            assert tensor is not None, "every cache layer holds keys and values after prefill"
            pad = span - tensor.shape[dim]
            return tensor if pad == 0 else torch.cat(
                [tensor.new_zeros((*tensor.shape[:dim], pad, *tensor.shape[dim + 1:])), tensor], dim=dim)

        cache = DynamicCache(config=self.model.config)
        layers = zip(cast(list[DynamicLayer], first.cache.layers), cast(list[DynamicLayer], second.cache.layers),
                     strict=True)
        for index, (one, two) in enumerate(layers):
            cache.update(torch.cat([left(one.keys, 2), left(two.keys, 2)]),  # [B1 + B2, KV, span, hd]
                         torch.cat([left(one.values, 2), left(two.values, 2)]), index)
        return HFState(
            cache, torch.cat([left(first.mask, 1), left(second.mask, 1)]),
            torch.cat([first.next_position, second.next_position]),
            AdapterBatch.join(first.adapters, len(first.mask), second.adapters, len(second.mask)),
        )

    def _with_adapters(self, batch: AdapterBatch | None, call: Callable[[], Any]) -> Any:
        """Run `call` with each linear applying `batch`'s rows' adapters, then restore the plain base."""
        if batch is None:
            return call()
        for site, linear in self.linears.items():
            linear.site = batch.sites.get(site)
        try:
            return call()
        finally:
            for linear in self.linears.values():
                linear.site = None
