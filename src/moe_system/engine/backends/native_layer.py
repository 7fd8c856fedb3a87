"""A decoder layer of the native backend: its frozen weights (`DecoderLayer`) and, where every linear is
block-quantized, its whole decode step in one C call (`LayerKernel`, `moe_decoder_layer` in `csrc/block_gemm.cpp`).

Why one call a layer: at batch 1 a SmolLM2 layer is ~25 torch operations (norms, rotary, cache writes, attention,
residuals) around 7 linears, and each operation costs 2-10 us of dispatch while the int8 weights of the whole layer
take ~0.2 ms to read. Profiled here (Intel Sapphire Rapids, 2 cores, int8): 17.3 ms a decode step, of which the
kernel calls were about 5. The C layer does the same arithmetic in float32 in one OpenMP region (a barrier between
phases instead of a fork per operation), so the step costs little more than its weights take to read.

It serves decode steps (one new token per row) whose rows use no adapter or LoRA terms the kernel adds itself
(`SiteBatch.fused`: plain float32 LoRA, one expert or one per row); DoRA, IA3, prefill and scoring run
`NativeBackend`'s torch path, which computes the same function.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from moe_system.engine import block_quant
from moe_system.engine.block_quant import BlockLinear, LinearSpec
from moe_system.engine.kernels import FrozenLinear, Int8Linear
from moe_system.engine.lora import SITE_NAMES, AdapterBatch

Linear = FrozenLinear | Int8Linear | BlockLinear
LINEAR_NAMES = SITE_NAMES  # a layer's linears, in the order the C layer's struct holds them


@dataclass
class DecoderLayer:
    """One Llama-family decoder layer's frozen weights; `q_norm` / `k_norm` [head_dim] are Qwen3's."""

    input_norm: torch.Tensor  # [d_model]
    post_norm: torch.Tensor  # [d_model]
    q: Linear
    k: Linear
    v: Linear
    o: Linear
    gate: Linear
    up: Linear
    down: Linear
    q_norm: torch.Tensor | None
    k_norm: torch.Tensor | None

    def linears(self) -> tuple[Linear, ...]:
        """In `LINEAR_NAMES` order."""
        return self.q, self.k, self.v, self.o, self.gate, self.up, self.down


class StepSpec(ctypes.Structure):
    """One decode step's shapes and positions (`MoeStep` in `csrc/block_gemm.cpp`)."""

    _fields_ = [("rows", ctypes.c_int64), ("d_model", ctypes.c_int64), ("heads", ctypes.c_int64),
                ("kv_heads", ctypes.c_int64), ("head_dim", ctypes.c_int64), ("eps", ctypes.c_float),
                ("threads", ctypes.c_int32), ("positions", ctypes.c_void_p), ("cos", ctypes.c_void_p),
                ("sin", ctypes.c_void_p)]


class LayerSpec(ctypes.Structure):
    """One layer's weights and KV cache (`MoeLayer` in `csrc/block_gemm.cpp`)."""

    _fields_ = [("input_norm", ctypes.c_void_p), ("post_norm", ctypes.c_void_p), ("q_norm", ctypes.c_void_p),
                ("k_norm", ctypes.c_void_p), *((name, LinearSpec) for name in LINEAR_NAMES),
                ("keys", ctypes.c_void_p), ("values", ctypes.c_void_p), ("capacity", ctypes.c_int64)]


@dataclass
class LayerBinding:
    """The layer specs one KV cache decodes with: its rows' `adapters` (held, so the LoRA pointers stay valid)."""

    adapters: AdapterBatch | None
    specs: list[LayerSpec]


class LayerKernel:
    """Decode steps of `layers` through `moe_decoder_layer`, one call a layer. Build it with `LayerKernel.build`."""

    def __init__(self, layers: Sequence[DecoderLayer], n_heads: int, n_kv_heads: int, head_dim: int,
                 eps: float) -> None:
        self._call = block_quant.library().moe_decoder_layer
        self._call.restype = ctypes.c_int
        self._call.argtypes = [ctypes.POINTER(LayerSpec), ctypes.POINTER(StepSpec), ctypes.c_void_p]
        self._layers = list(layers)
        self._shape = (n_heads, n_kv_heads, head_dim, eps)

    @classmethod
    def build(cls, layers: Sequence[DecoderLayer], n_heads: int, n_kv_heads: int, head_dim: int, eps: float,
              dtype: torch.dtype) -> LayerKernel | None:
        """A kernel for `layers` when it computes them: every linear on the block kernel, float32 activations, and
        a head size the kernel's vector loops take (a multiple of 16); None otherwise."""
        blocks = all(isinstance(linear, BlockLinear) for layer in layers for linear in layer.linears())
        if not (layers and blocks and dtype == torch.float32 and head_dim % 16 == 0):
            return None
        return cls(layers, n_heads, n_kv_heads, head_dim, eps)

    @staticmethod
    def runs(adapters: AdapterBatch | None) -> bool:
        """Whether these adapters' rows run here: none, or only LoRA terms the kernel adds itself."""
        return adapters is None or all(site.fused is not None for site in adapters.sites.values())

    def bind(self, adapters: AdapterBatch | None) -> LayerBinding:
        """The layers' specs with `adapters`' LoRA terms, for one KV cache: each cache holds its own (`step` writes
        the cache's pointers into them), so threads decoding other caches on this backend never share one."""
        specs = []
        for index, layer in enumerate(self._layers):
            linears = {}
            for name, linear in zip(LINEAR_NAMES, layer.linears(), strict=True):
                site = None if adapters is None else adapters.sites.get((index, name))
                linears[name] = linear.bind(None if site is None else site.fused)  # type: ignore[union-attr]
            specs.append(LayerSpec(
                input_norm=layer.input_norm.data_ptr(), post_norm=layer.post_norm.data_ptr(),
                q_norm=None if layer.q_norm is None else layer.q_norm.data_ptr(),
                k_norm=None if layer.k_norm is None else layer.k_norm.data_ptr(), **linears,
            ))
        return LayerBinding(adapters, specs)

    def step(self, x: torch.Tensor, positions: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
             keys: Sequence[torch.Tensor], values: Sequence[torch.Tensor], binding: LayerBinding) -> None:
        """x [B, d_model] float32, contiguous, through every layer in place; row b's new token sits at
        `positions[b]` (int64), with the rotary tables `cos` / `sin` [B, head_dim] there; `keys` / `values` are the
        layers' caches [B, n_kv_heads, capacity, head_dim], written at those positions; `binding` is this cache's
        (`bind` of its adapters, which `runs`)."""
        n_heads, n_kv_heads, head_dim, eps = self._shape
        positions, cos, sin = positions.contiguous(), cos.float().contiguous(), sin.float().contiguous()
        step = StepSpec(rows=x.shape[0], d_model=x.shape[1], heads=n_heads, kv_heads=n_kv_heads, head_dim=head_dim,
                        eps=eps, threads=torch.get_num_threads(), positions=positions.data_ptr(),
                        cos=cos.data_ptr(), sin=sin.data_ptr())
        for spec, key, value in zip(binding.specs, keys, values, strict=True):
            spec.keys, spec.values, spec.capacity = key.data_ptr(), value.data_ptr(), key.shape[2]
            if self._call(ctypes.byref(spec), ctypes.byref(step), x.data_ptr()):
                raise RuntimeError(f"moe_decoder_layer refused a step of {tuple(x.shape)} at positions "
                                   f"{positions.tolist()}")
