"""Drawing code of the class tasks (their wording and reference classes are in `classes.yaml`): each draws a sequence
of method calls and computes what every call must return from a model of its own (a plain list, dict or number),
so running the tests really checks the shown class.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moe_system.data.python.tasks import catalog


@dataclass(frozen=True)
class Step:
    """One method call of a test: `kind` "check" (its result must equal `value`), "call" (its result is not
    checked), "raises" (it must raise the exception named `value`) or "len" (`len(obj)` must equal `value`)."""

    method: str
    args: tuple[Any, ...]
    kind: str
    value: Any = None


@dataclass(frozen=True)
class Scenario:
    """The constructor's arguments and the calls that follow."""

    init: tuple[Any, ...]
    steps: list[Step] = field(default_factory=list)


ClassDraw = Callable[[random.Random], Scenario]
CLASS_DRAWS: dict[str, ClassDraw] = {}  # class task name -> its drawing code


def class_draws(fn: ClassDraw) -> ClassDraw:
    """Register a class task's drawing code under its name (the function's name without the leading underscore)."""
    CLASS_DRAWS[fn.__name__.lstrip("_")] = fn
    return fn


def _item(rng: random.Random) -> Any:
    return rng.choice([rng.randint(-5, 99), rng.choice(catalog().items)])


@class_draws
def _stack(rng: random.Random) -> Scenario:
    model: list[Any] = []
    steps = [Step("is_empty", (), "check", True), Step("peek", (), "check", None)]
    for _ in range(rng.randint(6, 10)):
        if model and rng.random() < 0.4:
            steps.append(Step("pop", (), "check", model[-1]))
            model = model[:-1]
        else:
            item = _item(rng)
            steps.append(Step("push", (item,), "call"))
            model = [*model, item]
        if rng.random() < 0.3:
            steps.append(Step("peek", (), "check", model[-1] if model else None))
    steps.append(Step("size", (), "check", len(model)))
    steps.extend(Step("pop", (), "check", value) for value in reversed(model))
    steps += [Step("is_empty", (), "check", True), Step("pop", (), "raises", "IndexError")]
    return Scenario((), steps)


@class_draws
def _queue(rng: random.Random) -> Scenario:
    model: list[Any] = []
    steps = [Step("", (), "len", 0), Step("front", (), "check", None)]
    for _ in range(rng.randint(6, 10)):
        if model and rng.random() < 0.4:
            steps.append(Step("dequeue", (), "check", model[0]))
            model = model[1:]
        else:
            item = _item(rng)
            steps.append(Step("enqueue", (item,), "call"))
            model = [*model, item]
    steps += [Step("", (), "len", len(model)), Step("front", (), "check", model[0] if model else None)]
    steps.extend(Step("dequeue", (), "check", value) for value in model)
    steps.append(Step("dequeue", (), "raises", "IndexError"))
    return Scenario((), steps)


@class_draws
def _counter(rng: random.Random) -> Scenario:
    start = rng.choice([0, 0, rng.randint(1, 10)])
    value = start
    steps = [Step("value", (), "check", start)]
    for _ in range(rng.randint(5, 9)):
        step = rng.choice([None, None, rng.randint(1, 5)])
        by = 1 if step is None else step
        if rng.random() < 0.55:
            value += by
            steps.append(Step("increment", () if step is None else (step,), "check", value))
        else:
            value = value - by if value - by > 0 else 0
            steps.append(Step("decrement", () if step is None else (step,), "check", value))
    steps += [Step("value", (), "check", value), Step("reset", (), "call"), Step("value", (), "check", start),
              Step("decrement", (start + 3,), "check", 0)]  # fmt: skip
    return Scenario((start,) if start else (), steps)


@class_draws
def _bank_account(rng: random.Random) -> Scenario:
    start = balance = rng.choice([0, rng.randint(10, 500)])
    history: list[tuple[str, int]] = []
    steps = [Step("balance", (), "check", balance)]
    for _ in range(rng.randint(4, 8)):
        amount = rng.randint(1, 300)
        if rng.random() < 0.5:
            balance += amount
            history.append(("deposit", amount))
            steps.append(Step("deposit", (amount,), "check", balance))
        elif amount <= balance:
            balance -= amount
            history.append(("withdraw", amount))
            steps.append(Step("withdraw", (amount,), "check", balance))
        else:
            steps.append(Step("withdraw", (amount,), "raises", "ValueError"))
    steps += [Step("withdraw", (balance + rng.randint(1, 50),), "raises", "ValueError"),
              Step(rng.choice(["deposit", "withdraw"]), (rng.choice([0, -5]),), "raises", "ValueError"),
              Step("balance", (), "check", balance), Step("history", (), "check", history)]  # fmt: skip
    owner = rng.choice(["Ann", "Bob", "Olga", "Иван"])
    return Scenario((owner, start) if start else (owner,), steps)


@class_draws
def _todo_list(rng: random.Random) -> Scenario:
    titles = rng.sample(["buy milk", "call mom", "write report", "fix bug", "read book", "помыть посуду", "gym"], 5)
    done: dict[str, bool] = {}
    steps = [Step("progress", (), "check", 0.0), Step("pending", (), "check", [])]
    for title in titles[: rng.randint(3, 5)]:
        done.setdefault(title, False)
        steps.append(Step("add", (title,), "check", len(done)))
        if rng.random() < 0.3:
            steps.append(Step("add", (title,), "check", len(done)))
    for title in rng.sample(list(done), rng.randint(1, len(done))):
        done[title] = True
        steps.append(Step("done", (title,), "call"))
    steps += [Step("pending", (), "check", [t for t, finished in done.items() if not finished]),
              Step("progress", (), "check", sum(done.values()) / len(done)),
              Step("done", ("no such task",), "raises", "KeyError")]  # fmt: skip
    return Scenario((), steps)
