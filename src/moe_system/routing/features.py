"""Sparse features of a request for the learned routers: stems, stem bigrams, character n-grams and a few
shape flags and the programming languages named (`text/languages.py`), weighted TF-IDF and L2-normalized.

Character n-grams (3-5, inside words) carry Russian morphology and typos that whole words miss; stem
bigrams carry intent ("write query", "напиш функц"); the flags carry what words do not: numbers, arithmetic,
a pasted schema, pasted code, a question about a topic. Features are strings, so a fitted vocabulary is plain
JSON and the weights plain tensors (`learned.py` stores them as safetensors, never pickled).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from moe_system.routing.rules import ABOUT_PHRASES
from moe_system.text.languages import named_languages
from moe_system.text.words import normalize, stem

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_ARITHMETIC = re.compile(r"\d\s*[-+*/×÷^%=]\s*[\d(a-zа-я]|\d\s*%|[a-zа-я]\s*[=+]\s*\d")
_SCHEMA = re.compile(r"(?m)^\s*[\"`\[]?[a-z_][\w$]*[\"`\]]?\s*\([^()]*\w[^()]*\)\s*;?\s*$|create\s+table")
_CODE = re.compile(r"```|\bdef\s+\w+\s*\(|\breturn\b|\bimport\s+\w|\bselect\b[^;]*\bfrom\b|\bprint\s*\(|[{};]\s*$",
                   re.M)
_ABOUT = re.compile("|".join(rf"(?:^|\b){re.escape(p)}\b" for p in ABOUT_PHRASES))
_COUNT_WORDS = re.compile(r"\b(?:how many|how much|сколько)\b")
CHAR_NGRAMS = (3, 4, 5)


@lru_cache(maxsize=16384)
def features(text: str) -> Counter[str]:
    """Feature counts of one request (cached: fitting several classifiers on one set computes them once;
    callers must not modify the result)."""
    norm = normalize(text)
    words = _WORD.findall(norm)
    stemmed = [stem(w) for w in words]
    counts: Counter[str] = Counter(f"w:{s}" for s in stemmed)
    counts.update(f"b:{a}_{b}" for a, b in itertools.pairwise(stemmed))
    for word in words:
        padded = f" {word} "
        for n in CHAR_NGRAMS:
            counts.update(f"c:{padded[i: i + n]}" for i in range(len(padded) - n + 1))
    numbers = len(_NUMBER.findall(norm))
    flags = {
        "f:number": numbers >= 1, "f:numbers2": numbers >= 2, "f:numbers4": numbers >= 4,
        "f:arithmetic": bool(_ARITHMETIC.search(norm)), "f:schema": bool(_SCHEMA.search(norm)),
        "f:code": bool(_CODE.search(norm)), "f:about": bool(_ABOUT.search(norm)), "f:question": "?" in norm,
        "f:short": len(words) <= 4, "f:long": len(words) >= 25,
        "f:count_without_numbers": numbers == 0 and bool(_COUNT_WORDS.search(norm)),
    }  # fmt: skip
    counts.update(name for name, on in flags.items() if on)
    counts.update(f"l:{name}" for name in named_languages(text))
    return counts


class Vectorizer:
    """TF-IDF over `features` with a fixed vocabulary: sublinear term frequency, smooth idf, L2 norm."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray) -> None:
        self.vocabulary = list(vocabulary)
        self.index = {feature: i for i, feature in enumerate(self.vocabulary)}
        self.idf = np.ascontiguousarray(idf, dtype=np.float32)  # [features]

    @classmethod
    def fit(cls, texts: Iterable[str], min_df: int = 2) -> Vectorizer:
        """Vocabulary of features seen in at least `min_df` texts (all of them for tiny corpora)."""
        docs = [features(t) for t in texts]
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        keep = min_df if len(docs) >= 20 else 1
        vocabulary = sorted(f for f, n in df.items() if n >= keep)
        idf = np.array([math.log((1 + len(docs)) / (1 + df[f])) + 1.0 for f in vocabulary], dtype=np.float32)
        return cls(vocabulary, idf)

    def sparse(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(indices, values) of one request's normalized TF-IDF vector."""
        found = [(self.index[f], 1.0 + math.log(c)) for f, c in features(text).items() if f in self.index]
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        indices = np.fromiter((i for i, _ in found), dtype=np.int64, count=len(found))
        values = np.fromiter((v for _, v in found), dtype=np.float32, count=len(found)) * self.idf[indices]
        return indices, values / max(float(np.linalg.norm(values)), 1e-12)

    def matrix(self, texts: Sequence[str]) -> object:
        """A scipy CSR matrix [texts, features] for fitting."""
        from scipy.sparse import csr_matrix

        rows, cols, vals = [], [], []
        for row, text in enumerate(texts):
            indices, values = self.sparse(text)
            rows.extend([row] * len(indices))
            cols.extend(indices.tolist())
            vals.extend(values.tolist())
        return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.vocabulary)), dtype=np.float32)
