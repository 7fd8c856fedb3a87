"""`moe train` as a user runs it, on the embedded model: a deterministic run killed with SIGKILL in the middle
and started again ends with exactly the weights and metrics of an uninterrupted run; the finished run leaves
its folder (metrics, loss curve, split manifest, checkpoints) and a signed package."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.e2e
MOE = [sys.executable, "-m", "moe_system.cli"]

RECIPE = """
expert: {name: tiny, version: 0.1.0, description: a smoke-test expert}
train:
  method: lora
  data: {train: data.jsonl, val_fraction: 0.1, dedup: true}
  adapter: {r: 4, alpha: 8, dropout: 0.1, target_modules: [q_proj, v_proj]}
  optim: {batch_size: 2, grad_accum: 1, lr: 1.0e-3, max_steps: 10, max_len: 96}
  run: {eval_every: 5, save_every: 2, keep_checkpoints: 3, log_every: 1, seed: 5, deterministic: true, threads: 1}
infer: {system_prompt: You answer in one short sentence.}
"""


def _data() -> str:
    rows = []
    for i in range(24):
        question = f"What is {i} plus {i + 3}?" if i % 2 else f"Сколько будет {i} плюс {i + 3}?"
        answer = f"{i} + {i + 3} = {2 * i + 3}." if i % 2 else f"{i} + {i + 3} = {2 * i + 3}, ответ {2 * i + 3}."
        rows.append(json.dumps({"messages": [{"role": "user", "content": question},
                                             {"role": "assistant", "content": answer}]}, ensure_ascii=False))
    return "\n".join(rows) + "\n"


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    (tmp_path / "data.jsonl").write_text(_data(), encoding="utf-8")
    path = tmp_path / "tiny.yaml"
    path.write_text(RECIPE, encoding="utf-8")
    return path


def _env(home: Path, model_home: Path) -> dict[str, str]:
    from moe_system.base import base_model_dir
    from moe_system.config import Settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOE_")}
    return env | {"MOE_HOME": str(home), "MOE_BASE__NAME": str(base_model_dir(Settings(home=model_home)))}


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path, recipe: Path, model_home: Path) -> None:
    args = [*MOE, "train", "--recipe", str(recipe), "--no-install", "--json"]
    whole_home, cut_home = tmp_path / "whole", tmp_path / "cut"
    whole = subprocess.run(args, env=_env(whole_home, model_home), capture_output=True, text=True, timeout=600,
                           check=False)
    assert whole.returncode == 0, whole.stderr[-3000:]
    result = json.loads(whole.stdout)
    assert result["steps"] == 10 and result["package"].endswith("tiny-0.1.0.expert")

    run_dir = cut_home / "runs" / "tiny-0.1.0"
    process = subprocess.Popen(args, env=_env(cut_home, model_home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints" / "step-000004" / "state.json").exists():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)  # mid-run: somewhere in step 5 or 6
    process.wait()
    assert not (run_dir / "result.json").exists()
    resumed = subprocess.run(args, env=_env(cut_home, model_home), capture_output=True, text=True, timeout=600,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    whole_dir = whole_home / "runs" / "tiny-0.1.0"
    final = "checkpoints/step-000010/trainable.safetensors"
    first, second = load_file(whole_dir / final), load_file(run_dir / final)
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    assert (whole_dir / "metrics.jsonl").read_text() == (run_dir / "metrics.jsonl").read_text()
    for name in ("loss.png", "split_manifest.json", "best/trainable.safetensors", "result.json"):
        assert (run_dir / name).is_file(), name
    verify = subprocess.run([*MOE, "experts", "verify", "--json", result["package"]],
                            env=_env(whole_home, model_home), capture_output=True, text=True, timeout=120, check=False)
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["signed"]


MODEL_RECIPE = """
expert: {name: scratch, version: 0.1.0, description: a from-scratch smoke-test model}
train:
  method: model
  model: {d_model: 64, n_layers: 2, n_heads: 4, d_ff: 128, max_positions: 256}
  data: {train: data.jsonl, val_fraction: 0.1, dedup: true}
  optim: {batch_size: 4, lr: 3.0e-3, max_steps: 6, max_len: 96}
  run: {eval_every: 3, save_every: 3, seed: 5, threads: 1}
"""


def test_a_from_scratch_model_expert_trains_installs_and_answers(tmp_path: Path, model_home: Path) -> None:
    """`method: model` ends like an adapter run: a signed kind-`model` package, installed, that answers alone."""
    (tmp_path / "data.jsonl").write_text(_data(), encoding="utf-8")
    (tmp_path / "scratch.yaml").write_text(MODEL_RECIPE, encoding="utf-8")
    env = _env(tmp_path / "home", model_home)
    trained = subprocess.run([*MOE, "train", "--recipe", str(tmp_path / "scratch.yaml"), "--json"], env=env,
                             capture_output=True, text=True, timeout=600, check=False)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert json.loads(trained.stdout)["installed"]
    listed = subprocess.run([*MOE, "experts", "list", "--json"], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert [(e["name"], e["kind"]) for e in json.loads(listed.stdout)] == [("scratch", "model")]
    answer = subprocess.run([*MOE, "generate", "--expert", "scratch", "--max-tokens", "8", "--json",
                             "What is 2 plus 5?"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert answer.returncode == 0, answer.stderr[-3000:]
    reply = json.loads(answer.stdout)
    assert reply["expert"] == "scratch" and 1 <= reply["usage"]["completion_tokens"] <= 8
    composed = subprocess.run([*MOE, "generate", "--expert", "scratch,tiny", "What is 2 plus 5?"], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
    assert composed.returncode == 2 and "Traceback" not in composed.stderr
