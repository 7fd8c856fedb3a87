"""Experts of kind `model`: a from-scratch decoder saved, packaged, verified and loaded back for the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from moe_system.engine import NativeBackend
from moe_system.errors import ExpertError, PackageError
from moe_system.experts.layout import MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE
from moe_system.experts.manifest import Manifest
from moe_system.experts.package import build_package
from moe_system.experts.standalone import load_standalone, save_standalone
from moe_system.experts.verify import verify_package
from moe_system.training.config import ExpertModelConfig
from moe_system.training.models import expert_model


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    config = ExpertModelConfig(d_model=32, n_layers=2, n_heads=4, d_ff=64, max_positions=64)
    return expert_model(config, vocab_size=97, pad_id=0, eos_id=2).eval()


def _manifest(folder: Path) -> None:
    manifest = Manifest.from_dict({"name": "scratch", "version": "0.1.0", "kind": "model",
                                   "base_model": {"name": "tiny", "sha256": "ab" * 32}})  # fmt: skip
    (folder / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")


def test_a_saved_model_loads_back_with_the_same_logits(tmp_path: Path) -> None:
    model = _model()
    save_standalone(model, tmp_path / "m", torch.float32)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE]
    loaded = load_standalone(tmp_path / "m", "scratch")
    ids = torch.tensor([[5, 9, 13, 2]])
    with torch.inference_mode():
        assert torch.equal(model(ids).logits, loaded(ids).logits)
    assert loaded.lm_head.weight.data_ptr() == loaded.model.embed_tokens.weight.data_ptr()  # tied, stored once
    NativeBackend(loaded)  # the engine's native backend takes it as it takes a base model


def test_bf16_storage_halves_the_file_and_stays_close(tmp_path: Path) -> None:
    model = _model()
    save_standalone(model, tmp_path / "fp32", torch.float32)
    save_standalone(model, tmp_path / "bf16", torch.bfloat16)
    size = (tmp_path / "bf16" / MODEL_WEIGHTS_FILE).stat().st_size
    assert size < 0.55 * (tmp_path / "fp32" / MODEL_WEIGHTS_FILE).stat().st_size
    ids = torch.tensor([[5, 9, 13, 2]])
    with torch.inference_mode():
        diff = (model(ids).logits - load_standalone(tmp_path / "bf16", "scratch")(ids).logits).abs().max()
    assert float(diff) < 0.05


def test_it_packages_and_verifies_and_refuses_a_package_without_its_model(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    save_standalone(_model(), folder, torch.bfloat16)
    _manifest(folder)
    package = tmp_path / "scratch-0.1.0.expert"
    build_package(folder, package)
    assert verify_package(package, scratch=tmp_path).manifest.kind == "model"
    (folder / MODEL_CONFIG_FILE).unlink()
    with pytest.raises(PackageError, match=r"missing required file .config\.json. \(kind model\)"):
        build_package(folder, tmp_path / "broken.expert")


def test_bad_model_files_say_what_is_wrong(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    save_standalone(_model(), folder, torch.float32)
    config = json.loads((folder / MODEL_CONFIG_FILE).read_text())
    (folder / MODEL_CONFIG_FILE).write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(ExpertError, match="must describe a Llama decoder"):
        load_standalone(folder, "scratch")
    (folder / MODEL_CONFIG_FILE).write_text(json.dumps({**config, "hidden_size": 64, "intermediate_size": 64}))
    with pytest.raises(ExpertError, match=r"does not match config\.json"):
        load_standalone(folder, "scratch")
    (folder / MODEL_CONFIG_FILE).write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(ExpertError, match=r"does not match config\.json"):
        load_standalone(folder, "scratch")
    (folder / MODEL_CONFIG_FILE).write_text("{not json")
    with pytest.raises(ExpertError, match=r"cannot read config\.json"):
        load_standalone(folder, "scratch")
