"""Everything a killed run needs to continue exactly where it stopped, written atomically.

A checkpoint is a folder `step-000120/` holding the trainable weights, the optimizer moments and the RNG
states as safetensors (nothing is pickled, so loading a checkpoint never runs code) and `state.json` with the
counters: optimizer step, epoch, position in the epoch's batch order, best metric, patience, the current
micro-batch size. It is written into a hidden staging folder, fsynced and renamed, so a crash leaves either
the previous checkpoint or the new one, never half of one. Learning rates are a pure function of the step
(no scheduler object to restore) and the data order a pure function of (seed, epoch), so restoring these
pieces reproduces the uninterrupted run bit for bit.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from moe_system.durable import replace_folder
from moe_system.errors import MoEError, one_line

STATE_FILE = "state.json"
WEIGHTS_FILE = "trainable.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng.safetensors"


@dataclass
class TrainState:
    """The counters of a run (tensors live beside it in the checkpoint folder)."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    step_in_epoch: int = 0  # steps of `epoch` already done
    micro_batch: int = 0  # current micro-batch size (the resource monitor may lower it)
    tokens: int = 0  # label tokens trained on
    best_value: float | None = None
    best_step: int | None = None
    best_val_loss: float | None = None  # the validation loss at `best_step`: breaks ties of the task metric
    bad_evals: int = 0  # evaluations since the best one
    stop_reason: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def save_checkpoint(
    folder: Path, state: TrainState, trainable: Mapping[str, torch.Tensor], optimizer: torch.optim.Optimizer
) -> Path:
    """Write a complete checkpoint to `folder` atomically (replacing an older one of the same name)."""
    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_file({k: v.detach().contiguous() for k, v in trainable.items()}, staging / WEIGHTS_FILE)
    tensors, groups = _flatten_optimizer(optimizer.state_dict())
    save_file(tensors, staging / OPTIMIZER_FILE, metadata={"param_groups": json.dumps(groups)})
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():  # dropout on a GPU draws from its own generators
        rng["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    save_file(rng, staging / RNG_FILE, metadata={"python": json.dumps(_python_rng_state())})
    (staging / STATE_FILE).write_text(state.to_json(), encoding="utf-8")
    replace_folder(staging, folder)
    return folder


def load_checkpoint(
    folder: Path, trainable: Mapping[str, torch.Tensor], optimizer: torch.optim.Optimizer
) -> TrainState:
    """Restore weights (in place), optimizer moments and RNG states; return the counters."""
    try:
        state = TrainState(**json.loads((folder / STATE_FILE).read_text(encoding="utf-8")))
        weights, _ = _read(folder / WEIGHTS_FILE)
        optimizer_tensors, meta = _read(folder / OPTIMIZER_FILE)
        groups = json.loads(meta["param_groups"])
        rng, meta = _read(folder / RNG_FILE)
        python_rng = json.loads(meta["python"])
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as err:
        raise MoEError(f"checkpoint {folder} is unreadable: {one_line(err)}") from err
    missing = set(trainable) - set(weights)
    if missing:
        raise MoEError(f"checkpoint {folder} lacks {len(missing)} trainable tensors (another method or model?)")
    with torch.no_grad():
        for name, tensor in trainable.items():
            tensor.copy_(weights[name])
    optimizer.load_state_dict(_unflatten_optimizer(optimizer_tensors, groups))
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(rng["cuda"]))
    random.setstate((python_rng[0], tuple(python_rng[1]), python_rng[2]))
    return state


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete `step-*` checkpoint under `folder` (staging folders are ignored)."""
    found = sorted(p for p in folder.glob("step-*") if (p / STATE_FILE).is_file())
    return found[-1] if found else None


def prune_checkpoints(folder: Path, keep: int) -> None:
    for old in sorted(p for p in folder.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


# ---- helpers


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    tensors: dict[str, torch.Tensor] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            value = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"{index}.{key}"] = value.detach().contiguous()
    if not tensors:
        tensors["__empty__"] = torch.zeros(0)
    return tensors, state["param_groups"]


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        if name == "__empty__":
            continue
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    return {"state": state, "param_groups": groups}


def _python_rng_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A safetensors file's tensors and metadata, in one pass."""
    with safe_open(str(path), framework="pt") as handle:
        keys = handle.keys()  # a safe_open handle is not iterable itself
        return {key: handle.get_tensor(key) for key in keys}, handle.metadata() or {}


