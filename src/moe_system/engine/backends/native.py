"""A lean forward pass for Llama-family decoders (Llama, Mistral without sliding window, Qwen2, Qwen3).

It reads the weights of a loaded transformers model once, packs the linears (see `kernels.py`) and
runs prefill/decode against a preallocated KV cache with one length per row. That per-row length is
what lets prompts of different lengths, and later requests that join mid-way, share a batch: a row's
token at step t sits at position `length + t`, attention is causal by absolute position, and cache
slots past a row's length (padding) are never visible to it and get overwritten by its next tokens.

Rotary embeddings come from the model's own `rotary_emb` module, so every RoPE scaling variant that
transformers implements is honoured exactly.

Where every linear is block-quantized, decode steps run one C call a layer (`native_layer.LayerKernel`); the torch
loop here (`_layers`) computes the same function for everything else: prefill, scoring, float or fbgemm weights,
and rows with DoRA or IA3 experts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from moe_system.engine.backends.base import Backend
from moe_system.engine.backends.native_layer import LINEAR_NAMES, DecoderLayer, LayerBinding, LayerKernel, Linear
from moe_system.engine.block_quant import BlockEmbedding
from moe_system.engine.kernels import Quantization, frozen_linear
from moe_system.engine.lora import AdapterBatch, RowAdapters, Site

NATIVE_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3"})


def supports_native(model: PreTrainedModel) -> bool:
    """True when the model is a Llama-family decoder this backend computes exactly."""
    config = model.config
    if config.model_type not in NATIVE_MODEL_TYPES or getattr(config, "hidden_act", "silu") != "silu":
        return False
    window = getattr(config, "sliding_window", None)
    uses_window = getattr(config, "use_sliding_window", window is not None)
    if window is not None and uses_window and window < config.max_position_embeddings:
        return False
    return not getattr(config, "layer_types", None) or set(config.layer_types) == {"full_attention"}


@dataclass
class KVCache:
    """keys/values: per layer [B, n_kv_heads, capacity, head_dim]; lengths: [B] tokens stored per row;
    adapters: each row's experts (None when every row runs the plain base); binding: the layer kernel's specs for
    this cache and its adapters (`LayerKernel.bind`), made at its first decode step."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    lengths: torch.Tensor
    adapters: AdapterBatch | None = None
    binding: LayerBinding | None = None

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]


def linear_weights(model: PreTrainedModel) -> list[torch.Tensor]:
    """The weights of every linear the native backend runs quantized: each layer's projections and the LM head."""
    return [module.get_parameter("weight") for name, module in model.named_modules()
            if name.rsplit(".", 1)[-1] in LINEAR_NAMES] + [model.lm_head.weight]


class NativeBackend(Backend):
    """Llama-family forward on packed weights with a per-row-length KV cache. `quantization` "int8" / "int4" (as
    `kernels.runnable_quantization` resolved it) stores every linear, the LM head included, quantized
    (`kernels.frozen_linear`): on the block kernel, or on fbgemm held as `calibration` says (module name ->
    {"smooth", "outliers"} tensors, `base.quantization.linear_calibration`) where given; the embedding table is then
    held as int8 blocks (`BlockEmbedding`) and the norms stay float."""

    def __init__(
        self, model: PreTrainedModel, context_length: int | None = None, quantization: Quantization = "none",
        calibration: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    ) -> None:
        if not supports_native(model):
            raise ValueError(f"model type {model.config.model_type!r} is not supported by the native backend")
        config = model.config
        inner = model.model
        self.device = inner.embed_tokens.weight.device
        self.dtype = inner.embed_tokens.weight.dtype
        self.vocab_size = int(config.vocab_size)
        self.context_length = int(context_length or config.max_position_embeddings)
        self.n_heads = int(config.num_attention_heads)
        self.n_kv_heads = int(config.num_key_value_heads)
        self.head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // self.n_heads)
        self.eps = float(config.rms_norm_eps)
        self.quantization = quantization
        # copies, not views: transformers maps the safetensors file into memory, and a view of one tensor would keep
        # the whole file's pages (513 MB for SmolLM2) resident after the model is dropped
        embed = inner.embed_tokens.weight.detach()  # [V, d_model]
        # quantized runs keep the table as int8 blocks (`BlockEmbedding`: 30 of SmolLM2's 113 MB, exact for it);
        # a copy either way, see above
        self.embed: torch.Tensor | BlockEmbedding = BlockEmbedding(embed) if quantization != "none" and \
            BlockEmbedding.fits(embed) else embed.clone()
        self.final_norm = inner.norm.weight.detach().clone()
        self.rotary = inner.rotary_emb
        chosen = calibration or {}
        self.lm_head = frozen_linear(model.lm_head.weight, None, quantization, chosen.get("lm_head"))
        self.layers = [self._read_layer(layer, quantization, chosen, f"model.layers.{index}.")
                       for index, layer in enumerate(inner.layers)]
        self.linears: dict[Site, Linear] = {
            (index, name): getattr(layer, name.removesuffix("_proj"))
            for index, layer in enumerate(self.layers)
            for name in LINEAR_NAMES
        }
        # decode steps in one C call a layer where every linear is on the block kernel (`native_layer.py`)
        self.layer_kernel = LayerKernel.build(self.layers, self.n_heads, self.n_kv_heads, self.head_dim, self.eps,
                                              self.dtype)

    @staticmethod
    def _read_layer(
        layer: torch.nn.Module, quantization: Quantization, calibration: Mapping[str, Mapping[str, torch.Tensor]],
        prefix: str,
    ) -> DecoderLayer:
        """Llama-style decoder layer -> its frozen weights (attribute names as transformers' Llama family);
        `prefix` is the layer's module name, under which `calibration` names its linears."""
        attn, mlp = layer.get_submodule("self_attn"), layer.get_submodule("mlp")

        def lin(module: torch.nn.Module, name: str) -> Linear:
            linear = module.get_submodule(name)
            where = f"{prefix}{'self_attn' if module is attn else 'mlp'}.{name}"
            return frozen_linear(linear.get_parameter("weight"), getattr(linear, "bias", None), quantization,
                                 calibration.get(where))

        def weight(module: torch.nn.Module, name: str) -> torch.Tensor:
            return module.get_submodule(name).get_parameter("weight").detach().clone()

        def norm(name: str) -> torch.Tensor | None:
            return weight(attn, name) if hasattr(attn, name) else None

        return DecoderLayer(
            input_norm=weight(layer, "input_layernorm"), post_norm=weight(layer, "post_attention_layernorm"),
            q=lin(attn, "q_proj"), k=lin(attn, "k_proj"), v=lin(attn, "v_proj"), o=lin(attn, "o_proj"),
            gate=lin(mlp, "gate_proj"), up=lin(mlp, "up_proj"), down=lin(mlp, "down_proj"),
            q_norm=norm("q_norm"), k_norm=norm("k_norm"),
        )

    # ---- cache management

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        shape = (batch, self.n_kv_heads, capacity, self.head_dim)
        make = lambda: torch.zeros(shape, dtype=self.dtype, device=self.device)  # noqa: E731
        return KVCache(
            keys=[make() for _ in self.layers],
            values=[make() for _ in self.layers],
            lengths=torch.zeros(batch, dtype=torch.long, device=self.device),
        )

    def _reserve(self, cache: KVCache, needed: int) -> None:
        """Grow the cache (doubling, capped at the context) so `needed` positions fit."""
        if needed <= cache.capacity:
            return
        capacity = min(max(needed, 2 * cache.capacity), max(self.context_length, needed))
        pad = capacity - cache.capacity
        cache.keys = [F.pad(k, (0, 0, 0, pad)) for k in cache.keys]
        cache.values = [F.pad(v, (0, 0, 0, pad)) for v in cache.values]

    def select(self, state: KVCache, index: torch.Tensor) -> KVCache:
        index = index.to(self.device)
        return KVCache(
            keys=[k.index_select(0, index) for k in state.keys],
            values=[v.index_select(0, index) for v in state.values],
            lengths=state.lengths.index_select(0, index),
            adapters=state.adapters.select(index) if state.adapters is not None else None,
        )

    def join(self, first: KVCache, second: KVCache) -> KVCache:
        capacity = max(first.capacity, second.capacity)

        def both(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # [B1 + B2, KV, capacity, hd]
            return torch.cat([F.pad(a, (0, 0, 0, capacity - a.shape[2])), F.pad(b, (0, 0, 0, capacity - b.shape[2]))])

        return KVCache(
            keys=[both(a, b) for a, b in zip(first.keys, second.keys, strict=True)],
            values=[both(a, b) for a, b in zip(first.values, second.values, strict=True)],
            lengths=torch.cat([first.lengths, second.lengths]),
            adapters=AdapterBatch.join(first.adapters, len(first.lengths), second.adapters, len(second.lengths)),
        )

    # ---- forward

    @torch.inference_mode()
    def prefill(
        self, prompts: Sequence[Sequence[int]], adapters: Sequence[RowAdapters] | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        counts = torch.tensor([len(p) for p in prompts], device=self.device)
        longest = int(counts.max())
        tokens = torch.zeros(len(prompts), longest, dtype=torch.long, device=self.device)
        for row, prompt in enumerate(prompts):
            tokens[row, : len(prompt)] = torch.tensor(list(prompt), dtype=torch.long)
        cache = self.new_cache(len(prompts), longest + 64)
        cache.adapters = AdapterBatch.build(adapters) if adapters else None
        logits = self.forward(cache, tokens, counts)
        return logits, cache

    @torch.inference_mode()
    def decode(self, state: KVCache, tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens.to(self.device).view(-1, 1)
        return self.forward(state, tokens, torch.ones_like(state.lengths))

    @torch.inference_mode()
    def score(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits [T, V] after every token of `ids` (one row, no adapters): what perplexity is computed from."""
        cache = self.new_cache(1, len(ids))
        tokens = torch.tensor([list(ids)], dtype=torch.long, device=self.device)
        return self.forward(cache, tokens, torch.tensor([len(ids)], device=self.device), every=True)[0]

    def forward(self, cache: KVCache, tokens: torch.Tensor, counts: torch.Tensor, every: bool = False) -> torch.Tensor:
        """Append `tokens` [B, T] (row b has `counts[b]` real tokens, right-padded) to the cache and
        return the logits [B, V] at each row's last real token ([B, T, V] at every token with `every`)."""
        batch, steps = tokens.shape
        self._reserve(cache, int(cache.lengths.max()) + steps)
        positions = cache.lengths[:, None] + torch.arange(steps, device=self.device)  # [B, T]
        x = self.embed(tokens).to(self.dtype) if isinstance(self.embed, BlockEmbedding) else \
            F.embedding(tokens, self.embed)  # [B, T, d_model]
        cos, sin = self.rotary(x, positions)  # [B, T, head_dim] each
        kernel = self.layer_kernel
        if kernel is not None and steps == 1 and kernel.runs(cache.adapters) and bool((counts == 1).all()):
            if cache.binding is None or cache.binding.adapters is not cache.adapters:
                cache.binding = kernel.bind(cache.adapters)
            x = x.contiguous()
            kernel.step(x.view(batch, -1), cache.lengths, cos[:, 0], sin[:, 0], cache.keys, cache.values,
                        cache.binding)
        else:
            x = self._layers(cache, x, positions, cos[:, None].to(x.dtype), sin[:, None].to(x.dtype))
        cache.lengths += counts
        out = x if every else x[torch.arange(batch, device=self.device), counts - 1]  # [B, T, d] or [B, d_model]
        return self.lm_head(F.rms_norm(out, (out.shape[-1],), self.final_norm, self.eps)).float()  # [B, (T,) V]

    def _layers(self, cache: KVCache, x: torch.Tensor, positions: torch.Tensor, cos: torch.Tensor,
                sin: torch.Tensor) -> torch.Tensor:
        """x [B, T, d_model] at `positions` [B, T] through every layer in torch ops, the rows' adapters applied and
        keys and values written to the cache; cos / sin: [B, 1, T, head_dim]."""
        batch, steps = positions.shape
        span = int(positions.max()) + 1  # keys 0..span-1 are the only ones anyone can see
        rows = torch.arange(batch, device=self.device)[:, None].expand(batch, steps)
        equal = bool((cache.lengths == cache.lengths[0]).all())
        if steps == 1 and equal:
            mask = None  # every row sees all of its span
        else:
            keys_at = torch.arange(span, device=self.device)
            mask = (keys_at[None, None, :] <= positions[:, :, None])[:, None]  # [B, 1, T, span]
        adapters = cache.adapters

        def project(index: int, names: tuple[str, ...], modules: tuple[Linear, ...],
                    h: torch.Tensor) -> list[torch.Tensor]:
            """The projections `names` of layer `index`, which all read `h`, with the rows' adapters if any."""
            return [m(h) for m in modules] if adapters is None else adapters.project(index, names, modules, h)

        for index, layer in enumerate(self.layers):
            h = F.rms_norm(x, (x.shape[-1],), layer.input_norm, self.eps)
            q, k, v = project(index, ("q_proj", "k_proj", "v_proj"), (layer.q, layer.k, layer.v), h)
            q = q.view(batch, steps, self.n_heads, self.head_dim)
            k = k.view(batch, steps, self.n_kv_heads, self.head_dim)
            v = v.view(batch, steps, self.n_kv_heads, self.head_dim)
            if layer.q_norm is not None:
                q = F.rms_norm(q, (self.head_dim,), layer.q_norm, self.eps)
            if layer.k_norm is not None:
                k = F.rms_norm(k, (self.head_dim,), layer.k_norm, self.eps)
            q = _rope(q.transpose(1, 2), cos, sin)  # [B, H, T, hd]
            k = _rope(k.transpose(1, 2), cos, sin)  # [B, KV, T, hd]
            cache.keys[index][rows, :, positions] = k.transpose(1, 2)  # writes [B, T, KV, hd]
            cache.values[index][rows, :, positions] = v
            attn = F.scaled_dot_product_attention(
                q, cache.keys[index][:, :, :span], cache.values[index][:, :, :span],
                attn_mask=mask, enable_gqa=self.n_heads != self.n_kv_heads,
            )  # [B, H, T, hd]
            attn = attn.transpose(1, 2).reshape(batch, steps, self.n_heads * self.head_dim)
            [o] = project(index, ("o_proj",), (layer.o,), attn)
            x = x + o
            h = F.rms_norm(x, (x.shape[-1],), layer.post_norm, self.eps)
            gate, up = project(index, ("gate_proj", "up_proj"), (layer.gate, layer.up), h)
            [down] = project(index, ("down_proj",), (layer.down,), F.silu(gate) * up)
            x = x + down
        return x


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding, rotate-half form. x: [B, heads, T, hd]; cos/sin: [B, 1, T, hd]."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin
