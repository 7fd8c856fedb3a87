"""A running job's progress, read from its run folder (`MOE_HOME/runs/<expert>-<version>/`): the loss and
evaluation points of `metrics.jsonl` and the step count, exact when the request or the recipe gives `max_steps`,
otherwise estimated with the trainer's formula from the training split's size in `split_manifest.json`. A file
counts only once this attempt has rewritten it (the trainer does so on start): `stamp` tells."""

from __future__ import annotations

import json
import math
from contextlib import suppress
from pathlib import Path
from typing import Any

from moe_system.server.jobs.store import Job
from moe_system.training.callbacks import METRICS_FILE

SPLIT_MANIFEST = "split_manifest.json"  # written by `training.pipeline.run_recipe` before training starts
WATCHED = (METRICS_FILE, SPLIT_MANIFEST)

Stamp = tuple[int, int, int] | None


def stamp(path: Path) -> Stamp:
    """Enough of a file's stat to tell that it was rewritten or appended to (None: no file)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def stamps(run_dir: Path) -> dict[str, Stamp]:
    """The run folder's watched files as they are now (before a trainer starts: its baseline)."""
    return {name: stamp(run_dir / name) for name in WATCHED}


def refresh(job: Job, run_dir: Path, baseline: dict[str, Stamp]) -> None:
    """Update a running job's curve, step and step estimate from the run folder's files that changed since
    `baseline`."""
    metrics = run_dir / METRICS_FILE
    if (now := stamp(metrics)) is not None and now != baseline[METRICS_FILE]:
        job.loss, job.eval = read_metrics(metrics)
        job.step = int(max([point["step"] for point in job.loss + job.eval], default=job.step))
    manifest = run_dir / SPLIT_MANIFEST
    if job.planned_steps is None and (now := stamp(manifest)) is not None and now != baseline[SPLIT_MANIFEST]:
        job.estimated_steps = estimate_steps(manifest, job.epochs, job.step_examples)


def read_metrics(path: Path) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """The loss points ({step, loss}) and evaluation points ({step, val_loss, ...}) of a `metrics.jsonl`."""
    loss: list[dict[str, float]] = []
    evals: list[dict[str, float]] = []
    with suppress(FileNotFoundError):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the line the trainer is writing right now
            if record.get("kind") == "train" and "loss" in record:
                loss.append({"step": record["step"], "loss": _finite(record["loss"])})
            elif record.get("kind") == "eval":
                evals.append({key: _finite(value) for key, value in record.items() if key != "kind"})
    return loss, evals


def _finite(value: Any) -> Any:
    """A diverged run logs NaN or infinity, which JSON cannot carry: null instead."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def estimate_steps(manifest: Path, epochs: float, step_examples: int) -> int | None:
    """The trainer's step count (`Trainer.total_steps` without max_steps) for the split in `manifest`."""
    try:
        train = int(json.loads(manifest.read_text(encoding="utf-8"))["counts"]["train"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return max(1, math.ceil(epochs * math.ceil(train / step_examples)))
