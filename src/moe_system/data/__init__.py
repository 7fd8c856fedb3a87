"""Offline generators of training and evaluation data for the starter experts (`sql`, `python`, `math`).

Every generator module has `generate(n, seed, lang="mix") -> list[dict]` (evaluation items, validated: SQL runs,
Python tests pass, math programs reproduce the answer) and `to_chat(item) -> dict` (the training example with
`messages` and `meta`). Items are English and Russian, about half each with `lang="mix"`, and deterministic for a
seed: train with seeds below 1000 and evaluate with seeds from 1000 up (`EVAL_SEED_MIN`).

    moe data generate sql --n 3000 --seed 0 -o sql-train.jsonl
    moe data generate sql --n 500 --seed 1000 --format eval -o sql-eval.jsonl
"""

from __future__ import annotations

from typing import Any, Protocol

from moe_system.data import math, python, sql
from moe_system.data.common import EVAL_SEED_MIN, LANGS, DataError


class Generator(Protocol):
    """What `GENERATORS` maps a task name to (each generator is a module)."""

    def generate(self, n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]: ...

    def to_chat(self, item: dict[str, Any]) -> dict[str, Any]: ...


GENERATORS: dict[str, Generator] = {"sql": sql, "python": python, "math": math}


def get_generator(task: str) -> Generator:
    """The generator for `task`, or a one-line `DataError` naming the known tasks."""
    if task not in GENERATORS:
        raise DataError(f"unknown task {task!r}: choose one of {', '.join(GENERATORS)}")
    return GENERATORS[task]


__all__ = ["EVAL_SEED_MIN", "GENERATORS", "LANGS", "DataError", "Generator", "get_generator"]
