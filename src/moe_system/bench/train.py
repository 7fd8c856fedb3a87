"""Training speed: our trainer against Hugging Face `Trainer` + PEFT on the same data and settings, same run.

    python benchmarks/train.py --json        # or: moe bench train --json

Both train a LoRA (r16, alpha 32, all linear layers, dropout 0.05) on the base model, in fp32 or both with bf16
autocast (`--precision bf16`: HF's `bf16=True`), batch 8, the same
chat examples from the math generator encoded with assistant-only labels, for `steps` optimizer steps after
one warm-up step. Reported: tokens/s (every non-padding token of the processed sequences, per wall second)
and seconds per step. The peer gets the same padded batches (a collator that right-pads like ours).
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
from pathlib import Path
from typing import Any

import torch

from moe_system.bench.common import cpu_model
from moe_system.config import Settings


def run(
    settings: Settings, steps: int = 6, batch: int = 8, n_examples: int = 64, task: str = "math",
    precision: str = "fp32",
) -> dict[str, Any]:
    """Run the benchmark and return the numbers (see module docstring)."""
    import tempfile

    from moe_system.base import load_base
    from moe_system.data import GENERATORS
    from moe_system.training.config import TrainConfig
    from moe_system.training.data import Example
    from moe_system.training.encode import collate, encode_dataset, pad_token_id
    from moe_system.training.models import adapter_model
    from moe_system.training.trainer import Callback, Trainer

    base = load_base(settings)
    tokenizer, pad = base.tokenizer, pad_token_id(base.tokenizer)
    generator = GENERATORS[task]
    chats = [generator.to_chat(item) for item in generator.generate(n_examples, 7, "mix")]
    encoded = encode_dataset([Example(messages=c["messages"], meta=c.get("meta", {})) for c in chats],
                             tokenizer, 512).examples
    config = TrainConfig.model_validate({
        "data": {"generator": {"task": task}}, "adapter": {"r": 16, "alpha": 32, "dropout": 0.05},
        "optim": {"batch_size": batch, "grad_accum": 1, "lr": 2e-4, "max_steps": steps + 1, "warmup_ratio": 0.0,
                  "precision": precision},
        "run": {"seed": 0},
    })
    workdir = Path(tempfile.mkdtemp(prefix="moe-bench-train-"))

    # ---- ours: time the steps after the first (warm-up) one
    frozen = copy.deepcopy(base.model)
    for param in frozen.parameters():
        param.requires_grad_(False)
    model = adapter_model(frozen, "lora", config.adapter)
    timings: list[float] = []
    processed: list[int] = []

    class _Clock(Callback):
        def order_steps(self, trainer: Trainer, epoch: int, order: list[list[int]]) -> list[list[int]]:
            self.order = order
            return order
        def on_step_begin(self, trainer: Trainer) -> None:
            self.started = time.perf_counter()
        def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
            timings.append(time.perf_counter() - self.started)
            indices = self.order[trainer.state.step_in_epoch - 1]
            processed.append(sum(len(trainer.train_set[i].input_ids) for i in indices))

    clock = _Clock()
    Trainer(model, encoded, [], config, workdir / "ours", pad, callbacks=[clock]).fit(resume=False)
    ours_s, ours_tokens = sum(timings[1:]), sum(processed[1:])
    step_batches = [[encoded[i] for i in indices] for indices in clock.order[: steps + 1]]

    # ---- peer: HF Trainer + PEFT on the same batches, in the same order
    from transformers import Trainer as HFTrainer
    from transformers import TrainerCallback, TrainingArguments

    peer_model = adapter_model(base.model, "lora", config.adapter)
    flat = [example for batch_examples in step_batches for example in batch_examples]

    class _Dataset(torch.utils.data.Dataset[Any]):
        def __len__(self) -> int:
            return len(flat)

        def __getitem__(self, index: int) -> Any:
            return flat[index]

    peer_times: list[float] = []

    class _PeerClock(TrainerCallback):
        def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            peer_times.append(time.perf_counter() - self.started)

    args = TrainingArguments(
        output_dir=str(workdir / "peer"), per_device_train_batch_size=batch, max_steps=steps + 1,
        learning_rate=2e-4, lr_scheduler_type="constant", report_to=[], save_strategy="no", logging_strategy="no",
        use_cpu=True, dataloader_num_workers=0, disable_tqdm=True, seed=0, bf16=precision == "bf16",
    )
    class _InOrder(HFTrainer):  # the same order as ours: no shuffling
        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> torch.utils.data.Sampler[int]:
            return torch.utils.data.SequentialSampler(flat)

    trainer = _InOrder(model=peer_model, args=args, train_dataset=_Dataset(),
                       data_collator=lambda rows: collate(rows, pad), callbacks=[_PeerClock()])
    with contextlib.redirect_stdout(sys.stderr):  # HF prints its summary dict; stdout carries our JSON only
        trainer.train()
    peer_s = sum(peer_times[1:])
    peer_tokens = sum(len(e.input_ids) for batch_examples in step_batches[1:] for e in batch_examples)
    ours_rate, peer_rate = ours_tokens / ours_s, peer_tokens / peer_s
    return {
        "cpu": cpu_model(),
        "model": base.name, "method": "lora r16 all-linear", "precision": precision, "threads": torch.get_num_threads(),
        "batch": batch, "steps": steps, "task": task, "tokens_per_step": round(ours_tokens / steps, 1),
        "tokens_per_s": round(ours_rate, 1), "s_per_step": round(ours_s / steps, 3),
        "peer": {"name": "transformers.Trainer + peft", "tokens_per_s": round(peer_rate, 1),
                 "s_per_step": round(peer_s / steps, 3)},
        "ratio": round(ours_rate / peer_rate, 2),
    }
