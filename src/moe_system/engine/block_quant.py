"""Block-quantized linears: weights in int8 or int4 with one fp16 scale per 32 input channels, multiplied by a
hand-written AVX-512 VNNI kernel (`csrc/block_gemm.cpp`) against activations quantized the same way per row.

Why a kernel of our own: no kernel this torch ships runs int4 faster than fp32 on CPU (see
`kernels.runnable_quantization`), and fbgemm's int8 takes one activation scale per row, which on SmolLM2 needed
SmoothQuant plus float outlier channels to stay within +1% perplexity and cost 6 of a 16 ms decode step in extra
work. With one activation scale per 32 values (llama.cpp's Q8_0 / Q4_0 scheme), a loud channel coarsens only its
own block, so neither is needed and each linear is one call.

The kernel is compiled once per source and flags with the system's g++ (about 2 s) into the user's cache
(`$XDG_CACHE_HOME/moe_system/kernels/`, as torch keeps its extensions in `~/.cache/torch_extensions`: shared by
every MOE_HOME, since it depends on the code only) and loaded with ctypes; without g++ or AVX-512 VNNI,
`available()` is False and callers fall back to the fbgemm int8 path.

    linear = BlockLinear(weight, bias, bits=4)   # weight [out, in], in a multiple of 64
    y = linear(x)                                # x [..., in] -> [..., out]
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import torch

from moe_system.engine.lora import LOW_RANK_DTYPES, LowRank

BLOCK = 32  # input channels sharing one weight scale (and one activation scale)
CHUNK = 64  # in_features must be a multiple of it (the int4 layout packs two 32-channel blocks' steps a byte)
GROUP = 16  # output rows one vpdpbusd computes: out_features must be a multiple of it
SOURCE = "block_gemm.cpp"
_FEATURES = ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "f16c", "fma")
_FLAGS = ["-O3", "-std=c++17", "-shared", "-fPIC", "-fopenmp", "-mavx512f", "-mavx512bw", "-mavx512vl",
          "-mavx512dq", "-mavx512vnni", "-mf16c", "-mfma"]


class LinearSpec(ctypes.Structure):
    """One linear as the kernel takes it (`MoeLinear` in `csrc/block_gemm.cpp`): the weights' pointers, bound once
    (`BlockLinear.spec`), and the LoRA term's, set per batch (`BlockLinear.bind`). The tensors must outlive it."""

    _fields_ = [("weight", ctypes.c_void_p), ("scales", ctypes.c_void_p), ("minima", ctypes.c_void_p),
                ("bias", ctypes.c_void_p), ("input_scale", ctypes.c_void_p), ("in_features", ctypes.c_int64),
                ("out_features", ctypes.c_int64), ("bits", ctypes.c_int32), ("lora_a", ctypes.c_void_p),
                ("a_stride", ctypes.c_int64), ("lora_b", ctypes.c_void_p), ("b_stride", ctypes.c_int64),
                ("rank", ctypes.c_int64), ("lora_scale", ctypes.c_float), ("lora_bf16", ctypes.c_int32)]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    found = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(found.group(1).split()) if found else set()


def _build(source: bytes, target: Path) -> None:
    """Compile `source` into the shared library `target` (atomically: a crash leaves no half-written file)."""
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        raise OSError("no C++ compiler (g++) on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        src = Path(work) / SOURCE
        src.write_bytes(source)
        built = Path(work) / target.name
        done = subprocess.run([compiler, *_FLAGS, str(src), "-o", str(built)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise OSError(f"compiling {SOURCE} failed: {done.stderr.strip()[-400:]}")
        os.replace(built, target)


@functools.cache
def _library() -> ctypes.CDLL | None:
    """The compiled kernel, or None where it cannot run (no AVX-512 VNNI, no compiler, a failed build)."""
    if not set(_FEATURES) <= _cpu_flags():
        return None
    source = resources.files("moe_system.engine.csrc").joinpath(SOURCE).read_bytes()
    key = hashlib.sha256(source + " ".join(_FLAGS).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "moe_system" / "kernels" / f"block_gemm-{key}.so"
    try:
        if not target.exists():
            _build(source, target)
        library = ctypes.CDLL(str(target))
    except OSError:
        return None
    pointer = ctypes.POINTER
    library.moe_block_linear.restype = ctypes.c_int
    # linear, x, n, tokens_per_row, y, threads
    library.moe_block_linear.argtypes = [pointer(LinearSpec), ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                         ctypes.c_void_p, ctypes.c_int32]
    return library


def library() -> ctypes.CDLL:
    """The compiled kernel (`moe_block_linear`, `moe_decoder_layer`); call only where `available()`."""
    found = _library()
    if found is None:
        raise RuntimeError("the block-quantized kernel does not run on this machine")
    return found


def available() -> bool:
    """Whether block-quantized linears run on this machine."""
    return _library() is not None


def packable(weight: torch.Tensor) -> bool:
    """Whether `weight` [out, in] has a shape the kernel takes."""
    return (weight.dim() == 2 and weight.shape[1] % CHUNK == 0 and weight.shape[0] % GROUP == 0
            and weight.device.type == "cpu")


INT4_METHOD = "int4-asymmetric-blocks-mean-square-activations-1"  # names `int4_fit` (keys its calibration cache)
INT4_STRETCHES = torch.linspace(-1.0, 1.0, 9)  # candidate step counts 15 + t across a block's range, refitted


def _fit_int4(blocks: torch.Tensor, importance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Blocks [out, n, 32] -> (codes 0..15, scales, minima [out, n, 1]) minimising the importance-weighted squared
    error sum_j I_j (w_j - (s * u_j + m))^2 per block: for each candidate step count, codes from the block's
    [min, max] range, then (s, m) refitted by weighted least squares; the best candidate per block is kept.
    llama.cpp's k-quants search the same way (`make_qkx2_quants`)."""
    weights = importance.expand_as(blocks)
    low, high = blocks.amin(dim=2, keepdim=True).clamp(max=0), blocks.amax(dim=2, keepdim=True).clamp(min=0)
    total = weights.sum(dim=2, keepdim=True)
    best: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    for stretch in INT4_STRETCHES:
        scale = ((high - low) / (15 + float(stretch))).clamp_min(1e-8)
        codes = torch.round((blocks - low) / scale).clamp_(0, 15)
        wq, wqq = (weights * codes).sum(2, keepdim=True), (weights * codes * codes).sum(2, keepdim=True)
        wx, wqx = (weights * blocks).sum(2, keepdim=True), (weights * codes * blocks).sum(2, keepdim=True)
        det = total * wqq - wq * wq
        solvable = det.abs() > 1e-12
        safe = torch.where(solvable, det, torch.ones_like(det))
        scale = torch.where(solvable, (total * wqx - wq * wx) / safe, scale).half()
        minimum = torch.where(solvable, (wqq * wx - wq * wqx) / safe, low).half()
        error = (weights * (blocks - (codes * scale.float() + minimum.float())) ** 2).sum(2, keepdim=True)
        if best is None:
            best = (error, codes, scale, minimum)
        else:
            better = error < best[0]
            best = (torch.where(better, error, best[0]), torch.where(better, codes, best[1]),
                    torch.where(better, scale, best[2]), torch.where(better, minimum, best[3]))
    assert best is not None
    return best[1], best[2], best[3]


def int4_fit(weight: torch.Tensor, act_max: torch.Tensor, sample: torch.Tensor) -> dict[str, torch.Tensor]:
    """`weight` [out, in] fitted to int4 blocks with each input channel's error weighed by its mean x_j^2 over the
    calibration input rows `sample` [rows, in]: the kernel's tensors {"weight", "scales", "minima"} (see
    `BlockLinear`). The `base.quantization.linear_calibration` chooser for int4: the fit takes about 8 s for
    SmolLM2, so its cache keeps the packed result (84 MB) and a later load only reads it."""
    layer = BlockLinear(weight, None, 4, importance=sample.float().square().mean(dim=0))
    assert layer.minima is not None
    return {"weight": layer.weight, "scales": layer.scales, "minima": layer.minima}


def quantize_blocks(
    weight: torch.Tensor, bits: int, importance: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Weight [out, in] -> (codes [out, in] uint8, fp16 scales [out, in / 32], fp16 minima [out, in / 32] or None).

    int8: w ~ scale * (code - 128), scale = max|w| / 127 per block. int4: w ~ scale * code + minimum, code 0..15,
    fitted per block to the error weighted by `importance` [in] (the mean square of each input channel's
    activations: a weight's error costs in proportion to what it multiplies). Measured on SmolLM2-135M
    (development text EN / RU, int8 activations): symmetric int4 with scale = max / 8 (llama.cpp's Q4_0)
    +34 / +48% perplexity; with a minimum, refitted, +8.0 / +8.9%; weighted by importance, +2.1 / +2.0%."""
    w = weight.detach().float().reshape(weight.shape[0], -1, BLOCK)  # [out, blocks, 32]
    if bits == 8:
        scale = (w.abs().amax(dim=2, keepdim=True) / 127).clamp_min(2.0 ** -24).half()  # [out, blocks, 1]
        codes = torch.round(w / scale.float()).clamp_(-127, 127) + 128
        return codes.to(torch.uint8).reshape(weight.shape), scale.squeeze(2), None
    if bits != 4:
        raise ValueError(f"bits must be 8 or 4, not {bits}")
    given = torch.ones(weight.shape[1]) if importance is None else importance.detach().float()
    given = given + given.mean() * 0.01 + 1e-12  # no channel weighs nothing (dead channels still get rounded)
    codes, scale, minimum = _fit_int4(w, given.reshape(1, -1, BLOCK))
    return codes.to(torch.uint8).reshape(weight.shape), scale.squeeze(2), minimum.squeeze(2)


class BlockEmbedding:
    """An embedding table [V, d] held as int8 blocks of 32 values with one fp16 scale each (`quantize_blocks`),
    scaled back to float at lookup: 30 MB for SmolLM2's 49152x576 table against 57 MB in fp16 and 113 MB in fp32.
    SmolLM2 ships as a Q8_0 GGUF, so for it this is exact (fp16 is not: it rounds by up to 5e-4)."""

    def __init__(self, table: torch.Tensor) -> None:
        codes, scales, _ = quantize_blocks(table, 8)
        self.codes = codes  # [V, d] uint8
        self.scales = scales  # [V, d / 32] fp16

    @staticmethod
    def fits(table: torch.Tensor) -> bool:
        return table.dim() == 2 and table.shape[1] % BLOCK == 0 and table.device.type == "cpu"

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:  # [...] ids -> [..., d] float32
        steps = self.codes[tokens].float() - 128  # [..., d]
        blocks = steps.unflatten(-1, (-1, BLOCK)) * self.scales[tokens].float()[..., None]  # [..., d / 32, 32]
        return blocks.flatten(-2)


def _grouped(per_block: torch.Tensor) -> torch.Tensor:
    """[out, in / 32] -> the kernel's [out / 16, in / 32, 16]."""
    return per_block.reshape(per_block.shape[0] // GROUP, GROUP, -1).permute(0, 2, 1).contiguous()


def _ungrouped(grouped: torch.Tensor) -> torch.Tensor:
    return grouped.permute(0, 2, 1).reshape(grouped.shape[0] * GROUP, -1)


def pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Codes [out, in] -> the kernel's layout (see `csrc/block_gemm.cpp`): [out / 16, in / 4, 16, 4] (int8) or
    [out / 16, in / 8, 64] (int4, steps 2p and 2p + 1 in the low and high nibbles)."""
    out, k = codes.shape
    grouped = codes.reshape(out // GROUP, GROUP, k // 4, 4).permute(0, 2, 1, 3)  # [G, in / 4, 16, 4]
    if bits == 8:
        return grouped.contiguous()
    pairs = grouped.reshape(out // GROUP, k // 8, 2, GROUP * 4)  # [G, in / 8, 2, 64]
    return (pairs[:, :, 0] | (pairs[:, :, 1] << 4)).contiguous()


def unpack(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Inverse of `pack`: codes [out, in]."""
    groups = weight.shape[0]
    if bits == 4:
        weight = torch.stack((weight & 0x0F, weight >> 4), dim=2)  # [G, in / 8, 2, 64]
    return weight.reshape(groups, -1, GROUP, 4).permute(0, 2, 1, 3).reshape(groups * GROUP, -1)


class BlockLinear:
    """y = x @ W.T (+ b) with W [out, in] held in `bits` (8 or 4) with one fp16 scale per 32 input channels.

    `smooth` [in], SmoothQuant's factors (`kernels.smoothing_factor`), moves loud input channels' range into the
    weights: the kernel multiplies x by 1 / s as it quantizes it, and holds W * s. `importance` [in] weighs int4's
    fit (`quantize_blocks`); `packed` gives the kernel's tensors of an earlier fit of this weight (`int4_fit`)
    instead. `row_norms_sq` [out] is sum_j W[i, j]^2 of the dequantized weight (DoRA's norms come from what
    runs)."""

    def __init__(
        self, weight: torch.Tensor, bias: torch.Tensor | None = None, bits: int = 8,
        importance: torch.Tensor | None = None, smooth: torch.Tensor | None = None,
        packed: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        if not packable(weight):
            raise ValueError(f"a block-quantized weight needs in_features a multiple of {CHUNK} and out_features of "
                             f"{GROUP}, got {tuple(weight.shape)}")
        self._kernel = library().moe_block_linear
        self.out_features, self.in_features = weight.shape
        self.bits = bits
        self.bias = None if bias is None else bias.detach().float().clone().contiguous()
        self.inv_smooth = None if smooth is None else (1.0 / smooth.float()).contiguous()  # [in]
        self.weight: torch.Tensor  # uint8, laid out for the kernel
        self.scales: torch.Tensor  # [out / 16, in / 32, 16] fp16
        self.minima: torch.Tensor | None  # int4's, like the scales
        if packed is not None:
            self.weight, self.scales, self.minima = packed["weight"], packed["scales"], packed.get("minima")
            expected = (self.out_features // GROUP, self.in_features // BLOCK, GROUP)
            if self.weight.numel() * 8 != weight.numel() * bits or tuple(self.scales.shape) != expected or (
                    bits == 4 and (self.minima is None or tuple(self.minima.shape) != expected)):
                raise ValueError(f"packed tensors do not fit a {tuple(weight.shape)} weight in {bits} bits")
            return
        held = weight if smooth is None else weight.detach().float() * smooth.float()
        if importance is not None and smooth is not None:
            importance = importance / smooth.float().square()  # what the held weight's columns multiply
        codes, scales, minima = quantize_blocks(held, bits, importance)
        self.weight = pack(codes, bits)
        self.scales = _grouped(scales)
        self.minima = None if minima is None else _grouped(minima)

    def dequantized(self) -> torch.Tensor:
        """The weight this layer multiplies by, in float: [out, in] (unsmoothed)."""
        codes = unpack(self.weight, self.bits).float().reshape(self.out_features, -1, BLOCK)  # [out, in / 32, 32]
        scales = _ungrouped(self.scales).float()[..., None]  # [out, in / 32, 1]
        if self.minima is None:
            blocks = (codes - 128) * scales
        else:
            blocks = codes * scales + _ungrouped(self.minima).float()[..., None]
        held = blocks.reshape(self.out_features, self.in_features)
        return held if self.inv_smooth is None else held * self.inv_smooth

    @functools.cached_property
    def row_norms_sq(self) -> torch.Tensor:  # [out]
        return self.dequantized().square().sum(dim=1)

    @functools.cached_property
    def spec(self) -> LinearSpec:
        """This linear's weights as the kernel takes them, with no LoRA term (bound once: a call then passes 6
        arguments, not 19)."""
        return LinearSpec(
            weight=self.weight.data_ptr(), scales=self.scales.data_ptr(),
            minima=None if self.minima is None else self.minima.data_ptr(),
            bias=None if self.bias is None else self.bias.data_ptr(),
            input_scale=None if self.inv_smooth is None else self.inv_smooth.data_ptr(),
            in_features=self.in_features, out_features=self.out_features, bits=self.bits,
        )

    def bind(self, low_rank: LowRank | None) -> LinearSpec:
        """`spec` with `low_rank`'s LoRA term (a [R, in] and b [R, out] for every row, or [B, R, ...] one per batch
        row; row-major), which must outlive the result; `spec` itself for None."""
        if low_rank is None:
            return self.spec
        a, b = low_rank.a, low_rank.b
        per_row, rank = a.dim() == 3, a.shape[-2]
        fits = (a.dtype == b.dtype and a.dtype in LOW_RANK_DTYPES and a.shape[-1] == self.in_features
                and b.shape[-1] == self.out_features and b.shape[-2] == rank and a.stride(-1) == b.stride(-1) == 1
                and (a.stride(-2) == self.in_features or rank == 1) and (b.stride(-2) == self.out_features or rank == 1)
                and (not per_row or (b.dim() == 3 and a.shape[0] == b.shape[0])))
        if not fits:
            raise ValueError(f"a LoRA term of {tuple(a.shape)} / {tuple(b.shape)} does not fit this linear")
        bound = LinearSpec.from_buffer_copy(self.spec)
        bound.lora_a, bound.lora_b, bound.rank, bound.lora_scale = a.data_ptr(), b.data_ptr(), rank, low_rank.scale
        bound.a_stride, bound.b_stride = (a.stride(0), b.stride(0)) if per_row else (0, 0)
        bound.lora_bf16 = a.dtype == torch.bfloat16
        return bound

    fuses_low_rank = True  # `__call__` takes a LoRA term (see `engine.lora.SiteBatch`)

    def __call__(self, x: torch.Tensor, low_rank: LowRank | None = None) -> torch.Tensor:  # [..., in] -> [..., out]
        """y = x @ W.T (+ b), plus `low_rank`'s scale * (x @ a.T) @ b per row of x [B, T, in] when given, computed in
        float in the same call: a LoRA expert then costs no torch operation of its own (two a linear otherwise:
        about 4 of a 21 ms int8 decode step with one r16 expert on SmolLM2)."""
        rows = x.reshape(-1, self.in_features).float().contiguous()  # [N, in]
        y = torch.empty(rows.shape[0], self.out_features)  # [N, out]
        spec = self.bind(low_rank)
        tokens = 1  # of x's rows share each batch row's expert
        if low_rank is not None and low_rank.a.dim() == 3:
            if x.dim() != 3 or low_rank.a.shape[0] != x.shape[0]:
                raise ValueError(f"a LoRA term for {low_rank.a.shape[0]} rows does not fit an input of "
                                 f"{tuple(x.shape)}")
            tokens = x.shape[1]
        if rows.shape[0] > 0 and self._kernel(ctypes.byref(spec), rows.data_ptr(), rows.shape[0], tokens,
                                              y.data_ptr(), torch.get_num_threads()):
            raise RuntimeError(f"block_gemm refused a [{rows.shape[0]}, {self.in_features}] input")
        return y.view(*x.shape[:-1], self.out_features).to(x.dtype)
