"""The block-quantized kernel (`engine/block_quant.py`, `csrc/block_gemm.cpp`): its layouts round-trip, and its
product equals the float product of the same quantized operands (weights in int8 / int4 blocks, activations in
int8 blocks) for every row count the kernel tiles differently, with and without a bias."""

from __future__ import annotations

import pytest
import torch

from moe_system.engine import block_quant
from moe_system.engine.block_quant import BLOCK, BlockLinear, pack, quantize_blocks, unpack

pytestmark = pytest.mark.skipif(not block_quant.available(), reason="no AVX-512 VNNI or g++ here")


def _activations_as_the_kernel_rounds_them(x: torch.Tensor) -> torch.Tensor:
    """x [n, in] with each block of 32 values rounded to 255 levels of its own max |x| (what the kernel multiplies)."""
    blocks = x.reshape(x.shape[0], -1, BLOCK)  # [n, in / 32, 32]
    scale = blocks.abs().amax(dim=2, keepdim=True) / 127
    steps = torch.where(scale > 0, torch.round(blocks / torch.where(scale > 0, scale, 1.0)), 0.0)
    return (steps * scale).reshape(x.shape)


@pytest.mark.parametrize("bits", [8, 4])
def test_layouts_round_trip(bits: int) -> None:
    torch.manual_seed(0)
    low, high = (-127, 127) if bits == 8 else (-8, 7)
    steps = torch.randint(low, high + 1, (48, 192), dtype=torch.int8)
    scales = torch.rand(48, 192 // BLOCK).half()
    packed, packed_scales = pack(steps, scales, bits)
    assert packed.numel() == steps.numel() * bits // 8
    again, again_scales = unpack(packed, packed_scales, bits)
    assert torch.equal(again, steps) and torch.equal(again_scales, scales)


def test_blocks_take_their_own_scale() -> None:
    """int8 rounds each weight within half a step of its block's scale; int4 (Q4_0) puts each block's value of
    largest magnitude exactly on -8 steps."""
    torch.manual_seed(0)
    w = torch.randn(16, 64)
    w[0, :32] *= 100  # a loud block leaves its neighbours' scales alone
    steps, scales = quantize_blocks(w, 8)
    error = (w.reshape(16, -1, BLOCK) - steps.float().reshape(16, -1, BLOCK) * scales.float()[..., None]).abs()
    assert bool((error <= scales.float()[..., None] * 0.5 + 1e-6).all())
    assert float(scales[0, 1]) < float(scales[0, 0]) / 20
    steps4, _ = quantize_blocks(w, 4)
    loudest = w.reshape(16, -1, BLOCK).abs().argmax(dim=2)
    assert bool((steps4.reshape(16, -1, BLOCK).gather(2, loudest[..., None]) == -8).all())


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 6, 7, 13])
def test_kernel_equals_the_float_product_of_its_operands(bits: int, bias: bool, rows: int) -> None:
    torch.manual_seed(rows)
    w, b = torch.randn(48, 192) * 0.05, torch.randn(48) if bias else None
    layer = BlockLinear(w, b, bits)
    x = torch.randn(rows, 192)
    x[:, 5] *= 40  # one loud channel: it coarsens only its own block
    expected = _activations_as_the_kernel_rounds_them(x) @ layer.dequantized().t() + (b if b is not None else 0)
    got = layer(x)
    assert got.shape == (rows, 48)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4), (got - expected).abs().max()
    exact = x @ w.t() + (b if b is not None else 0)
    tolerance = 0.02 if bits == 8 else 0.15
    assert float((got - exact).norm() / exact.norm()) < tolerance


def test_leading_dimensions_empty_and_silent_rows() -> None:
    torch.manual_seed(0)
    w, b = torch.randn(32, 64), torch.randn(32)
    layer = BlockLinear(w, b, 8)
    x = torch.randn(2, 3, 64)
    x[1, 2] = 0.0  # an all-zero row has no scale: its output is the bias
    y = layer(x)
    assert y.shape == (2, 3, 32)
    assert torch.allclose(y[1, 2], b)
    assert torch.allclose(y.reshape(6, 32), layer(x.reshape(6, 64)))
    assert layer(torch.zeros(0, 64)).shape == (0, 32)
    assert layer(x.to(torch.bfloat16)).dtype == torch.bfloat16


@pytest.mark.parametrize("shape", [(32, 96), (24, 64)])
def test_shapes_the_kernel_cannot_pack_are_refused(shape: tuple[int, int]) -> None:
    assert not block_quant.packable(torch.zeros(shape))
    with pytest.raises(ValueError, match="multiple of"):
        BlockLinear(torch.zeros(shape), None, 8)
