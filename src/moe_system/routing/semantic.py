"""The semantic strategy: embedding similarity to each expert's example requests, with a threshold per
expert fitted on data.

A request's score for a label is the mean cosine similarity of its `TOP_K` nearest examples of that label
(embeddings from `text/embeddings.py`). The examples are `learned.training_set`'s (the experts' own requests and
requests for the base model). Each expert's threshold is fitted leave-one-out on the varied, hand-written
requests among them (an expert's own examples come from one generator and sit too close to each other
to calibrate on): the value that best separates that expert's requests from the rest (F1). An expert
answers when it has the best score and clears its threshold; otherwise the base model does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from moe_system.routing.decision import Candidate, RoutingDecision
from moe_system.routing.learned import BASE

TOP_K = 3


class SemanticRouter:
    """Nearest examples by embedding; `route(text)` returns a `RoutingDecision` (strategy "semantic")."""

    name = "semantic"

    def __init__(self, labels: Sequence[str], vectors: np.ndarray, thresholds: dict[str, float]) -> None:
        # each label's examples contiguous (slices, not masks); row i here is row order[i] of the input
        self.order = np.argsort(np.asarray(labels), kind="stable")
        self.labels = np.asarray(labels)[self.order]  # [examples]
        self.vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[self.order])  # [examples, dim], unit
        self.names = sorted(set(self.labels.tolist()))
        starts = np.searchsorted(self.labels, self.names)
        self._slices = [slice(int(a), int(b)) for a, b in zip(starts, [*starts[1:], len(self.labels)], strict=True)]
        self.thresholds = thresholds

    @classmethod
    def fit(
        cls, texts: Sequence[str], labels: Sequence[str], calibrate: Sequence[bool] | None = None
    ) -> SemanticRouter:
        """Embed the examples; fit thresholds on the rows `calibrate` marks (all rows when None)."""
        from moe_system.text.embeddings import encode

        router = cls(labels, encode(texts), {})
        chosen = np.asarray(calibrate, dtype=bool)[router.order] if calibrate is not None and any(calibrate) \
            else np.ones(len(texts), dtype=bool)
        rows = np.flatnonzero(chosen)
        similarities = router.vectors[rows] @ router.vectors.T  # [calibration rows, examples]
        similarities[np.arange(len(rows)), rows] = -np.inf  # leave one out
        scores = router._label_scores(similarities)  # [calibration rows, names]
        truth = router.labels[rows]
        for column, name in enumerate(router.names):
            if name != BASE:
                router.thresholds[name] = _best_threshold(scores[:, column], truth == name)
        return router

    def scores(self, vector: np.ndarray) -> dict[str, float]:
        """Mean similarity of the TOP_K nearest examples, per label, for one embedding [dim]."""
        import torch

        # torch, not numpy: right after the encoder, numpy's BLAS thread pool contends with torch's OpenMP
        # threads, which doubled the latency of a route (measured: 34 -> 76 ms p50 on 2 cores)
        similarities = (torch.from_numpy(self.vectors) @ torch.from_numpy(np.ascontiguousarray(vector))).numpy()
        row = self._label_scores(similarities[None, :])[0]  # [names]
        return dict(zip(self.names, row.tolist(), strict=True))

    def route(self, text: str, vector: np.ndarray | None = None) -> RoutingDecision:
        from moe_system.text.embeddings import encode

        scores = self.scores(encode([text])[0] if vector is None else vector)
        ranked = sorted(scores, key=lambda label: -scores[label])
        candidates = [Candidate(None if label == BASE else label, round(scores[label], 4)) for label in ranked]
        top = ranked[0]
        if top != BASE and scores[top] >= self.thresholds.get(top, 1.0):
            reason = f"nearest examples: {top} {scores[top]:.2f} (threshold {self.thresholds[top]:.2f})"
            return RoutingDecision(top, round(float(scores[top]), 4), candidates, self.name, reason)
        reason = f"nearest examples: {top if top != BASE else 'base model'} {scores[top]:.2f}"
        if top != BASE:
            reason += f", under its threshold {self.thresholds.get(top, 1.0):.2f}"
        return RoutingDecision(None, round(float(scores.get(BASE, 1 - scores[top])), 4), candidates, self.name, reason)

    def _label_scores(self, similarities: np.ndarray) -> np.ndarray:
        """[queries, examples] similarities -> [queries, names] mean of the TOP_K best per label."""
        out = np.empty((similarities.shape[0], len(self.names)), dtype=np.float32)
        for column, rows in enumerate(self._slices):
            block = similarities[:, rows]
            k = min(TOP_K, block.shape[1])
            out[:, column] = np.partition(block, -k, axis=1)[:, -k:].mean(axis=1)
        return out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"vectors": self.vectors}, str(folder / "semantic.safetensors"),
                  metadata={"labels": "\n".join(self.labels.tolist()),
                            "thresholds": "\n".join(f"{k}\t{v!r}" for k, v in self.thresholds.items())})

    @classmethod
    def load(cls, folder: Path) -> SemanticRouter:
        from safetensors import safe_open

        path = str(folder / "semantic.safetensors")
        with safe_open(path, framework="numpy") as handle:
            meta = handle.metadata()
        thresholds = {k: float(v) for k, v in (line.split("\t") for line in meta["thresholds"].splitlines())}
        return cls(meta["labels"].split("\n"), load_file(path)["vectors"], thresholds)


def _best_threshold(scores: np.ndarray, positive: np.ndarray) -> float:
    """The cut on `scores` with the best F1 for `positive` (midpoints between sorted scores)."""
    order = np.sort(np.unique(scores))
    cuts = (order[1:] + order[:-1]) / 2 if len(order) > 1 else order
    best, best_f1 = float(cuts[0]), -1.0
    for cut in cuts:
        predicted = scores >= cut
        tp = float(np.sum(predicted & positive))
        f1 = 2 * tp / max(float(np.sum(predicted) + np.sum(positive)), 1.0)
        if f1 > best_f1:
            best, best_f1 = float(cut), f1
    return best
