"""The loaded-expert cache: adapters read on first use, kept in an LRU bounded by a RAM budget.

Switching experts never touches the base model: a cache hit hands back the already-converted tensors
(`AdapterWeights`), which the engine applies without merging. A miss reads the installed folder's
safetensors file and converts it (`adapters.load_adapter`, ~10 ms for a 20 MB LoRA). When the cached bytes
exceed the budget the least recently used experts are dropped (batches still running keep their own
references, so eviction never breaks a request). Thread-safe: the server's workers share one cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from moe_system.engine.lora import AdapterWeights, BaseLinear, Site
from moe_system.errors import ExpertError
from moe_system.experts.adapters import load_adapter
from moe_system.experts.layout import ADAPTER_KINDS


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    last_load_ms: float = 0.0


class ExpertCache:
    """LRU of `AdapterWeights` keyed by (name, version, folder, install stamp)."""

    def __init__(self, linears: Mapping[Site, BaseLinear], dtype: torch.dtype, budget_bytes: int) -> None:
        self.linears = linears
        self.dtype = dtype
        self.budget_bytes = budget_bytes
        self.stats = CacheStats()
        self._entries: OrderedDict[tuple[str, str, str, str], AdapterWeights] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return sum(adapter.nbytes for adapter in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str, version: str, kind: str, folder: Path, stamp: str = "") -> AdapterWeights:
        """The adapter of an installed expert, loading it on a miss; `stamp` (its `installed_at`) tells a
        reinstall of the same version (a retrained expert, in the same folder) from the weights cached before."""
        if kind not in ADAPTER_KINDS:
            raise ExpertError(f"expert '{name}' is of kind '{kind}', which cannot run as an adapter of the base model")
        if not self.linears:
            raise ExpertError("this base model runs on the generic backend, which cannot apply experts")
        key = (name, version, str(folder), stamp)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return cached
        started = time.perf_counter()
        adapter = load_adapter(folder, self.linears, name=name, dtype=self.dtype)  # outside the lock: ~10 ms
        with self._lock:
            self.stats.misses += 1
            self.stats.last_load_ms = (time.perf_counter() - started) * 1000
            self._entries[key] = adapter
            self._entries.move_to_end(key)
            self._evict(keep=key)
        return adapter

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _evict(self, keep: tuple[str, str, str, str]) -> None:
        total = self.nbytes
        while total > self.budget_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                break
            total -= self._entries.pop(oldest).nbytes
            self.stats.evictions += 1
