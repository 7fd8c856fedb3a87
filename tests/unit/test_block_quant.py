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
def test_layout_round_trips(bits: int) -> None:
    torch.manual_seed(0)
    codes = torch.randint(0, 2 ** bits, (48, 192), dtype=torch.uint8)
    packed = pack(codes, bits)
    assert packed.numel() == codes.numel() * bits // 8
    assert torch.equal(unpack(packed, bits), codes)


def test_int8_blocks_take_their_own_scale() -> None:
    """Each weight lands within half a step of its block's scale; a loud block leaves its neighbours' alone."""
    torch.manual_seed(0)
    w = torch.randn(16, 64)
    w[0, :32] *= 100
    codes, scales, minima = quantize_blocks(w, 8)
    assert minima is None
    steps = codes.float().reshape(16, -1, BLOCK) - 128
    error = (w.reshape(16, -1, BLOCK) - steps * scales.float()[..., None]).abs()
    assert bool((error <= scales.float()[..., None] * 0.5 + 1e-6).all())
    assert float(scales[0, 1]) < float(scales[0, 0]) / 20


def test_int4_fit_follows_the_importance_of_each_channel() -> None:
    """int4 fits a scale and a minimum per block; weighting one channel's error 1000x makes its weights nearly exact
    at the cost of the others'."""
    torch.manual_seed(0)
    w = torch.randn(32, 64) + 0.5  # off-centre: a minimum per block pays
    plain = BlockLinear(w, None, 4).dequantized()
    importance = torch.ones(64)
    importance[7] = 1000.0
    weighted = BlockLinear(w, None, 4, importance).dequantized()
    assert (weighted[:, 7] - w[:, 7]).abs().mean() < (plain[:, 7] - w[:, 7]).abs().mean() / 3
    assert float((plain - w).norm() / w.norm()) < 0.1


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
    tolerance = 0.02 if bits == 8 else 0.12
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


def test_smoothing_is_applied_as_the_kernel_quantizes() -> None:
    """With SmoothQuant factors s the kernel multiplies x / s (rounded per block) by the held W * s, and the layer's
    dequantized weight is W again."""
    torch.manual_seed(0)
    w, x = torch.randn(32, 128) * 0.05, torch.randn(3, 128)
    x[:, 9] *= 50
    smooth = torch.rand(128) + 0.5
    layer = BlockLinear(w, None, 8, smooth=smooth)
    held = layer.dequantized() * smooth
    expected = _activations_as_the_kernel_rounds_them(x / smooth) @ held.t()
    assert torch.allclose(layer(x), expected, rtol=1e-4, atol=1e-4)
    assert float((layer.dequantized() - w).abs().max()) < 0.01


def test_chosen_smoothing_tames_a_loud_channel() -> None:
    """A channel 100x louder than the rest coarsens its block's activations; `best_block_smoothing` moves its range
    into the weights and the product gets closer to the float one."""
    from moe_system.engine.kernels import best_block_smoothing

    torch.manual_seed(0)
    w, x = torch.randn(64, 128) * 0.05, torch.randn(64, 128)
    x[:, [3, 40]] *= 100.0
    chosen = best_block_smoothing(w, x.abs().amax(dim=0), x)
    assert "smooth" in chosen
    exact = x @ w.t()

    def error(layer: BlockLinear) -> float:
        return float((layer(x) - exact).norm() / exact.norm())

    assert error(BlockLinear(w, None, 8, smooth=chosen["smooth"])) < error(BlockLinear(w, None, 8)) / 2


def test_an_int4_fit_is_kept_packed_and_checked_against_its_weight() -> None:
    """`int4_fit` is what the calibration cache keeps for int4: a layer built from it multiplies exactly as the
    layer it was fitted as; tensors of another shape are refused."""
    torch.manual_seed(0)
    w, sample = torch.randn(32, 128), torch.randn(16, 128)
    fitted = block_quant.int4_fit(w, sample.abs().amax(dim=0), sample)
    direct = BlockLinear(w, None, 4, importance=sample.square().mean(dim=0))
    assert torch.equal(BlockLinear(w, None, 4, packed=fitted)(sample), direct(sample))
    with pytest.raises(ValueError, match="do not fit"):
        BlockLinear(torch.zeros(48, 128), None, 4, packed=fitted)


@pytest.mark.parametrize("rank", [1, 8, 20])
def test_lora_terms_added_in_the_kernel_equal_the_float_products(rank: int) -> None:
    """A LoRA term scale * (x A^T) B added by the kernel: one expert for every row or one per batch row (A as slices
    of a wider gathered tensor), any rank; B must be row-major."""
    from moe_system.engine.lora import LowRank

    torch.manual_seed(rank)
    w = torch.randn(48, 128) * 0.05
    layer = BlockLinear(w, None, 8)
    x = torch.randn(3, 2, 128)  # [B, T, in]
    base = layer(x)
    a, lora_b = torch.randn(rank, 128), torch.randn(48, rank)  # PEFT's lora_A [r, in], lora_B [out, r]
    expected = base + 0.5 * (x @ a.t()) @ lora_b.t()
    assert torch.allclose(layer(x, LowRank(a, lora_b.t().contiguous(), 0.5)), expected, atol=1e-4)
    wide = torch.randn(3, rank + 4, 128)  # each row's A: the last `rank` rows of its slot, as a group's slice
    rows_a, rows_b = wide[:, 4:], torch.randn(3, rank, 48)
    per_row = base + 0.5 * torch.bmm(torch.bmm(x, rows_a.transpose(1, 2)), rows_b)
    assert torch.allclose(layer(x, LowRank(rows_a, rows_b, 0.5)), per_row, atol=1e-4)
    with pytest.raises(ValueError, match="does not fit"):
        layer(x, LowRank(torch.randn(rank, 64), lora_b.t().contiguous(), 0.5))
    if rank > 1:
        with pytest.raises(ValueError, match="does not fit"):
            layer(x, LowRank(a, lora_b.t(), 0.5))  # a transposed view


def test_an_embedding_table_in_int8_blocks_looks_up_its_dequantized_rows() -> None:
    """`BlockEmbedding`: each looked-up row is the table's row rounded to its blocks' scales (exact for a table that
    already was Q8_0, as SmolLM2's GGUF is)."""
    torch.manual_seed(0)
    table = torch.randn(50, 64)
    embedding = block_quant.BlockEmbedding(table)
    tokens = torch.tensor([[3, 7, 3], [49, 0, 12]])
    rows = embedding(tokens)
    assert rows.shape == (2, 3, 64) and rows.dtype == torch.float32
    assert float((rows - table[tokens]).abs().max()) <= float(table.abs().max()) / 127 / 2 + 1e-6
    assert torch.equal(block_quant.BlockEmbedding(rows.reshape(-1, 64))(torch.arange(6)), rows.reshape(-1, 64))
    assert not block_quant.BlockEmbedding.fits(torch.zeros(10, 48))
