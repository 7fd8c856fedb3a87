"""Routing accuracy on labelled requests: overall, per language, per class (precision and recall), with a
confusion matrix (and a PNG of it).

Files are JSONL, one `{"text", "expert" (name or null), "lang" (optional)}` a line, as in
`data/routing/test.jsonl`, the held-out split that nothing is fitted on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moe_system.errors import InvalidRequestError
from moe_system.routing.decision import RoutingDecision
from moe_system.text.words import is_russian

BASE_LABEL = "base"  # how the base model (null) is named in reports
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "routing"  # train.jsonl, test.jsonl (held out)


@dataclass
class RoutingExample:
    text: str
    expert: str | None
    lang: str


@dataclass
class RoutingReport:
    """Accuracy overall and per language, precision / recall per class, confusion counts, the misses."""

    n: int
    accuracy: float
    by_language: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion: dict[str, dict[str, int]]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "accuracy": self.accuracy, "by_language": self.by_language,
                "per_class": self.per_class, "confusion": self.confusion}  # fmt: skip


def load_examples(path: Path) -> list[RoutingExample]:
    """Read a routing JSONL file; errors name the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InvalidRequestError(f"{path}: cannot read ({err.strerror or err})") from err
    examples = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            raise InvalidRequestError(f"{path}:{number}: not valid JSON ({err})") from err
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or "expert" not in row:
            raise InvalidRequestError(f'{path}:{number}: needs {{"text": "...", "expert": name or null}}')
        expert = row["expert"]
        if expert is not None and not isinstance(expert, str):
            raise InvalidRequestError(f"{path}:{number}: expert must be a name or null")
        lang = row.get("lang") or ("ru" if is_russian(row["text"]) else "en")
        examples.append(RoutingExample(row["text"], expert, str(lang)))
    if not examples:
        raise InvalidRequestError(f"{path}: no examples")
    return examples


def bundled_split(split: str) -> list[RoutingExample]:
    """The bundled routing examples of `split` ("train" or "test")."""
    return load_examples(BUNDLED_DIR / f"{split}.jsonl")


def evaluate(route: Callable[[str], RoutingDecision], examples: Sequence[RoutingExample]) -> RoutingReport:
    """Route every example and compare with its label."""
    confusion: dict[str, Counter[str]] = {}
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    errors = []
    for example in examples:
        predicted = route(example.text).expert
        truth, guess = example.expert or BASE_LABEL, predicted or BASE_LABEL
        confusion.setdefault(truth, Counter())[guess] += 1
        total[example.lang] += 1
        if truth == guess:
            right[example.lang] += 1
        else:
            errors.append({"text": example.text, "expected": example.expert, "routed": predicted})
    labels = sorted({*confusion, *(g for row in confusion.values() for g in row)})
    per_class = {}
    for label in labels:
        tp = confusion.get(label, Counter())[label]
        predicted_as = sum(row[label] for row in confusion.values())
        actual = sum(confusion.get(label, Counter()).values())
        per_class[label] = {"precision": round(tp / predicted_as, 4) if predicted_as else 0.0,
                            "recall": round(tp / actual, 4) if actual else 0.0, "support": float(actual)}
    return RoutingReport(
        n=len(examples),
        accuracy=round(sum(right.values()) / len(examples), 4),
        by_language={lang: round(right[lang] / total[lang], 4) for lang in sorted(total)},
        per_class=per_class,
        confusion={t: {g: confusion.get(t, Counter())[g] for g in labels} for t in labels},
        errors=errors,
    )


def plot_confusion(report: RoutingReport, path: Path, title: str) -> Path:
    """Save the confusion matrix as a PNG (rows: expected, columns: routed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(report.confusion)
    counts = [[report.confusion[t][g] for g in labels] for t in labels]
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("routed to")
    ax.set_ylabel("expected")
    for i, row in enumerate(counts):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > max(map(max, counts)) / 2
                    else "black")  # fmt: skip
    ax.set_title(f"{title}\naccuracy {report.accuracy:.1%} on {report.n}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
