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
from importlib import resources
from pathlib import Path

import torch

BLOCK = 32  # input channels sharing one weight scale (and one activation scale)
CHUNK = 64  # in_features must be a multiple of it (the int4 layout packs two 32-channel blocks' steps a byte)
GROUP = 16  # output rows one vpdpbusd computes: out_features must be a multiple of it
SOURCE = "block_gemm.cpp"
_FEATURES = ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "f16c", "fma")
_FLAGS = ["-O3", "-std=c++17", "-shared", "-fPIC", "-fopenmp", "-mavx512f", "-mavx512bw", "-mavx512vl",
          "-mavx512dq", "-mavx512vnni", "-mf16c", "-mfma"]


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
    function = library.moe_block_linear
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                         ctypes.c_int64, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32]
    return library


def available() -> bool:
    """Whether block-quantized linears run on this machine."""
    return _library() is not None


def packable(weight: torch.Tensor) -> bool:
    """Whether `weight` [out, in] has a shape the kernel takes."""
    return (weight.dim() == 2 and weight.shape[1] % CHUNK == 0 and weight.shape[0] % GROUP == 0
            and weight.device.type == "cpu")


def quantize_blocks(weight: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight [out, in] -> (signed steps [out, in] int8, fp16 scales [out, in / 32]); weight ~ steps * scale.

    int8: scale = max|w| / 127 per block. int4: llama.cpp's Q4_0, scale = -(the block's value of largest
    magnitude) / 8, so that value lands exactly on -8 and the rest on -8..7."""
    w = weight.detach().float().reshape(weight.shape[0], -1, BLOCK)  # [out, blocks, 32]
    if bits == 8:
        scale = w.abs().amax(dim=2) / 127
        low, high = -127, 127
    elif bits == 4:
        loudest = w.gather(2, w.abs().argmax(dim=2, keepdim=True)).squeeze(2)  # [out, blocks], signed
        scale = -loudest / 8
        low, high = -8, 7
    else:
        raise ValueError(f"bits must be 8 or 4, not {bits}")
    scale16 = torch.where(scale.abs() < 2.0 ** -24, torch.full_like(scale, 2.0 ** -24), scale).half()
    steps = torch.round(w / scale16.float()[..., None]).clamp_(low, high).to(torch.int8)
    return steps.reshape(weight.shape), scale16


def pack(steps: torch.Tensor, scales: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed steps [out, in] and scales [out, in / 32] -> the kernel's layouts (see `csrc/block_gemm.cpp`): unsigned
    weights [out / 16, in / 4, 16, 4] (int8, + 128) or [out / 16, in / 8, 64] (int4, + 8, steps 2p and 2p + 1 in the
    low and high nibbles), and scales [out / 16, in / 32, 16]."""
    out, k = steps.shape
    unsigned = (steps.to(torch.int16) + (128 if bits == 8 else 8)).to(torch.uint8)
    grouped = unsigned.reshape(out // GROUP, GROUP, k // 4, 4).permute(0, 2, 1, 3)  # [G, in / 4, 16, 4]
    if bits == 8:
        weight = grouped.contiguous()
    else:
        pairs = grouped.reshape(out // GROUP, k // 8, 2, GROUP * 4)  # [G, in / 8, 2, 64]
        weight = (pairs[:, :, 0] | (pairs[:, :, 1] << 4)).contiguous()
    return weight, scales.reshape(out // GROUP, GROUP, -1).permute(0, 2, 1).contiguous()


def unpack(weight: torch.Tensor, scales: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of `pack`: (signed steps [out, in], scales [out, in / 32])."""
    groups = weight.shape[0]
    if bits == 8:
        unsigned = weight.to(torch.int16) - 128  # [G, in / 4, 16, 4]
    else:
        both = torch.stack((weight & 0x0F, weight >> 4), dim=2)  # [G, in / 8, 2, 64]
        unsigned = both.to(torch.int16).reshape(groups, -1, GROUP, 4) - 8  # [G, in / 4, 16, 4]
    steps = unsigned.permute(0, 2, 1, 3).reshape(groups * GROUP, -1).to(torch.int8)
    return steps, scales.permute(0, 2, 1).reshape(groups * GROUP, -1)


class BlockLinear:
    """y = x @ W.T (+ b) with W [out, in] held in `bits` (8 or 4) with one fp16 scale per 32 input channels.

    `row_norms_sq` [out] is sum_j W[i, j]^2 of the dequantized weight (DoRA's norms come from what runs)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None, bits: int = 8) -> None:
        if not packable(weight):
            raise ValueError(f"a block-quantized weight needs in_features a multiple of {CHUNK} and out_features of "
                             f"{GROUP}, got {tuple(weight.shape)}")
        library = _library()
        if library is None:
            raise RuntimeError("the block-quantized kernel does not run on this machine")
        self._kernel = library.moe_block_linear
        self.out_features, self.in_features = weight.shape
        self.bits = bits
        steps, scales = quantize_blocks(weight, bits)
        self.weight, self.scales = pack(steps, scales, bits)  # uint8 and fp16, laid out for the kernel
        self.bias = None if bias is None else bias.detach().float().clone().contiguous()

    def dequantized(self) -> torch.Tensor:
        """The weight this layer multiplies by, in float: [out, in]."""
        steps, scales = unpack(self.weight, self.scales, self.bits)
        blocks = steps.float().reshape(self.out_features, -1, BLOCK)  # [out, in / 32, 32]
        return (blocks * scales.float()[..., None]).reshape(self.out_features, self.in_features)

    @functools.cached_property
    def row_norms_sq(self) -> torch.Tensor:  # [out]
        return self.dequantized().square().sum(dim=1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [..., in] -> [..., out]
        rows = x.reshape(-1, self.in_features).float().contiguous()  # [N, in]
        y = torch.empty(rows.shape[0], self.out_features)  # [N, out]
        failed = rows.shape[0] > 0 and self._kernel(
            rows.data_ptr(), rows.shape[0], self.in_features, self.weight.data_ptr(), self.scales.data_ptr(),
            self.out_features, self.bits, None if self.bias is None else self.bias.data_ptr(), y.data_ptr(),
            torch.get_num_threads(),
        )
        if failed:
            raise RuntimeError(f"block_gemm refused a [{rows.shape[0]}, {self.in_features}] input")
        return y.view(*x.shape[:-1], self.out_features).to(x.dtype)
