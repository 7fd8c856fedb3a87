"""Field test sets: sql, python and math items written apart from the project's generators (see README.md and the
README of each set in this folder), to measure how the experts do on requests phrased as people phrase them.

They are scored only: never trained on, never used to pick checkpoints, patterns or thresholds. A training run
refuses data that contains them (`training.pipeline.prepare_data`), and `moe bench quality` reports them beside
the generator held-out score. They are read as any evaluation file is (`training.evaluation.field_items`).
"""

from __future__ import annotations

from pathlib import Path

FIELD_DIR = Path(__file__).parent
SCORING_ONLY = ("solution",)  # kept to check a set's own tests, never shown to a model


def field_tasks() -> list[str]:
    """The tasks that have a field set."""
    return sorted(path.stem for path in FIELD_DIR.glob("*.jsonl"))


def field_file(task: str) -> Path | None:
    """The field set of `task` (JSONL, the items `moe eval --file` reads), None when it has none."""
    path = FIELD_DIR / f"{task}.jsonl"
    return path if path.is_file() else None
