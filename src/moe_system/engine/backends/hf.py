"""Generic backend over any transformers causal LM: left padding, a 2-D attention mask and the
model's own `DynamicCache`. Slower than the native backend, but works for every architecture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel

from moe_system.engine.backends.base import Backend
from moe_system.errors import ExpertError
from moe_system.experts.batched import RowAdapters


@dataclass
class HFState:
    """cache: the model's cache; mask: [B, S] 1 for real tokens; next_position: [B]."""

    cache: DynamicCache
    mask: torch.Tensor
    next_position: torch.Tensor


class HFBackend(Backend):
    """Drives `model(...)` step by step with `past_key_values`."""

    def __init__(self, model: PreTrainedModel, context_length: int | None = None) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.linears = {}
        self.vocab_size = int(model.config.get_text_config().vocab_size)
        self.context_length = int(
            context_length or getattr(model.config.get_text_config(), "max_position_embeddings", 2048)
        )

    @torch.inference_mode()
    def prefill(
        self, prompts: Sequence[Sequence[int]], adapters: Sequence[RowAdapters] | None = None
    ) -> tuple[torch.Tensor, HFState]:
        if adapters and any(adapters):
            raise ExpertError(
                "experts run on the native backend (Llama, Mistral, Qwen2, Qwen3 base models); "
                f"this base model ({self.model.config.model_type}) runs on the generic backend without them"
            )
        longest = max(len(p) for p in prompts)
        tokens = torch.zeros(len(prompts), longest, dtype=torch.long, device=self.device)
        mask = torch.zeros_like(tokens)
        for row, prompt in enumerate(prompts):
            tokens[row, longest - len(prompt) :] = torch.tensor(list(prompt), dtype=torch.long)
            mask[row, longest - len(prompt) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [B, T]
        cache = DynamicCache(config=self.model.config)
        out = self.model(
            input_ids=tokens, attention_mask=mask, position_ids=positions,
            past_key_values=cache, use_cache=True, logits_to_keep=1,
        )
        state = HFState(cache=out.past_key_values, mask=mask, next_position=positions[:, -1] + 1)
        return out.logits[:, -1].float(), state

    @torch.inference_mode()
    def decode(self, state: HFState, tokens: torch.Tensor) -> torch.Tensor:
        state.mask = torch.cat([state.mask, torch.ones_like(state.mask[:, :1])], dim=1)
        out = self.model(
            input_ids=tokens.to(self.device).view(-1, 1), attention_mask=state.mask,
            position_ids=state.next_position[:, None], past_key_values=state.cache, use_cache=True,
        )
        state.next_position = state.next_position + 1
        return out.logits[:, -1].float()

    def select(self, state: HFState, index: torch.Tensor) -> HFState:
        index = index.to(self.device)
        state.cache.reorder_cache(index)
        return HFState(state.cache, state.mask.index_select(0, index), state.next_position.index_select(0, index))
