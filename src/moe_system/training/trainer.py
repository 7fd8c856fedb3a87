"""The training loop: our own, not Hugging Face's `Trainer`, and why.

- **Speed.** The loss only needs logits where there are labels (assistant tokens). We run the decoder once
  and apply the LM head (49k x 576 for SmolLM2, a fifth of the model's FLOPs per token) to the labelled
  positions only, instead of materialising [batch, seq, vocab] logits for every prompt token. Batches are
  bucketed by length to cut padding. `benchmarks/train.py` measures this against HF Trainer + PEFT.
- **Exact resume.** The data order is a pure function of (seed, epoch), the learning rate a pure function of
  the step, and a checkpoint (`state.py`) holds weights, optimizer moments, RNG states and the position in
  the epoch, so a run killed with `kill -9` and resumed ends with the same weights and metrics.
- **Batch-size independence.** An optimizer step always covers the same examples (`batch_size x grad_accum
  x processes` of them); the loss is the sum over their label tokens divided by the step's total label
  tokens. So splitting a step into smaller micro-batches (what the resource monitor does under memory
  pressure) or over several processes (`torchrun --nproc_per_node 2`: each rank takes its share, gradients
  are averaged across ranks) gives the same update as one process with the accumulation multiplied.
- **Callbacks** (`callbacks.py`) do logging, checkpoints, evaluation snapshots, early stopping, the
  resource monitor, entropy tracking and curriculum ordering; the loop only calls them.

    trainer = Trainer(model, train, val, config, run_dir, pad_id, callbacks=default_callbacks(config))
    state = trainer.fit()            # resumes from run_dir/checkpoints when there is one
"""

from __future__ import annotations

import atexit
import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from moe_system.errors import DatasetError
from moe_system.training.config import TrainConfig
from moe_system.training.encode import EncodedExample, collate
from moe_system.training.state import TrainState, latest_checkpoint, load_checkpoint

TaskEval = Callable[["Trainer"], tuple[dict[str, float], list[dict[str, Any]]]]


class Callback:
    """Hooks the loop calls; override what you need. `trainer.state`, `.config` and `.run_dir` are there."""

    def on_train_start(self, trainer: Trainer) -> None: ...

    def order_steps(self, trainer: Trainer, epoch: int, steps: list[list[int]]) -> list[list[int]]:
        return steps

    def on_step_begin(self, trainer: Trainer) -> None: ...

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None: ...

    def on_evaluate(self, trainer: Trainer, metrics: dict[str, float], samples: list[dict[str, Any]]) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...


class Trainer:
    """Trains the parameters of `model` that require gradients (an adapter, or a whole small model)."""

    def __init__(
        self,
        model: torch.nn.Module,
        train: Sequence[EncodedExample],
        val: Sequence[EncodedExample],
        config: TrainConfig,
        run_dir: Path,
        pad_id: int,
        callbacks: Sequence[Callback] = (),
        task_eval: TaskEval | None = None,
        console: Console | None = None,
    ) -> None:
        if not train:
            raise DatasetError("no training examples are left: are they all longer than optim.max_len, or is the "
                               "training set empty?")
        self.model = model
        self.train_set, self.val_set = list(train), list(val)
        self.config, self.run_dir, self.pad_id = config, run_dir, pad_id
        self.callbacks = list(callbacks)
        self.task_eval = task_eval
        self.console = console or Console(stderr=True)
        self.trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
        if not self.trainable:
            raise ValueError("the model has no trainable parameters")
        self.device = next(iter(self.trainable.values())).device  # batches follow the model (CPU or CUDA)
        self.rank, self.world = _distributed(self.device)
        optim = config.optim
        self.optimizer = torch.optim.AdamW(
            list(self.trainable.values()), lr=optim.lr, weight_decay=optim.weight_decay, foreach=True
        )
        self.step_examples = optim.batch_size * optim.grad_accum * self.world  # examples per optimizer step
        self.steps_per_epoch = math.ceil(len(self.train_set) / self.step_examples)
        self.total_steps = optim.max_steps or max(1, math.ceil(optim.epochs * self.steps_per_epoch))
        self.state = TrainState(micro_batch=optim.batch_size)
        self.checkpoint_dir = run_dir / "checkpoints"
        self.should_stop: str | None = None
        self.resumed_from: Path | None = None

    # ---- public

    def fit(self, resume: bool = True) -> TrainState:
        """Train to the end (or an early stop); resumes from the newest checkpoint when `resume`."""
        _seed_everything(self.config.run.seed, self.config.run.deterministic)
        checkpoint = latest_checkpoint(self.checkpoint_dir) if resume else None
        if checkpoint is not None:
            self.state = load_checkpoint(checkpoint, self.trainable, self.optimizer)
            self.resumed_from = checkpoint
        for callback in self.callbacks:
            callback.on_train_start(self)
        self.model.train()
        with self._progress() as progress:
            task = progress.add_task("training", total=self.total_steps, completed=self.state.step)
            while self.state.step < self.total_steps and self.state.stop_reason is None:
                steps = self._epoch_steps(self.state.epoch)
                for indices in steps[self.state.step_in_epoch:]:
                    self._optimizer_step(indices)
                    progress.update(task, completed=self.state.step,
                                    description=f"training · loss {self._last_loss:.3f}")
                    if self.should_stop and self.state.stop_reason is None:
                        self.state.stop_reason = self.should_stop
                    if self.state.step >= self.total_steps or self.state.stop_reason:
                        break
                else:
                    self.state.epoch += 1
                    self.state.step_in_epoch = 0
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.state

    @torch.no_grad()
    def evaluate(self) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """Validation loss/perplexity (token-weighted over the whole val set) and the task metric."""
        self.model.eval()
        metrics: dict[str, float] = {}
        if self.val_set:
            total, tokens = 0.0, 0
            for start in range(0, len(self.val_set), self.state.micro_batch):
                batch = self._batch(self.val_set[start: start + self.state.micro_batch])
                loss_sum, count, _ = self._loss_sum(batch, with_entropy=False)
                total, tokens = total + float(loss_sum), tokens + count
            metrics["val_loss"] = total / max(tokens, 1)
            metrics["val_ppl"] = math.exp(min(metrics["val_loss"], 50.0))
        samples: list[dict[str, Any]] = []
        if self.task_eval is not None:
            task_metrics, samples = self.task_eval(self)
            metrics.update(task_metrics)
        self.model.train()
        return metrics, samples

    def lr_at(self, step: int) -> float:
        """Linear warmup then cosine decay to `min_lr_ratio * lr` (a pure function of the step)."""
        optim = self.config.optim
        warmup = int(optim.warmup_ratio * self.total_steps)
        if step < warmup:
            return optim.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, self.total_steps - warmup)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return optim.lr * (optim.min_lr_ratio + (1 - optim.min_lr_ratio) * cosine)

    # ---- one optimizer step

    _last_loss: float = float("nan")

    def _optimizer_step(self, indices: list[int]) -> None:
        for callback in self.callbacks:
            callback.on_step_begin(self)
        started = time.perf_counter()
        mine = sorted(indices[self.rank:: self.world], key=lambda i: len(self.train_set[i].input_ids))
        tokens = sum(_label_count(self.train_set[i]) for i in indices)  # the whole step, every rank
        self.optimizer.zero_grad(set_to_none=True)
        loss_total, entropy = 0.0, None
        log_now = (self.state.step + 1) % self.config.run.log_every == 0
        for start in range(0, len(mine), self.state.micro_batch):
            batch = self._batch([self.train_set[i] for i in mine[start: start + self.state.micro_batch]])
            loss_sum, _, batch_entropy = self._loss_sum(batch, with_entropy=log_now and entropy is None)
            (loss_sum * self.world / max(tokens, 1)).backward()  # ranks' gradients are averaged below
            loss_total += float(loss_sum.detach())
            entropy = batch_entropy if batch_entropy is not None else entropy
        if self.world > 1:
            loss_total = _all_reduce_gradients(self.trainable, loss_total)
        if self.config.optim.max_grad_norm is not None:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.trainable.values(), self.config.optim.max_grad_norm))
        else:
            grad_norm = float("nan")
        lr = self.lr_at(self.state.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.state.step += 1
        self.state.step_in_epoch += 1
        self.state.tokens += tokens
        self._last_loss = loss_total / max(tokens, 1)
        logs = {"step": self.state.step, "epoch": self.state.epoch, "loss": self._last_loss, "lr": lr,
                "grad_norm": grad_norm, "tokens": self.state.tokens, "micro_batch": self.state.micro_batch,
                "tokens_per_s": tokens / max(time.perf_counter() - started, 1e-9)}
        if entropy is not None:
            logs["entropy"] = entropy
        for callback in self.callbacks:
            callback.on_step_end(self, logs)

    def _batch(self, examples: Sequence[EncodedExample]) -> dict[str, torch.Tensor]:
        """Padded tensors of `examples` on the model's device."""
        return {key: tensor.to(self.device) for key, tensor in collate(examples, self.pad_id).items()}

    def _loss_sum(
        self, batch: dict[str, torch.Tensor], with_entropy: bool
    ) -> tuple[torch.Tensor, int, float | None]:
        """Sum of token losses over the batch's labelled positions, their count, and (optionally) the mean
        entropy of the predicted distributions there. The LM head runs on labelled positions only."""
        core = _core_model(self.model)
        labels = batch["labels"][:, 1:]  # [B, T-1]: position t predicts token t+1
        keep = labels != -100
        device = batch["input_ids"].device.type
        with torch.autocast(device, dtype=torch.bfloat16, enabled=self.config.optim.precision == "bf16"):
            hidden = core.get_decoder()(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state  # [B, T, d_model]
            logits = core.get_output_embeddings()(hidden[:, :-1][keep])  # [N, V]
        logits = logits.float()
        targets = labels[keep]  # [N]
        loss_sum = F.cross_entropy(logits, targets, reduction="sum")
        entropy = None
        if with_entropy and targets.numel():
            with torch.no_grad():
                log_p = F.log_softmax(logits, dim=-1)
                entropy = float(-(log_p.exp() * log_p).sum(-1).mean())
        return loss_sum, int(targets.numel()), entropy

    # ---- data order

    def _epoch_steps(self, epoch: int) -> list[list[int]]:
        """The epoch's optimizer steps (lists of example indices): shuffled with (seed, epoch), grouped by
        length so that micro-batches waste little padding; callbacks may reorder (curriculum)."""
        rng = random.Random(f"{self.config.run.seed}:{epoch}")
        order = sorted(range(len(self.train_set)), key=lambda i: (len(self.train_set[i].input_ids), rng.random()))
        chunk = self.step_examples * 16  # pools of 16 steps share a length band, then pools are shuffled
        pools = [order[i: i + chunk] for i in range(0, len(order), chunk)]
        rng.shuffle(pools)
        steps: list[list[int]] = []
        for pool in pools:
            rng.shuffle(pool)
            steps.extend(pool[i: i + self.step_examples] for i in range(0, len(pool), self.step_examples))
        rng.shuffle(steps)
        for callback in self.callbacks:
            steps = callback.order_steps(self, epoch, steps)
        return steps

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=self.console, disable=self.rank != 0, transient=False,
        )


# ---- helpers


def _core_model(model: torch.nn.Module) -> Any:
    """The transformers model under a PEFT wrapper (LoRA layers stay injected in it)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def _label_count(example: EncodedExample) -> int:
    return sum(1 for label in example.labels[1:] if label != -100)


def _seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def _distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size); joins the process group when launched by `torchrun` / `accelerate launch`, with the
    backend of the device the gradients live on (nccl for CUDA tensors, gloo for CPU ones). A group joined here
    is left at exit: gloo's threads still running at interpreter teardown abort the process ("terminate called
    without an active exception"), which fails the launch even though training finished."""
    if not torch.distributed.is_available():
        return 0, 1
    if not torch.distributed.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(_leave_group)
    if torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _leave_group() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _all_reduce_gradients(trainable: Mapping[str, torch.Tensor], loss_total: float) -> float:
    """Sum gradients (and the loss) over ranks. Each rank scaled its loss by world / step tokens, so the
    average that DDP would compute equals the single-process gradient; we do it by hand on a handful of
    adapter tensors (one flat buffer, one all-reduce), which is all DDP's bucketing would do here."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in trainable.values()]
    loss = torch.tensor([loss_total], dtype=grads[0].dtype, device=grads[0].device)
    flat = torch.cat([g.reshape(-1) for g in grads] + [loss])
    torch.distributed.all_reduce(flat)
    flat[:-1] /= torch.distributed.get_world_size()
    offset = 0
    for param, grad in zip(trainable.values(), grads, strict=True):
        size = grad.numel()
        param.grad = flat[offset: offset + size].view_as(param).clone()
        offset += size
    return float(flat[-1])
