"""FrozenLinear (oneDNN-packed weights on CPU) computes what `F.linear` computes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from moe_system.engine import block_quant
from moe_system.engine.kernels import (
    FrozenLinear,
    Int8Linear,
    best_calibration,
    bf16_packable,
    can_pack,
    int8_available,
    outlier_channels,
    runnable_quantization,
    smoothing_factor,
)

K, N = 40, 48
SHAPES = ([1, K], [8, K], [2, 5, K])


def weights(dtype: torch.dtype, bias: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(N, K, generator=gen).to(dtype)
    b = torch.randn(N, generator=gen).to(dtype) if bias else None
    return w, b


def inputs(shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(1)).to(dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", (False, True))
def test_fp32_matches_f_linear(shape: list[int], bias: bool) -> None:
    """fp32, with and without bias, for a single row, a batch of rows and a [B, T, K] input."""
    w, b = weights(torch.float32, bias)
    x = inputs(shape, torch.float32)
    layer = FrozenLinear(w, b)
    y = layer(x)
    assert y.shape == (*shape[:-1], N)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, F.linear(x, w, b), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", (False, True))
def test_bf16_matches_f_linear(shape: list[int], bias: bool) -> None:
    """bfloat16 stays bfloat16 and agrees with F.linear within bf16 rounding (outputs are O(10), one bf16
    step there is 0.06), and with the fp32 result within a few steps."""
    w, b = weights(torch.bfloat16, bias)
    x = inputs(shape, torch.bfloat16)
    y = FrozenLinear(w, b)(x)
    assert y.dtype == torch.bfloat16
    assert y.shape == (*shape[:-1], N)
    torch.testing.assert_close(y.float(), F.linear(x, w, b).float(), atol=0.15, rtol=2e-2)
    exact = F.linear(x.float(), w.float(), None if b is None else b.float())
    torch.testing.assert_close(y.float(), exact, atol=0.3, rtol=4e-2)


def test_non_contiguous_input() -> None:
    """A transposed (non-contiguous) input gives the same result as its contiguous copy."""
    w, b = weights(torch.float32, True)
    x = torch.randn(K, 6, generator=torch.Generator().manual_seed(2)).t()
    assert not x.is_contiguous()
    torch.testing.assert_close(FrozenLinear(w, b)(x), F.linear(x, w, b), atol=1e-4, rtol=1e-4)


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="oneDNN not available in this torch build")
@pytest.mark.parametrize("dtype", (torch.float32, torch.bfloat16))
def test_packed_on_cpu_when_mkldnn_is_available(dtype: torch.dtype) -> None:
    """On CPU with oneDNN the weight really is reordered (the fast path is taken)."""
    w, _ = weights(dtype, False)
    expected = dtype != torch.bfloat16 or bf16_packable()  # bf16 packing needs AVX-512 or AVX-NE-CONVERT
    assert can_pack(w) == expected
    assert FrozenLinear(w).packed == expected


def test_unpackable_dtype_falls_back_to_f_linear() -> None:
    """float64 is not packable: the plain F.linear path is used and is exact."""
    w, b = weights(torch.float64, True)
    x = inputs([3, K], torch.float64)
    layer = FrozenLinear(w, b)
    assert not layer.packed
    assert torch.equal(layer(x), F.linear(x, w, b))
    assert (layer.out_features, layer.in_features) == (N, K)



# ---- int8 (fbgemm dynamic quantization)

needs_fbgemm = pytest.mark.skipif(not int8_available(), reason="this torch build has no fbgemm")


def _relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return float((got - expected).abs().max() / expected.abs().max())


@needs_fbgemm
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", (False, True))
def test_int8_is_close_to_f_linear_and_exact_on_its_dequantized_weight(shape: list[int], bias: bool) -> None:
    """Within 3% of the largest output of the float product, and within activation rounding of the product with
    the weight it really holds (`dequantized`), whose row norms DoRA reads."""
    w, b = weights(torch.float32, bias)
    x = inputs(shape, torch.float32)
    layer = Int8Linear(w, b)
    y = layer(x)
    assert y.shape == (*shape[:-1], N) and y.dtype == torch.float32
    assert _relative_error(y, F.linear(x, w, b)) < 0.03
    assert _relative_error(layer.dequantized(), w) < 0.01
    assert _relative_error(y, F.linear(x, layer.dequantized(), b)) < 0.02
    torch.testing.assert_close(layer.row_norms_sq, layer.dequantized().square().sum(dim=1))


@needs_fbgemm
def test_int8_rows_are_quantized_each_on_its_own() -> None:
    """A loud row (another request of the batch) does not coarsen the quantization of the rows beside it."""
    w, _ = weights(torch.float32, False)
    x = inputs([4, K], torch.float32)
    x[2] *= 1000.0
    together = Int8Linear(w)(x)
    for row in range(4):
        assert _relative_error(together[row], F.linear(x[row], w)) < 0.03, row


@needs_fbgemm
def test_int8_smoothing_tames_an_outlier_channel() -> None:
    """With the calibrated maxima of an input whose one channel is 100x the rest, smoothing keeps the error of
    the quiet channels' contribution small; the layer still computes x @ W.T."""
    w, _ = weights(torch.float32, False)
    x = inputs([16, K], torch.float32)
    x[:, 3] *= 100.0
    expected = F.linear(x, w)
    loud = F.linear(x[:, 3:4], w[:, 3:4])  # what the outlier channel contributes
    plain = _relative_error(Int8Linear(w)(x) - loud, expected - loud)
    smoothed_layer = Int8Linear(w, smooth=smoothing_factor(w, x.abs().amax(dim=0), 0.5))
    smoothed = _relative_error(smoothed_layer(x) - loud, expected - loud)
    assert smoothed < plain / 2
    assert _relative_error(smoothed_layer(x), expected) < 0.03
    assert _relative_error(smoothed_layer.dequantized(), w) < 0.05


@needs_fbgemm
def test_int8_float_channels_take_the_outlier_out_of_the_rounding() -> None:
    """An outlier channel multiplied in float leaves the quiet channels' product nearly exact; the dequantized
    weight (and DoRA's row norms) include that channel's float column."""
    w, b = weights(torch.float32, True)
    x = inputs([16, K], torch.float32)
    x[:, 3] *= 100.0
    expected = F.linear(x, w, b)
    layer = Int8Linear(w, b, outliers=torch.tensor([3]))
    assert _relative_error(layer(x), expected) < _relative_error(Int8Linear(w, b)(x), expected) / 4
    assert _relative_error(layer(x[:1]), expected[:1]) < 0.03  # one row takes the kernel's own scale
    torch.testing.assert_close(layer.dequantized()[:, 3], w[:, 3])
    torch.testing.assert_close(layer.row_norms_sq, layer.dequantized().square().sum(dim=1))
    smooth = smoothing_factor(w, x.abs().amax(dim=0), 0.5)
    both = Int8Linear(w, b, smooth, torch.tensor([3, 7]))
    assert _relative_error(both.dequantized(), w) < 0.05
    assert _relative_error(both(x), expected) < 0.03


@needs_fbgemm
def test_calibration_picks_the_loudest_channels_and_beats_smoothing_alone() -> None:
    w, _ = weights(torch.float32, False)
    x = inputs([32, K], torch.float32)
    x[:, [3, 11]] *= 100.0
    chosen = best_calibration(w, x.abs().amax(dim=0), x)
    outliers = chosen["outliers"]
    assert outliers.shape == (outlier_channels(N, K),) and {3, 11} <= set(outliers.tolist())
    layer = Int8Linear(w, None, chosen.get("smooth"), outliers)
    alone = Int8Linear(w, smooth=smoothing_factor(w, x.abs().amax(dim=0), 0.5))
    assert _relative_error(layer(x), F.linear(x, w)) <= _relative_error(alone(x), F.linear(x, w))


def test_what_cannot_run_as_asked_says_why() -> None:
    assert runnable_quantization("none", torch.device("cpu")) == ("none", None)
    kind, why = runnable_quantization("int4", torch.device("cpu"), packable=False)
    assert (kind, why is not None) == (("int8", True) if int8_available() else ("none", True))
    kind, why = runnable_quantization("int4", torch.device("cpu"), packable=True)
    assert (kind, why) == ("int4", None) if block_quant.available() else (kind != "int4" and why)
    kind, why = runnable_quantization("int8", torch.device("cuda"))
    assert kind == "none" and why and "cuda" in why
