"""The training loop on a tiny random Llama with LoRA: it learns, its updates do not depend on how a step is
split into micro-batches (or processes), a run interrupted after a checkpoint resumes to exactly the same
weights and metrics, and the callbacks (best, early stop, resource monitor, entropy, curriculum) act."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model

from moe_system.training.callbacks import Curriculum, EntropyStop, ResourceMonitor, default_callbacks
from moe_system.training.config import TrainConfig
from moe_system.training.encode import EncodedExample
from moe_system.training.trainer import Callback, Trainer

from .conftest import make_llama


def examples(n: int, seed: int = 0) -> list[EncodedExample]:
    """Token sequences of varied length whose second half (the 'answer') is labelled."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(6, 14)
        ids = [rng.randint(3, 96) for _ in range(length)]
        cut = length // 2
        out.append(EncodedExample(input_ids=ids, labels=[-100] * cut + ids[cut:], difficulty=length / 14))
    return out


def config(**overrides: Any) -> TrainConfig:
    data = {"generator": {"task": "math"}}
    base: dict[str, Any] = {
        "data": data,
        "adapter": {"r": 4, "alpha": 8, "dropout": 0.1},
        "optim": {"batch_size": 4, "grad_accum": 1, "lr": 5e-3, "max_steps": 12, "warmup_ratio": 0.1},
        "run": {"eval_every": 4, "save_every": 4, "log_every": 1, "seed": 3, "deterministic": True},
    }
    for section, values in overrides.items():
        base[section] = {**base.get(section, {}), **values}
    return TrainConfig.model_validate(base)


def lora_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return get_peft_model(make_llama(seed=seed), LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1,
                                                            target_modules="all-linear"))


def train(run_dir: Path, cfg: TrainConfig, callbacks: list[Callback] | None = None, resume: bool = True,
          data: list[EncodedExample] | None = None, model: torch.nn.Module | None = None) -> Trainer:
    data = data or examples(24)
    trainer = Trainer(model or lora_model(), data, examples(6, seed=99), cfg, run_dir, pad_id=0,
                      callbacks=callbacks if callbacks is not None else default_callbacks(cfg))
    trainer.fit(resume=resume)
    return trainer


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.trainable.items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], exact: bool = True) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if exact:
            assert torch.equal(a[key], b[key]), key
        else:
            torch.testing.assert_close(a[key], b[key], rtol=1e-3, atol=1e-5)  # summation order only


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_it_learns_and_writes_its_run_folder(tmp_path: Path) -> None:
    """Every answer is the same four tokens after a random prompt: a pattern LoRA learns in a few steps."""
    data = [EncodedExample([*e.input_ids[:5], 10, 11, 12, 13], [-100] * 5 + [10, 11, 12, 13]) for e in examples(8)]
    model = lora_model()
    with torch.no_grad():  # a random tiny model's head gives near-uniform logits after the final norm
        model.get_base_model().lm_head.weight.mul_(50)
    trainer = train(tmp_path, config(optim={"max_steps": 30, "lr": 3e-2}, run={"eval_every": 10, "save_every": 10}),
                    data=data, model=model)
    losses = [m["loss"] for m in metrics(tmp_path) if m["kind"] == "train"]
    assert losses[-1] < 0.5 * losses[0]
    assert trainer.state.step == 30
    assert (tmp_path / "loss.png").stat().st_size > 1000
    assert (tmp_path / "best" / "trainable.safetensors").is_file()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-000020", "step-000030"]
    evals = [m for m in metrics(tmp_path) if m["kind"] == "eval"]
    assert [m["step"] for m in evals] == [10, 20, 30] and all("val_ppl" in m for m in evals)


def test_micro_batches_do_not_change_the_update(tmp_path: Path) -> None:
    """batch 4 x accum 1 == batch 1 x accum 4 == batch 2 x accum 2: the same examples per step, the same
    token-normalised loss (dropout off: its random masks depend on the micro-batch shapes)."""
    results = []
    for index, (batch, accum) in enumerate([(4, 1), (1, 4), (2, 2)]):
        cfg = config(optim={"batch_size": batch, "grad_accum": accum, "max_steps": 5}, adapter={"dropout": 0.0})
        model = get_peft_model(make_llama(seed=0), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
        trainer = Trainer(model, examples(24), [], cfg, tmp_path / str(index), pad_id=0, callbacks=[])
        trainer.fit()
        results.append(weights(trainer))
    assert_same(results[0], results[1], exact=False)
    assert_same(results[0], results[2], exact=False)


class _Crash(Callback):
    """Simulates a kill: aborts the process's run right after step `at` (after any checkpoint of that step
    would have been written, but `at` is not a checkpoint step)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if trainer.state.step == self.at:
            raise KeyboardInterrupt


def test_an_interrupted_run_resumes_to_identical_weights_and_metrics(tmp_path: Path) -> None:
    cfg = config()
    whole = train(tmp_path / "whole", cfg)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "cut", cfg, callbacks=[*default_callbacks(cfg), _Crash(at=6)])
    resumed = train(tmp_path / "cut", cfg)
    assert resumed.resumed_from is not None and resumed.resumed_from.name == "step-000004"
    assert_same(weights(whole), weights(resumed))
    assert metrics(tmp_path / "whole") == metrics(tmp_path / "cut")


def test_early_stopping_and_best_checkpoint(tmp_path: Path) -> None:
    cfg = config(optim={"lr": 0.5, "max_steps": 40}, run={"eval_every": 2, "early_stopping_patience": 2})
    trainer = train(tmp_path, cfg)  # a huge learning rate: validation loss soon stops improving
    assert trainer.state.stop_reason is not None and "early stop" in trainer.state.stop_reason
    assert trainer.state.step < 40
    best = json.loads((tmp_path / "best" / "state.json").read_text())
    assert best["step"] == trainer.state.best_step


def test_resource_monitor_shrinks_micro_batches_without_changing_the_result(tmp_path: Path) -> None:
    cfg = config(optim={"max_steps": 4}, adapter={"dropout": 0.0})
    plain = Trainer(get_peft_model(make_llama(seed=0), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")),
                    examples(24), [], cfg, tmp_path / "plain", pad_id=0, callbacks=[])
    plain.fit()
    monitor = ResourceMonitor(limit_mb=64)  # this process is far above 64 MB: it halves at every step
    squeezed = Trainer(get_peft_model(make_llama(seed=0), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")),
                       examples(24), [], cfg, tmp_path / "squeezed", pad_id=0, callbacks=[monitor])
    squeezed.fit()
    assert [size for _, size in monitor.events] == [2, 1]
    assert_same(weights(plain), weights(squeezed), exact=False)


def test_entropy_collapse_stops_the_run(tmp_path: Path) -> None:
    cfg = config(optim={"max_steps": 20})
    trainer = train(tmp_path, cfg, callbacks=[EntropyStop(floor=1e6, patience=3)])  # any entropy is "low"
    assert trainer.state.stop_reason is not None and "entropy" in trainer.state.stop_reason
    assert trainer.state.step == 3


def test_curriculum_orders_the_first_epoch_easy_to_hard(tmp_path: Path) -> None:
    data = examples(24)
    cfg = config()
    trainer = Trainer(lora_model(), data, [], cfg, tmp_path, pad_id=0, callbacks=[Curriculum()])
    first = trainer._epoch_steps(0)
    means = [sum(len(data[i].input_ids) for i in step) / len(step) for step in first]
    assert means == sorted(means)
    assert sorted(i for step in first for i in step) == list(range(24))
    assert trainer._epoch_steps(1) != trainer._epoch_steps(0)


DDP_SCRIPT = """
import sys, torch
from pathlib import Path
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM
from moe_system.training.config import TrainConfig
from moe_system.training.encode import EncodedExample
from moe_system.training.trainer import Trainer
import random

torch.set_num_threads(1)
out, accum = Path(sys.argv[1]), int(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2))
model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
rng = random.Random(0)
data = []
for _ in range(24):
    ids = [rng.randint(3, 96) for _ in range(rng.randint(6, 14))]
    data.append(EncodedExample(ids, [-100] * (len(ids) // 2) + ids[len(ids) // 2:]))
cfg = TrainConfig.model_validate({"data": {"generator": {"task": "math"}}, "optim": {
    "batch_size": 2, "grad_accum": accum, "lr": 5e-3, "max_steps": 4}, "run": {"seed": 1}})
trainer = Trainer(model, data, [], cfg, out, pad_id=0, callbacks=[])
trainer.fit()
if trainer.rank == 0:
    save_file({k: v.detach().contiguous() for k, v in trainer.trainable.items()}, out / "weights.safetensors")
"""


def test_two_processes_under_torchrun_match_one_with_doubled_accumulation(tmp_path: Path) -> None:
    """DDP over gloo: 2 ranks x (batch 2, accum 1) == 1 process x (batch 2, accum 2)."""
    import os
    import subprocess
    import sys

    from safetensors.torch import load_file

    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", str(29500 + os.getpid() % 1000), str(script), str(tmp_path / "two"), "1"],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run([sys.executable, str(script), str(tmp_path / "one"), "2"], env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert one.returncode == 0, one.stderr[-3000:]
    one_weights, two_weights = (load_file(tmp_path / run / "weights.safetensors") for run in ("one", "two"))
    assert_same(one_weights, two_weights, exact=False)


def test_bf16_autocast_trains_with_fp32_master_weights(tmp_path: Path) -> None:
    cfg32 = config(optim={"max_steps": 3}, adapter={"dropout": 0.0})
    cfg16 = config(optim={"max_steps": 3, "precision": "bf16"}, adapter={"dropout": 0.0})
    full = train(tmp_path / "fp32", cfg32, callbacks=[])
    half = train(tmp_path / "bf16", cfg16, callbacks=[])
    assert all(p.dtype == torch.float32 for p in half.trainable.values())
    difference = max(float((full.trainable[k] - half.trainable[k]).abs().max()) for k in full.trainable)
    assert 0 < difference < 5e-2  # bf16 rounding moves the weights a little, not a lot


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_one_lora_step_on_cuda_then_resume(tmp_path: Path) -> None:
    """On a GPU host the batches go to the model's device: LoRA steps run on CUDA, the weights change there, and a
    checkpoint written from CUDA tensors resumes."""
    model = lora_model().to("cuda")
    before = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
    cfg = config(optim={"max_steps": 2}, run={"save_every": 1, "eval_every": 2})
    trainer = train(tmp_path, cfg, model=model)
    assert trainer.device.type == "cuda" and trainer.state.step == 2
    after = weights(trainer)
    assert all(tensor.is_cuda for tensor in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in after)
    assert all(record["loss"] == record["loss"] for record in metrics(tmp_path) if "loss" in record)  # not NaN
    resumed = train(tmp_path, config(optim={"max_steps": 3}, run={"save_every": 1, "eval_every": 3}),
                    model=lora_model().to("cuda"))
    assert resumed.resumed_from is not None and resumed.state.step == 3


@pytest.mark.parametrize(
    ("best", "value", "val_loss", "expected"),
    [
        ((None, None), 0.1, 0.9, True),  # the first evaluation is the best so far
        ((0.175, 0.60), 0.20, 0.90, True),  # a higher accuracy wins whatever the loss
        ((0.175, 0.60), 0.10, 0.10, False),
        ((0.175, 0.60), 0.175, 0.13, True),  # a tie goes to the lower validation loss
        ((0.175, 0.60), 0.175, 0.70, False),
        ((0.175, None), 0.175, 0.13, False),  # a best from before losses were kept stays
    ],
)
def test_a_task_accuracy_tie_goes_to_the_lower_validation_loss(
    best: tuple[float | None, float | None], value: float, val_loss: float, expected: bool
) -> None:
    from moe_system.training.callbacks import _better
    from moe_system.training.state import TrainState

    state = TrainState(best_value=best[0], best_val_loss=best[1])
    assert _better("task_accuracy", value, val_loss, state) is expected
    assert _better("val_loss", 0.5, None, TrainState(best_value=0.6)) and not _better("val_loss", 0.7, None,
                                                                                      TrainState(best_value=0.6))
