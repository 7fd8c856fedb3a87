"""Removing exact and near-duplicate training examples.

Duplicates waste steps and over-weight whatever they repeat. Two passes over `Example.key_text` (the
normalized user and assistant text), keeping the first occurrence:

- exact: equal sha256 of `key_text`;
- near: MinHash signatures over shingles, LSH banding to find candidate pairs, and an exact Jaccard check of
  the shingle sets on every candidate, so the banding only decides what gets compared, never what is
  removed. Shingles are word 5-grams for texts of at least 100 words and character 5-grams below that: one
  changed word removes 5 of the ~n word 5-grams from each side (Jaccard about 1 - 10/n), so under 100 words
  a single edit would already fall below the default 0.9, while it touches only a few character 5-grams.

Everything is seeded and built on `zlib.crc32` and numpy, so a dataset deduplicates the same way on every
run and machine; 10k examples take a few seconds.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import numpy as np

from moe_system.errors import DatasetError
from moe_system.training.data import Example

SHINGLE = 5
SHORT_WORDS = 100
NUM_PERM = 128
MAX_PAIRS = 5
_PRIME = np.uint64(4_294_967_291)  # the largest prime below 2**32: a*x + b stays below 2**64
_ROLL = np.uint64(0x100000001B3)
_CHUNK = 4096  # shingles per MinHash step, bounding the temporary (NUM_PERM x _CHUNK) array


@dataclass(frozen=True)
class DuplicatePair:
    """A removed example and the kept one it duplicates (`source:line` of each)."""

    kind: Literal["exact", "near"]
    removed: str
    kept: str
    similarity: float
    preview: str


@dataclass
class DedupReport:
    """What `dedup` removed; `pairs` holds the first few duplicates as examples."""

    total: int
    kept: int
    exact_removed: int
    near_removed: int
    near_threshold: float
    pairs: list[DuplicatePair] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.total} examples: removed {self.exact_removed} exact and {self.near_removed} near duplicates "
            f"(Jaccard >= {self.near_threshold:g}), kept {self.kept}"
        )


def dedup(examples: Sequence[Example], near_threshold: float = 0.9) -> tuple[list[Example], DedupReport]:
    """The examples without exact and near duplicates (first occurrence kept, order preserved)."""
    if not 0 < near_threshold <= 1:
        raise DatasetError(f"near-duplicate threshold must be in (0, 1], got {near_threshold}")
    bands, rows = _lsh_params(near_threshold)
    report = DedupReport(len(examples), 0, 0, 0, near_threshold)
    kept: list[Example] = []
    kept_shingles: list[np.ndarray] = []
    by_hash: dict[str, Example] = {}
    buckets: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]

    def record(kind: Literal["exact", "near"], removed: Example, original: Example, similarity: float) -> None:
        if len(report.pairs) < MAX_PAIRS:
            report.pairs.append(DuplicatePair(kind, removed.where, original.where, similarity, removed.key_text[:80]))

    for example in examples:
        original = by_hash.get(example.key_sha256)
        if original is not None:
            report.exact_removed += 1
            record("exact", example, original, 1.0)
            continue
        shingles = _shingles(example.key_text)
        signature = _minhash(shingles)
        keys = [signature[band * rows : (band + 1) * rows].tobytes() for band in range(bands)]
        candidates = sorted({i for band, key in enumerate(keys) for i in buckets[band].get(key, ())})
        match = next(
            ((i, s) for i in candidates if (s := _jaccard(shingles, kept_shingles[i])) >= near_threshold), None
        )
        if match is not None:
            report.near_removed += 1
            record("near", example, kept[match[0]], match[1])
            continue
        for band, key in enumerate(keys):
            buckets[band].setdefault(key, []).append(len(kept))
        by_hash[example.key_sha256] = example
        kept.append(example)
        kept_shingles.append(shingles)
    report.kept = len(kept)
    return kept, report


def _shingles(text: str) -> np.ndarray:
    """Sorted unique 32-bit hashes of the text's shingles (one shingle when the text is shorter than one)."""
    words = text.split()
    if len(words) >= SHORT_WORDS:
        units = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
        salt = 1
    else:
        units = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        salt = 2
    width = max(1, min(SHINGLE, len(units)))
    count = max(1, len(units) - width + 1)
    rolled = np.full(count, salt, dtype=np.uint64)
    for offset in range(min(width, len(units))):
        rolled = rolled * _ROLL + units[offset : offset + count]
    return np.unique(_mix64(rolled) >> np.uint64(32))


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads the rolling hash over all 64 bits (uint64 arithmetic wraps)."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The fixed (a, b) of the NUM_PERM hash functions (a * x + b) mod p."""
    rng = np.random.default_rng(0x5EED)
    a = rng.integers(1, int(_PRIME), NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, int(_PRIME), NUM_PERM, dtype=np.uint64)
    return a[:, None], b[:, None]


def _minhash(shingles: np.ndarray) -> np.ndarray:
    a, b = _permutations()
    signature = np.full(NUM_PERM, _PRIME, dtype=np.uint64)
    for start in range(0, len(shingles), _CHUNK):
        chunk = shingles[None, start : start + _CHUNK]
        signature = np.minimum(signature, ((a * chunk + b) % _PRIME).min(axis=1))
    return signature


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / (a.size + b.size - shared)


@cache
def _lsh_params(threshold: float) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= NUM_PERM: the fewest false candidates below the threshold among
    the choices that find a pair at the threshold with probability >= 99% (candidates are verified
    exactly, so a false candidate costs one Jaccard check while a missed pair stays in the data)."""
    s = np.linspace(0.0, threshold, 101)

    def cost(bands: int, rows: int) -> tuple[bool, float]:
        missed = (1.0 - threshold**rows) ** bands
        return missed > 0.01, float((1.0 - (1.0 - s**rows) ** bands).sum())

    pairs = [(bands, rows) for bands in range(1, NUM_PERM + 1) for rows in range(1, NUM_PERM // bands + 1)]
    return min(pairs, key=lambda pair: cost(*pair))
