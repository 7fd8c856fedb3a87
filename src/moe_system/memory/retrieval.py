"""Hybrid retrieval: lexical (the store's BM25 over Snowball stems) and vectors (all-MiniLM-L6-v2), fused by
reciprocal rank (RRF: score = sum of weight / (RRF_K + rank) over the two lists; see `fuse`).

Vectors of a conversation's chunks and facts are held in memory per conversation and kind (`VectorIndex`):
new rows are appended by id, and the whole index reloads only when the store's revision says rows were deleted
or superseded. At 750k tokens of history that is a few thousand 384-float rows: one exact matrix product in
torch (not numpy: right after the torch encoder, numpy's BLAS threads contend with torch's and double the time).
`IndexCache` holds the indexes of the most recently used conversations only (`memory.index_cache_conversations`);
an evicted conversation's index is rebuilt from the store when it is asked again.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from moe_system.data.lexicon import function_stems
from moe_system.memory.facts import VALUE_LIKE, sentences
from moe_system.memory.store import Kind, MemoryStore
from moe_system.text.embeddings import DIM
from moe_system.text.words import stems as text_stems

RRF_K = 60
VECTOR_WEIGHT = 0.5

# function words and question words: they match everything and find nothing (data/lexicon; stems)
_STOP = function_stems("function", "question")


def query_stems(text: str) -> list[str]:
    """The distinct stems of a query, without stop words (first occurrence order)."""
    return list(dict.fromkeys(s for s in text_stems(text) if s not in _STOP))


def to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


@dataclass
class VectorIndex:
    """The vectors of one conversation's chunks or facts, kept in step with the store. `refresh` and `nearest`
    hold the index's lock: the server answers requests from a thread pool, and two requests of one conversation
    must not append the same rows twice or rank a matrix whose ids are half extended."""

    kind: Kind
    revision: int = -1
    last_id: int = 0
    ids: list[int] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, DIM), dtype=np.float32))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def refresh(self, store: MemoryStore, conversation_id: str) -> None:
        with self.lock:
            revision = store.revision(conversation_id)
            if revision != self.revision:
                self.revision, self.last_id, self.ids = revision, 0, []
                self.matrix = np.zeros((0, DIM), dtype=np.float32)
            rows = store.vectors(conversation_id, self.kind, self.last_id)
            if rows:
                self.ids.extend(int(row_id) for row_id, _ in rows)
                fresh = np.frombuffer(b"".join(bytes(blob) for _, blob in rows), dtype=np.float32).reshape(-1, DIM)
                self.matrix = np.concatenate([self.matrix, fresh]) if len(self.matrix) else fresh.copy()
                self.last_id = self.ids[-1]

    def nearest(self, query: np.ndarray, limit: int) -> list[int]:
        """Ids of the `limit` most similar rows, best first."""
        with self.lock:
            ids, matrix = list(self.ids), self.matrix
        if not ids:
            return []
        import torch

        scores = torch.from_numpy(matrix) @ torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
        top = torch.topk(scores, min(limit, len(ids))).indices.tolist()  # [limit]
        return [ids[i] for i in top]


class IndexCache:
    """The `VectorIndex`es of at most `conversations` conversations, least recently used evicted first
    (thread-safe). An evicted conversation's index is rebuilt from the store on its next `refresh`."""

    def __init__(self, conversations: int) -> None:
        if conversations < 1:
            raise ValueError(f"an index cache holds at least one conversation, not {conversations}")
        self.conversations = conversations
        self._held: OrderedDict[str, dict[Kind, VectorIndex]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: str, kind: Kind) -> VectorIndex:
        """The conversation's index of `kind` (a new, empty one if it was not held), marked most recently used."""
        with self._lock:
            indexes = self._held.get(conversation_id)
            if indexes is None:
                indexes = self._held[conversation_id] = {}
                while len(self._held) > self.conversations:
                    self._held.popitem(last=False)
            else:
                self._held.move_to_end(conversation_id)
            return indexes.setdefault(kind, VectorIndex(kind))

    def drop(self, conversation_id: str) -> None:
        with self._lock:
            self._held.pop(conversation_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def __contains__(self, conversation_id: object) -> bool:
        with self._lock:
            return conversation_id in self._held


def fuse(lexical: Sequence[int], vectors: Sequence[int]) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of two id lists (best first each): (id, score), best first. The vector
    list counts `VECTOR_WEIGHT` as much: MiniLM is English-centric and blurs the names and numbers a memory is
    asked for, so on the benchmark's Russian and English questions BM25's order is the more precise one, and a
    hit of both lists still rises to the top."""
    scores: dict[int, float] = {}
    for weight, ranking in ((1.0, lexical), (VECTOR_WEIGHT, vectors)):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda pair: -pair[1])


_LABEL = re.compile(r"^(\[#\d+(?:[–-]\d+)? \w+\] )?(.*)$", re.DOTALL)


@lru_cache(maxsize=8192)
def _sentences_of(text: str) -> tuple[tuple[int, str, str, str, bool], ...]:
    """A retrieved text's sentences as `snippet` scores them: (line number, `[#turn role] ` label, sentence, the
    sentence case-folded as `normalize` folds it (without its NFKC pass), whether it holds a value). Cached by
    text: the same chunks and messages are retrieved again and again, and splitting them is most of the cost."""
    split = []
    for number, line in enumerate(text.split("\n")):
        label, body = _LABEL.match(line).groups()  # type: ignore[union-attr]
        for sentence in sentences(body):
            split.append((number, label or "", sentence, sentence.casefold().replace("ё", "е"),
                          bool(VALUE_LIKE.search(sentence))))
    return tuple(split)


def snippet(text: str, stems: Sequence[str], sentences_kept: int = 1) -> str:
    """The sentences of a retrieved text that contain the most query stems (at most `sentences_kept`, in their
    order, each keeping its `[#turn role]` label): many more hits fit the context than whole chunks would. Stems
    are looked up as substrings of the folded sentence (a stem is a word's prefix), which spares stemming every
    sentence of every hit; among equals, a sentence with a value in it (a number, a name, a quote) wins, since
    questions to a memory mostly ask for one."""
    scored = []
    for number, label, sentence, folded, valued in _sentences_of(text):
        score = sum(stem in folded for stem in stems)
        scored.append((score + 0.5 * bool(score and valued), number, label, sentence))
    best = sorted(scored, key=lambda item: -item[0])[:sentences_kept]
    parts: list[str] = []
    last_label = None
    for _, _, label, sentence in sorted(best, key=lambda item: item[1]):
        parts.append(sentence if label == last_label else f"{label}{sentence}")
        last_label = label
    return " … ".join(parts)
