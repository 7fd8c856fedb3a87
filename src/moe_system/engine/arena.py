"""Memory for the tensors a mixed-expert batch gathers, reused from batches that finished.

Gathering a mixed batch writes every row's adapter matrices into new tensors (150 MB for 8 r16 experts on
SmolLM2-135M). Memory that fresh from the allocator comes from the OS, and the first touch of every 4 KiB page
is a page fault, which was most of what building cost (32 ms of it on a 2-core AMD EPYC, where copying the same
bytes into reused memory takes a few ms). So a batch carves its tensors out of large chunks (`Arena`), and the
chunks go back to a pool (`ChunkPool`) when the batch is dropped, for the next batch to reuse: the S-LoRA idea of
a unified memory pool, without its paging. The pool keeps at most as much idle memory as the largest batch used.

What batches free outside the pool goes back to the OS too: a scheduler maps large blocks for themselves
(`map_large_blocks`) and trims glibc's heaps every 30 s (`trim_heap`), so a long-running server stops growing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import threading
import weakref
from typing import Any

import torch

CHUNK_ELEMENTS = 2**22  # 16 MiB of float32 a chunk; a tensor larger than that gets a chunk of its own
ALIGN = 16  # elements: every tensor starts on a 64-byte boundary (float32), a cache line


class ChunkPool:
    """Idle chunks (flat 1-D tensors) by dtype and device, handed out to arenas and taken back."""

    def __init__(self) -> None:
        self._free: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        self._lock = threading.Lock()
        self.keep_bytes = 0  # the most one arena used: idle memory above that is released

    def take(self, dtype: torch.dtype, device: torch.device, elements: int) -> torch.Tensor:
        """A chunk of at least `elements`: the smallest idle one that fits, else a new one (a normal tensor even
        under `torch.inference_mode`, so a batch built outside it can write into a chunk made inside)."""
        with self._lock:
            free = self._free.get((dtype, device), [])
            fits = [chunk for chunk in free if chunk.numel() >= elements]
            if fits:
                chunk = min(fits, key=torch.Tensor.numel)
                free.remove(chunk)
                return chunk
        with torch.inference_mode(False):
            return torch.empty(elements, dtype=dtype, device=device)

    def give_back(self, chunks: list[torch.Tensor], used_bytes: int) -> None:
        """Return an arena's chunks; the oldest idle ones are released while more than `keep_bytes` are idle."""
        with self._lock:
            self.keep_bytes = max(self.keep_bytes, used_bytes)
            for chunk in chunks:
                self._free.setdefault((chunk.dtype, chunk.device), []).append(chunk)
            idle = sum(_nbytes(chunk) for free in self._free.values() for chunk in free)
            for free in self._free.values():
                while free and idle > self.keep_bytes:
                    idle -= _nbytes(free.pop(0))

    @property
    def idle_bytes(self) -> int:
        with self._lock:
            return sum(_nbytes(chunk) for free in self._free.values() for chunk in free)


POOL = ChunkPool()  # one per process: every backend's batches share it


class Arena:
    """Tensors for one batch, carved one after another out of chunks from `pool` (contents uninitialised, like
    `torch.empty`). Call `release_with(owner)` once: the chunks go back to the pool when `owner` is collected."""

    def __init__(self, dtype: torch.dtype, device: torch.device, pool: ChunkPool = POOL) -> None:
        self.dtype, self.device, self.pool = dtype, device, pool
        self.chunks: list[torch.Tensor] = []
        self._offset = 0  # into the last chunk

    def empty(self, *shape: int) -> torch.Tensor:
        elements = math.prod(shape)
        if not self.chunks or self._offset + elements > self.chunks[-1].numel():
            self.chunks.append(self.pool.take(self.dtype, self.device, max(CHUNK_ELEMENTS, elements)))
            self._offset = 0
        view = self.chunks[-1][self._offset: self._offset + elements].view(shape)
        self._offset += -(-elements // ALIGN) * ALIGN
        return view

    def full(self, shape: tuple[int, ...], value: float) -> torch.Tensor:
        return self.empty(*shape).fill_(value)

    def release_with(self, owner: object) -> None:
        weakref.finalize(owner, self.pool.give_back, self.chunks, sum(_nbytes(c) for c in self.chunks))


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


# ---- giving freed memory back

TRIM_EVERY_S = 30.0  # how often a busy scheduler hands the heaps' free pages back (`trim_heap`)
MMAP_THRESHOLD = 4 << 20  # blocks from this size up are mapped for themselves, and unmapped when freed
M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
_LIBC: list[Any] = []  # [glibc, or None where there is none], loaded on first use


def _glibc() -> Any:
    if not _LIBC:
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
        except OSError:
            libc = None
        _LIBC.append(libc if libc is not None and hasattr(libc, "malloc_trim") else None)
    return _LIBC[0]


def map_large_blocks() -> None:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD` for this process (a fixed value also stops glibc from raising
    it after each large free), so the large tensors of a batch go back to the OS when freed instead of leaving
    holes in the heaps; a no-op without glibc. On a 2-core AMD EPYC, 32 streams that hang up at random (`moe bench
    soak`, 4 minutes) grew 1.1% after warm-up at 1 MiB, 4.2% at 8 MiB, 7% with trims alone; 32 rows decoding
    together lost 20% of their tokens/s at 1 MiB (mapping and faulting in every activation), 2-3% at 4 or 8 MiB."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def trim_heap() -> None:
    """Hand the free pages inside glibc's heaps back to the OS (`malloc_trim(0)`; a no-op without glibc).

    Batches allocate and free tensors of many sizes (KV caches, logits, prefill activations). Once a large block
    was freed, glibc raises its mmap threshold (up to 32 MiB) and serves later large blocks from its heaps, where
    the holes they leave stay resident: under 32 streams that hang up at random, a server's RSS grew 12-20% over
    minutes after warm-up (`moe bench soak`) without ever being used again. A trim every `TRIM_EVERY_S` costs a
    few milliseconds between two decode steps."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
