"""The dev sets (`data/dev/`): hand-written sql, python and math items, English and Russian, for choosing a training
checkpoint or a prompt pattern. They are never trained on and never a reported score: the field sets
(`data/field/`) are what a score is reported on, and these stay apart from both them and the generators.

    from moe_system.data.dev import dev_file
    from moe_system.training.evaluation import load_items
    items = load_items(dev_file("sql"), "sql")   # 40 items, scored by `moe eval`'s own scorers

Python items carry a reference `solution`, used only to check the set; `build_prompt` shows the model the `prompt`
alone.
"""

from __future__ import annotations

from pathlib import Path

from moe_system.data.common import DataError

DEV_DIR: Path = Path(__file__).resolve().parent


def dev_tasks() -> list[str]:
    """The tasks that have a dev set, sorted: ["math", "python", "sql"]."""
    return sorted(path.stem for path in DEV_DIR.glob("*.jsonl"))


def dev_file(task: str) -> Path:
    """The dev set of `task` (JSONL, the format `moe eval` reads); a one-line `DataError` for a task without one."""
    if task not in dev_tasks():
        raise DataError(f"no dev set for task {task!r}: choose one of {', '.join(dev_tasks())}")
    return DEV_DIR / f"{task}.jsonl"


__all__ = ["DEV_DIR", "dev_file", "dev_tasks"]
