"""Frozen linear layers: float weights pre-packed for oneDNN on CPU (`FrozenLinear`), int8 / int4 blocks on our own
kernel (`block_quant.BlockLinear`), or, where that kernel cannot run, int8 weights applied by fbgemm's dynamically
quantized linear (`Int8Linear`). `frozen_linear` picks one by `base.quantization`; `calibration_for` says what
each calibrates from.

Kernel choice, measured on a 2-core Xeon (Sapphire Rapids, AVX-512 VNNI, 2 threads), ms per call at SmolLM2's
shapes (1 / 8 / 48 rows), fp32 `FrozenLinear` vs fbgemm int8 with its float channels vs the block kernel int8:
576x576 0.031 / 0.045 / 0.19 vs 0.043 / 0.080 / 0.19 vs 0.017 / 0.026 / 0.075; 1536x576 0.083 / 0.12 / 0.37 vs
0.048 / 0.099 / 0.31 vs 0.017 / 0.035 / 0.14; the 49152x576 LM head 3.4 / 5.2 / 13.6 vs 0.80 / 1.19 / 5.9 vs
0.63 / 0.86 / 4.1 (int4: 0.39 ms at 1 row). So the block kernel runs wherever it can.

Why not `F.linear`: measured on this 2-core AVX-512 CPU with SmolLM2's shapes, a weight reordered
once by `torch.ops.mkldnn._reorder_linear_weight` and applied with `_linear_pointwise` runs 2-4x
faster than `F.linear` (576x1536 at 8 rows: 2.6 ms vs 10.3 ms for 30 layers; lm_head 49152x576 at
1 row: 4.4 ms vs 14.2 ms), with results equal to F.linear within float rounding. These are the ops
torch's own inductor emits for frozen CPU linears. On other devices, or if the op is missing, this
falls back to `F.linear`.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F

from moe_system.base.quantization import Choose
from moe_system.config import Quantization
from moe_system.engine import block_quant

_PACKABLE = (torch.float32, torch.bfloat16)
# SmoothQuant's migration strengths tried for each linear (None: no smoothing); see `best_calibration`
SMOOTHING_GRID: tuple[float | None, ...] = (None, 0.35, 0.5, 0.65, 0.8, 0.9)
CALIBRATION_METHOD = "smoothquant-alpha-grid+float-channels-64-16-1"  # names `best_calibration` (keys the cache)
BLOCK_CALIBRATION_METHOD = "block-int8-smoothquant-alpha-grid-1"  # names `best_block_smoothing`


@functools.cache
def bf16_packable() -> bool:
    """oneDNN's bf16 linear needs AVX-512 (bw, vl, dq) or AVX-NE-CONVERT; without them reordering raises."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def can_pack(weight: torch.Tensor) -> bool:
    return (
        weight.device.type == "cpu"
        and weight.dtype in _PACKABLE
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
        and (weight.dtype != torch.bfloat16 or bf16_packable())
    )


class FrozenLinear:
    """y = x @ W.T (+ b) with W: [out, in] fixed for the life of the object.

    `row_norms_sq` [out] keeps sum_j W[i, j]^2 in float32: DoRA needs ||W + dW|| per output row at adapter
    load time, and the packed weight cannot be read back.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.out_features, self.in_features = weight.shape
        self.bias = bias.detach().clone() if bias is not None else None
        self.row_norms_sq = weight.detach().float().square().sum(dim=1)  # [out]
        self.packed = can_pack(weight)
        weight = weight.detach().contiguous()
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight) if self.packed else weight

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [..., in] -> [..., out]
        if self.packed:
            return torch.ops.mkldnn._linear_pointwise(x.contiguous(), self.weight, self.bias, "none", [], "")
        return F.linear(x, self.weight, self.bias)


@functools.cache
def _has_vnni() -> bool:
    """Whether the CPU multiplies u8 x s8 into int32 directly (AVX512-VNNI / AVX-VNNI). Without it fbgemm sums
    pairs of products in int16, which can saturate on full 8-bit activations, so activations keep 7 bits."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return bool(re.search(r"\b(?:avx512_vnni|avx_vnni)\b", flags))


def int8_available() -> bool:
    """fbgemm (x86) is the int8 engine: `Int8Linear` runs wherever torch was built with it."""
    return "fbgemm" in torch.backends.quantized.supported_engines


class Int8Linear:
    """y = x @ W.T (+ b) with W stored as int8, one symmetric scale per output row, and a few loud input
    channels multiplied in float: int8 where the block kernel (`block_quant`) cannot run.

    The kernel is fbgemm's dynamically quantized linear (`quantized::linear_dynamic`), which quantizes its input
    to 8 bits with one scale and multiplies in integers. Why this one: measured on a 2-core Xeon (Sapphire Rapids,
    AVX-512 VNNI, 2 threads) at SmolLM2's shapes against the oneDNN-packed fp32 `FrozenLinear`: the 49152x576 LM
    head at 1 row 0.57 ms vs 2.67 ms (8 rows: 0.79 vs 4.59), 1536x576 0.020 vs 0.048 ms, 576x1536 0.020 vs
    0.059 ms, 576x576 0.018 vs 0.024 ms; at 48 rows 2-4x faster too. Every other int8 option measured slower:
    oneDNN `qlinear_pointwise` with activations quantized in Python, 0.06-0.07 ms a small layer at 1 row (it wins
    only at 512 rows of the LM head, which prefill never computes); the weight-only `aten._weight_int8pack_mm`,
    0.11-0.28 ms, and 10 ms for the LM head.

    Accuracy, three ways (see `best_calibration`):
    - each row is scaled to max |x| = 1 before the kernel and back after, so every token (and every request of a
      batch) gets its own activation scale;
    - `smooth` [in], SmoothQuant's factors (`smoothing_factor`), moves the activations' range into the weights:
      x / s times W * s;
    - `outliers` [k], the input channels still loudest after that, are taken out of the int8 product (their
      activations zeroed with the same multiply that smooths) and multiplied in float, as LLM.int8() does
      (Dettmers et al., 2022) but with channels fixed at calibration: one scale per token then spans the quiet
      channels only, and the weights' row scales no longer cover those columns. On SmolLM2, perplexity on the
      development text: +1.15% smoothed, +0.29% with 16 float channels too (4: +0.73%, 64: +0.28%). They cost
      an index_select and an addmm a linear and k x out floats read (`outlier_channels`): with the 64 / 16 of
      `outlier_channels`, about a fifth of SmolLM2's batch-1 decode speed (35-39 vs 45-50 tok/s, same run).

    `row_norms_sq` [out] is sum_j W[i, j]^2 of the dequantized weight (DoRA's norms come from what runs).
    """

    def __init__(
        self, weight: torch.Tensor, bias: torch.Tensor | None = None, smooth: torch.Tensor | None = None,
        outliers: torch.Tensor | None = None,
    ) -> None:
        self.out_features, self.in_features = weight.shape
        w = weight.detach().float()  # [out, in]
        tiny = torch.finfo(torch.float32).tiny
        self.outliers = None if outliers is None or outliers.numel() == 0 else outliers.long()  # [k]
        self.outlier_weight = None if self.outliers is None else w[:, self.outliers].t().contiguous()  # [k, out]
        self.inv_smooth = None if smooth is None else (1.0 / smooth.float())  # [in]
        # what multiplies the input rows before the kernel: 1/s, and 0 on the channels done in float
        self.input_scale = self.inv_smooth
        if self.outliers is not None:
            ones = torch.ones(self.in_features)
            self.input_scale = (ones if self.inv_smooth is None else self.inv_smooth).index_fill(0, self.outliers, 0.0)
        scaled = w if smooth is None else w * smooth.float()
        if self.outliers is not None:
            scaled = scaled.index_fill(1, self.outliers, 0.0)
        scale = (scaled.abs().amax(dim=1) / 127).clamp_min(tiny)  # [out]
        steps = torch.round(scaled / scale[:, None]).clamp_(-127, 127).to(torch.int8)  # [out, in]
        self.bias = bias.detach().clone() if bias is not None else None
        with warnings.catch_warnings():  # torch 2.13 marks quantized tensors deprecated; fbgemm's prepack takes one
            warnings.simplefilter("ignore", UserWarning)
            quantized = torch._make_per_channel_quantized_tensor(
                steps, scale.double(), torch.zeros(self.out_features, dtype=torch.long), 0)
            self.packed = torch.ops.quantized.linear_prepack(quantized, None)
        self.reduce_range = not _has_vnni()

    @functools.cached_property
    def row_norms_sq(self) -> torch.Tensor:  # [out]
        """Computed when a DoRA expert first asks: unpacking every linear took 0.7 s of a 1.9 s int8 load."""
        return self.dequantized().square().sum(dim=1)

    def dequantized(self) -> torch.Tensor:
        """The weight this layer multiplies by, in float: [out, in] (the int8 weight times its scales, unsmoothed,
        with the float channels)."""
        quantized, _ = torch.ops.quantized.linear_unpack(self.packed)
        weight = quantized.dequantize()  # [out, in]
        if self.inv_smooth is not None:
            weight = weight * self.inv_smooth
        if self.outliers is not None and self.outlier_weight is not None:
            weight = weight.index_copy(1, self.outliers, self.outlier_weight.t())
        return weight

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [..., in] -> [..., out]
        rows = x.reshape(-1, self.in_features).float()  # [N, in]
        scaled = rows if self.input_scale is None else rows * self.input_scale
        if rows.shape[0] == 1:  # one row: the kernel's own scale is already this row's
            y = torch.ops.quantized.linear_dynamic(scaled.contiguous(), self.packed, self.reduce_range)  # [1, out]
        else:
            peak = scaled.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)  # [N, 1]
            y = torch.ops.quantized.linear_dynamic((scaled / peak).contiguous(), self.packed, self.reduce_range) * peak
        if self.outliers is not None and self.outlier_weight is not None:
            y = y.addmm_(rows.index_select(1, self.outliers), self.outlier_weight)
        if self.bias is not None:
            y = y + self.bias.float()
        return y.view(*x.shape[:-1], self.out_features).to(x.dtype)


def smoothing_factor(weight: torch.Tensor, act_max: torch.Tensor, alpha: float) -> torch.Tensor:
    """SmoothQuant's s [in] = act_max^a / max|W[:, j]|^(1-a) for weight [out, in] and act_max [in]."""
    floor = 1e-5
    columns = weight.detach().float().abs().amax(dim=0).clamp_min(floor)  # [in]
    return (act_max.float().clamp_min(floor) ** alpha / columns ** (1 - alpha)).clamp_min(floor)


def outlier_channels(out_features: int, in_features: int) -> int:
    """How many input channels of an int8 linear are multiplied in float (the loudest on the calibration chat, after
    smoothing). They cost k x out floats read per token, so 64 where the layer does not widen (q, k, v, o, down:
    576-1536 outputs) and 16 where it does (gate, up, the 49152-row LM head): 25 MB in all for SmolLM2, beside
    its 133 MB of int8 weights. Perplexity on the development text (EN / RU): +0.41 / +0.93% with 16 everywhere,
    +0.28 / +0.60% with 64 / 16 so, +0.36 / +0.40% with 64 everywhere (38 MB)."""
    return min(in_features, 64 if out_features <= in_features else 16)


def best_calibration(weight: torch.Tensor, act_max: torch.Tensor, sample: torch.Tensor) -> dict[str, torch.Tensor]:
    """How `Int8Linear` should hold `weight` [out, in], from the maxima `act_max` [in] of its input and `sample`
    [rows, in] input rows: {"smooth": factors [in], "outliers": channels [k]}, "smooth" absent for none.

    For each strength of `SMOOTHING_GRID` the `outlier_channels` loudest after smoothing go to float; the
    pair whose int8 product of `sample` is nearest the float one (squared error) wins. Per linear, because the best
    strength differs: on SmolLM2, 0.65-0.8 for most projections; without float channels, perplexity on the
    development text was +1.67% with 0.5 everywhere and +1.19% chosen.

    GPTQ rounding (error-compensating, from the calibration rows' Gram matrix) was tried on top and left out: with
    float activations it halved the weights' share (+0.48 / +0.32% -> +0.23 / +0.23%, development text EN / RU),
    but beside 8-bit activations it measured no better (+0.54 / +0.82% vs +0.41 / +0.93%) and doubled the
    calibration time."""
    weight = weight.detach()
    exact = sample @ weight.float().t()  # [rows, out]
    k = outlier_channels(*weight.shape)
    best: tuple[float, dict[str, torch.Tensor]] = (float("inf"), {})
    for alpha in SMOOTHING_GRID:
        smooth = None if alpha is None else smoothing_factor(weight, act_max, alpha)
        loudness = act_max.float() if smooth is None else act_max.float() / smooth  # [in]
        outliers = torch.topk(loudness, k).indices.sort().values  # [k]
        error = float((Int8Linear(weight, None, smooth, outliers)(sample) - exact).square().sum())
        if error < best[0]:
            best = (error, {"outliers": outliers} if smooth is None else {"smooth": smooth, "outliers": outliers})
    return best[1]


def best_block_smoothing(weight: torch.Tensor, act_max: torch.Tensor, sample: torch.Tensor) -> dict[str, torch.Tensor]:
    """SmoothQuant's factors for `weight` [out, in] held as int8 blocks (`block_quant.BlockLinear`): {"smooth": [in]},
    or {} for none, whichever strength of `SMOOTHING_GRID` brings the block product of `sample` [rows, in] nearest
    the float one. With activations quantized per 32 values a loud channel coarsens only its block, but on SmolLM2
    that still moved the first token of "What is the capital of France?" from "The" (15.2%, fp32) to "L" (14.2%;
    "The" 11.3%); smoothed, "The" 15.6%, and perplexity on the development text went from +0.47 / +0.44% (EN / RU)
    to -0.03 / 0.00%."""
    weight = weight.detach()
    exact = sample @ weight.float().t()  # [rows, out]
    best: tuple[float, dict[str, torch.Tensor]] = (float("inf"), {})
    for alpha in SMOOTHING_GRID:
        smooth = None if alpha is None else smoothing_factor(weight, act_max, alpha)
        error = float((block_quant.BlockLinear(weight, None, 8, smooth=smooth)(sample) - exact).square().sum())
        if error < best[0]:
            best = (error, {} if smooth is None else {"smooth": smooth})
    return best[1]


def runnable_quantization(
    requested: Quantization, device: torch.device, packable: bool = True,
) -> tuple[Quantization, str | None]:
    """What `requested` runs as on `device`, and one line saying why when that differs. `packable`: whether every
    linear of the model has a shape `block_quant.BlockLinear` takes.

    int8 and int4 run on `block_quant`'s kernel where it runs (AVX-512 VNNI); int8 also runs on fbgemm elsewhere
    (`Int8Linear`), int4 nowhere else: no int4 kernel this torch has beats even fp32 on CPU. Measured on the 2-core
    Xeon above at 1 row (fp32 `FrozenLinear`: 0.048 ms for 1536x576, 2.67 ms for the LM head):
    `aten._weight_int4pack_mm_for_cpu` 0.76 / 24 ms, `aten._dyn_quant_matmul_4bit` (KleidiAI on Arm, a reference
    loop on x86) 1.3 / 41 ms; torchao's wheel ships no CPU kernels."""
    if requested == "none":
        return "none", None
    blocks = device.type == "cpu" and block_quant.available() and packable
    if device.type != "cpu" or not (blocks or int8_available()):
        where = device.type if device.type != "cpu" else "this torch build (no fbgemm)"
        return "none", f"quantization {requested}: no int8 kernel on {where}; running the float weights"
    if requested == "int4" and not blocks:
        why = ("the model's linears do not all pack into blocks (in_features a multiple of "
               f"{block_quant.CHUNK}, out_features of {block_quant.GROUP})" if block_quant.available()
               else "no int4 kernel on this CPU (it needs AVX-512 VNNI and g++)")
        return "int8", f"quantization int4: {why}; running int8"
    return requested, None


def calibration_for(quantization: Quantization, packable: bool) -> tuple[Choose, str] | None:
    """What calibrates the linears for `quantization` (as `runnable_quantization` resolved it), with its method's
    name: int4 is fitted weighing each input channel by its activations (`block_quant.int4_fit`); int8 takes
    SmoothQuant factors on the block kernel (`best_block_smoothing`), and float channels too on fbgemm
    (`best_calibration`); float needs nothing."""
    if quantization == "int4":
        return block_quant.int4_fit, block_quant.INT4_METHOD
    if quantization == "int8":
        if block_quant.available() and packable:
            return best_block_smoothing, BLOCK_CALIBRATION_METHOD
        return best_calibration, CALIBRATION_METHOD
    return None


def frozen_linear(
    weight: torch.Tensor, bias: torch.Tensor | None, quantization: Quantization,
    calibration: Mapping[str, torch.Tensor] | None = None,
) -> FrozenLinear | Int8Linear | block_quant.BlockLinear:
    """The frozen linear for `quantization` (as `runnable_quantization` resolved it), held as `calibration` (see
    `calibration_for`) says where given: int4 on the block kernel, as `block_quant.int4_fit` packed it;
    int8 on the block kernel, with "smooth" factors, where it runs and `weight` packs; else on fbgemm, with "smooth"
    factors and "outliers" channels."""
    blocks = block_quant.available() and block_quant.packable(weight)
    given = calibration or {}
    if quantization == "int4" and blocks:
        return block_quant.BlockLinear(weight, bias, bits=4, packed=given or None)
    if quantization == "int8" and blocks:
        return block_quant.BlockLinear(weight, bias, bits=8, smooth=given.get("smooth"))
    if quantization == "int8":
        return Int8Linear(weight, bias, given.get("smooth"), given.get("outliers"))
    if quantization == "none":
        return FrozenLinear(weight, bias)
    raise ValueError(f"no kernel for quantization {quantization!r} and a {tuple(weight.shape)} weight")
