"""The learned strategy: a linear classifier over `features.Vectorizer` vectors, fitted from the installed
experts' own example requests plus requests that belong to the base model.

Fitting data (`training_set`): every profile's examples (the package's `examples/prompts.jsonl` and manifest
examples) labelled with the expert; the bundled routing examples (`data/routing/train.jsonl`) whose label is
an installed expert or the base model (those for experts not installed are left out); and, for every expert
keyword, questions *about* it ("What is a join?", "Что такое запрос?") labelled base, since the routing
convention sends those to the base model. Base-model requests that name only languages no installed expert
covers are left out: the rules settle those (`text/languages.py`), and as examples they would teach the classifier
that "write a function" means the base model. The held-out `test.jsonl` is never used here.

Multinomial logistic regression (scikit-learn, class-balanced) is fitted once per registry revision; the
vocabulary, idf, weights and labels are stored as JSON + safetensors (`save` / `load`), and prediction is a
sparse dot product in numpy (tens of microseconds).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from moe_system.routing.decision import Candidate, RoutingDecision
from moe_system.routing.evaluation import bundled_split
from moe_system.routing.features import Vectorizer
from moe_system.routing.profiles import ExpertProfile
from moe_system.text.languages import covered_languages, uncovered

BASE = "__base__"  # the base model's label inside stored classifiers (None in decisions)
ABOUT_TEMPLATES = ("What is {k}?", "Explain {k}.", "Why is {k} useful?", "Что такое {k}?", "Объясни, что такое {k}.")
BUNDLED_WEIGHT = 1.0
_C = 16.0  # inverse regularization: chosen on the bundled training split by cross-validation (see routing docs)


def bundled_examples(split: str = "train") -> list[tuple[str, str | None]]:
    """(text, expert or None) of the bundled routing examples."""
    return [(example.text, example.expert) for example in bundled_split(split)]


@dataclass
class TrainingSet:
    """Texts, their labels (expert names, `BASE`) and sample weights."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    varied: list[bool] = field(default_factory=list)  # hand-written, varied requests (calibrate on these)

    def add(self, texts: Sequence[str], label: str, weight: float, varied: bool = False) -> None:
        self.texts.extend(texts)
        self.labels.extend([label] * len(texts))
        self.weights.extend([weight] * len(texts))
        self.varied.extend([varied] * len(texts))


def training_set(profiles: Sequence[ExpertProfile],
                 bundled: Sequence[tuple[str, str | None]] | None = None) -> TrainingSet:
    """What the learned strategies fit on; see the module doc. An expert's own examples are many and
    alike (one generator, one style), the bundled requests few and varied: each group gets the same total
    weight per label, so style does not outvote intent. `bundled` replaces the bundled training split
    (cross-validation fits on part of it)."""
    names = {p.name for p in profiles}
    covered = covered_languages(k for p in profiles for k in p.keywords)
    data = TrainingSet()
    for profile in profiles:
        data.add(profile.examples, profile.name, BUNDLED_WEIGHT * 100 / max(len(profile.examples), 100))
        data.add([t.format(k=k) for k in profile.keywords for t in ABOUT_TEMPLATES], BASE, 1.0)
    for text, expert in bundled_examples("train") if bundled is None else bundled:
        if (expert is None and not uncovered(text, covered)) or expert in names:
            data.add([text], expert or BASE, BUNDLED_WEIGHT, varied=True)
    return data


class LinearRouter:
    """A fitted classifier: `probabilities(text)` per label, `route(text)` as a `RoutingDecision`."""

    name = "learned"

    def __init__(self, vectorizer: Vectorizer, labels: Sequence[str], weights: np.ndarray, bias: np.ndarray) -> None:
        self.vectorizer = vectorizer
        self.labels = list(labels)
        # C order: scikit-learn may hand over Fortran-ordered weights, which safetensors would store scrambled
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)  # [labels, features]
        self.bias = np.ascontiguousarray(bias, dtype=np.float32)  # [labels]

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], weights: Sequence[float] | None = None,
            c: float = _C) -> LinearRouter:
        from sklearn.linear_model import LogisticRegression

        vectorizer = Vectorizer.fit(texts)
        classes = sorted(set(labels))
        if len(classes) == 1:  # nothing to tell apart: every request gets this label
            return cls(vectorizer, classes, np.zeros((1, len(vectorizer.vocabulary))), np.zeros(1))
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        model.fit(vectorizer.matrix(texts), labels, sample_weight=None if weights is None else np.asarray(weights))
        coef, bias = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # scikit-learn keeps one row for two classes: spell out both
            coef, bias = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-bias[0] / 2, bias[0] / 2])
        return cls(vectorizer, [str(c) for c in model.classes_], coef, bias)

    def probabilities(self, text: str) -> dict[str, float]:
        indices, values = self.vectorizer.sparse(text)
        logits = self.weights[:, indices] @ values + self.bias  # [labels]
        exp = np.exp(logits - logits.max())
        return dict(zip(self.labels, (exp / exp.sum()).tolist(), strict=True))

    def route(self, text: str) -> RoutingDecision:
        probs = self.probabilities(text)
        ranked = sorted(probs, key=lambda label: -probs[label])
        candidates = [Candidate(None if label == BASE else label, round(probs[label], 4)) for label in ranked]
        top = candidates[0]
        reason = f"classifier: {top.expert or 'base model'} {top.score:.2f}"
        if len(candidates) > 1:
            reason += f", next {candidates[1].expert or 'base model'} {candidates[1].score:.2f}"
        return RoutingDecision(top.expert, top.score, candidates, self.name, reason)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"idf": self.vectorizer.idf, "weights": self.weights, "bias": self.bias}
        save_file(tensors, str(folder / "weights.safetensors"))
        meta = {"labels": self.labels, "vocabulary": self.vectorizer.vocabulary}
        (folder / "classifier.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LinearRouter:
        tensors = load_file(str(folder / "weights.safetensors"))
        meta = json.loads((folder / "classifier.json").read_text(encoding="utf-8"))
        return cls(Vectorizer(meta["vocabulary"], tensors["idf"]), meta["labels"], tensors["weights"], tensors["bias"])
