"""The trainer's behaviours, one small class each, instead of one monolithic loop.

- `MetricsLog`: every `log_every` steps and every evaluation, one JSON line in `metrics.jsonl` (lines past a
  resumed step are dropped, so the file reads as if the run was never interrupted); a loss-curve PNG at the end.
- `Evaluation`: every `eval_every` steps, validation loss/perplexity and the task metric; keeps the **best**
  weights by the chosen metric in `best/`; saves a few generated answers per evaluation (`snapshots/`);
  early stopping after `early_stopping_patience` evaluations without improvement.
- `Checkpointing`: a full resumable checkpoint every `save_every` steps and at the end (`state.py`).
- `ResourceMonitor`: when the process's memory passes 90% of `memory_limit_mb`, halves the micro-batch
  (an optimizer step keeps its examples, so this only raises the accumulation; the update is unchanged).
- `EntropyStop`: tracks the entropy of the predicted distributions on labelled tokens and stops the run when
  it stays below `entropy_floor` for 3 logged steps in a row (a collapsed, over-confident model).
- `Curriculum`: orders the first epoch from easy to hard by a difficulty score.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import psutil
from safetensors.torch import save_file

from moe_system.durable import write_atomic
from moe_system.training.config import TrainConfig
from moe_system.training.state import TrainState, prune_checkpoints, save_checkpoint
from moe_system.training.trainer import Callback, Trainer

METRICS_FILE = "metrics.jsonl"


class MetricsLog(Callback):
    def on_train_start(self, trainer: Trainer) -> None:
        self.path = trainer.run_dir / METRICS_FILE
        if trainer.rank != 0:
            return
        trainer.run_dir.mkdir(parents=True, exist_ok=True)
        kept = []
        if self.path.exists():  # a resumed run: forget what was logged after the checkpoint
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line)["step"] <= trainer.state.step]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if trainer.state.step % trainer.config.run.log_every == 0:
            self._write({"kind": "train", **{k: v for k, v in logs.items() if k != "tokens_per_s"}}, trainer)

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, float], samples: list[dict[str, Any]]) -> None:
        self._write({"kind": "eval", "step": trainer.state.step, **metrics}, trainer)

    def on_train_end(self, trainer: Trainer) -> None:
        if trainer.rank == 0:
            plot_loss_curve(self.path, trainer.run_dir / "loss.png")

    def _write(self, record: dict[str, Any], trainer: Trainer) -> None:
        if trainer.rank != 0:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _better(metric: str, value: float, val_loss: float | None, state: TrainState) -> bool:
    """Whether this evaluation beats the best so far. A task accuracy on a few dozen items moves in coarse steps and
    often ties; a tie goes to the lower validation loss (the checkpoint that learned more of the same score)."""
    if state.best_value is None:
        return True
    if metric == "val_loss":
        return value < state.best_value
    if value != state.best_value:
        return value > state.best_value
    return val_loss is not None and state.best_val_loss is not None and val_loss < state.best_val_loss


class Evaluation(Callback):
    """Evaluates on schedule and at the end; tracks the best weights and early stopping."""

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        last = trainer.state.step >= trainer.total_steps
        if trainer.state.step % trainer.config.run.eval_every == 0 or last:
            self.run(trainer)

    def run(self, trainer: Trainer) -> dict[str, float]:
        metrics, samples = trainer.evaluate()
        run = trainer.config.run
        state = trainer.state
        value = metrics.get(run.best_metric)
        if value is not None:
            if _better(run.best_metric, value, metrics.get("val_loss"), state):
                state.best_value, state.best_step, state.bad_evals = value, state.step, 0
                state.best_val_loss = metrics.get("val_loss")
                if trainer.rank == 0:
                    _save_weights(trainer, trainer.run_dir / "best")
            else:
                state.bad_evals += 1
                if run.early_stopping_patience and state.bad_evals >= run.early_stopping_patience:
                    trainer.should_stop = (
                        f"early stop: {run.best_metric} did not improve for {state.bad_evals} evaluations"
                    )
        if samples and trainer.rank == 0:
            folder = trainer.run_dir / "snapshots"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"step-{state.step:06d}.json").write_text(
                json.dumps({"step": state.step, "metrics": metrics, "samples": samples}, ensure_ascii=False, indent=2),
                encoding="utf-8",
            )
        for callback in trainer.callbacks:
            callback.on_evaluate(trainer, metrics, samples)
        return metrics


class Checkpointing(Callback):
    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        done = trainer.state.step >= trainer.total_steps or trainer.should_stop is not None
        if trainer.rank == 0 and (trainer.state.step % trainer.config.run.save_every == 0 or done):
            if trainer.should_stop and trainer.state.stop_reason is None:
                trainer.state.stop_reason = trainer.should_stop
            folder = trainer.checkpoint_dir / f"step-{trainer.state.step:06d}"
            save_checkpoint(folder, trainer.state, trainer.trainable, trainer.optimizer)
            prune_checkpoints(trainer.checkpoint_dir, trainer.config.run.keep_checkpoints)


class ResourceMonitor(Callback):
    def __init__(self, limit_mb: int, threshold: float = 0.9) -> None:
        self.limit_bytes, self.threshold = limit_mb * 2**20, threshold
        self.events: list[tuple[int, int]] = []  # (step, new micro-batch)

    def on_step_begin(self, trainer: Trainer) -> None:
        if trainer.state.micro_batch > 1 and self.rss() > self.threshold * self.limit_bytes:
            trainer.state.micro_batch = max(1, trainer.state.micro_batch // 2)
            self.events.append((trainer.state.step, trainer.state.micro_batch))
            trainer.console.print(f"[yellow]memory near the limit: micro-batch -> {trainer.state.micro_batch}[/]")

    @staticmethod
    def rss() -> int:
        return psutil.Process().memory_info().rss


class EntropyStop(Callback):
    def __init__(self, floor: float, patience: int = 3) -> None:
        self.floor, self.patience, self.low = floor, patience, 0

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if "entropy" not in logs:
            return
        self.low = self.low + 1 if logs["entropy"] < self.floor else 0
        if self.low >= self.patience:
            trainer.should_stop = f"entropy collapse: below {self.floor} for {self.low} logged steps"


class Curriculum(Callback):
    """First epoch from easy to hard (steps ordered by their mean difficulty); later epochs shuffled."""

    def order_steps(self, trainer: Trainer, epoch: int, steps: list[list[int]]) -> list[list[int]]:
        if epoch != 0:
            return steps
        data = trainer.train_set
        ranked = sorted((i for step in steps for i in step), key=lambda i: (data[i].difficulty, i))
        size = trainer.step_examples
        return [ranked[i: i + size] for i in range(0, len(ranked), size)]


def default_callbacks(config: TrainConfig) -> list[Callback]:
    """The standard set for a config (evaluation runs before checkpointing, so a checkpoint holds its result)."""
    run = config.run
    callbacks: list[Callback] = [MetricsLog(), Evaluation(), Checkpointing()]
    if run.memory_limit_mb:
        callbacks.insert(0, ResourceMonitor(run.memory_limit_mb))
    if run.entropy_floor:
        callbacks.append(EntropyStop(run.entropy_floor))
    if run.curriculum:
        callbacks.append(Curriculum())
    return callbacks


def _save_weights(trainer: Trainer, folder: Path) -> None:
    tensors = {k: v.detach().contiguous() for k, v in trainer.trainable.items()}
    write_atomic(folder / "trainable.safetensors", lambda temp: save_file(tensors, temp))
    write_atomic(folder / "state.json", trainer.state.to_json())


def plot_loss_curve(metrics_path: Path, output: Path) -> None:
    """Training loss per step and validation loss per evaluation, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in metrics_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [(r["step"], r["loss"]) for r in records if r["kind"] == "train"]
    val = [(r["step"], r["val_loss"]) for r in records if r["kind"] == "eval" and "val_loss" in r]
    figure, axis = plt.subplots(figsize=(7, 4))
    if train:
        axis.plot(*zip(*train, strict=True), label="train loss")
    if val:
        axis.plot(*zip(*val, strict=True), "o-", label="validation loss")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("loss (nats / token)")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    plt.close(figure)
