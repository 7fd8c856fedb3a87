"""The arena that mixed-expert batches gather into: views do not overlap, chunks come back when the batch goes."""

from __future__ import annotations

import gc

import torch

from moe_system.engine.arena import ALIGN, CHUNK_ELEMENTS, Arena, ChunkPool


class _Owner:
    """Stands in for the batch whose lifetime the arena's chunks follow."""


def test_tensors_are_aligned_and_do_not_overlap() -> None:
    arena = Arena(torch.float32, torch.device("cpu"), ChunkPool())
    first, second = arena.empty(3, 5), arena.full((2, 7), 1.5)
    first.fill_(-1.0)
    assert torch.equal(second, torch.full((2, 7), 1.5))
    assert (second.data_ptr() - first.data_ptr()) % (ALIGN * 4) == 0
    assert second.data_ptr() >= first.data_ptr() + 15 * 4


def test_large_tensor_gets_its_own_chunk() -> None:
    arena = Arena(torch.float32, torch.device("cpu"), ChunkPool())
    arena.empty(4)
    big = arena.empty(CHUNK_ELEMENTS + 1)
    assert len(arena.chunks) == 2 and big.numel() == CHUNK_ELEMENTS + 1


def test_chunks_return_to_the_pool_when_the_owner_is_collected_and_are_reused() -> None:
    pool = ChunkPool()
    owner = _Owner()
    arena = Arena(torch.float32, torch.device("cpu"), pool)
    pointer = arena.empty(10).data_ptr()
    arena.release_with(owner)
    assert pool.idle_bytes == 0
    del owner
    gc.collect()
    assert pool.idle_bytes == CHUNK_ELEMENTS * 4
    again = Arena(torch.float32, torch.device("cpu"), pool)
    assert again.empty(10).data_ptr() == pointer
    assert pool.idle_bytes == 0


def test_chunk_made_under_inference_mode_is_writable_outside_it() -> None:
    pool = ChunkPool()
    owner = _Owner()
    with torch.inference_mode():
        arena = Arena(torch.float32, torch.device("cpu"), pool)
        arena.empty(8)
        arena.release_with(owner)
    del owner
    gc.collect()
    reused = Arena(torch.float32, torch.device("cpu"), pool).empty(8)
    reused.copy_(torch.arange(8, dtype=torch.float32))
    assert not reused.is_inference()


def test_pool_keeps_no_more_idle_memory_than_the_largest_arena_used() -> None:
    pool = ChunkPool()
    chunks = [torch.empty(CHUNK_ELEMENTS) for _ in range(3)]
    pool.give_back(chunks[:1], used_bytes=CHUNK_ELEMENTS * 4)
    pool.give_back(chunks[1:], used_bytes=CHUNK_ELEMENTS * 4 * 2)
    assert pool.idle_bytes == CHUNK_ELEMENTS * 4 * 2
