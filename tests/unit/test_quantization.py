"""Int8 calibration (`base.quantization`): what every linear sees (per-channel maxima, sampled rows), how each
linear is held (smoothing factors, float channels) chosen once and cached (a corrupt cache file is measured
again); the calibration chat parses; the setting is validated."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from transformers import LlamaForCausalLM

from moe_system.base import LoadedBase
from moe_system.base import quantization as calibration
from moe_system.config import load_settings
from moe_system.errors import ConfigError

CHUNKS = [[5, 17, 33, 8, 2, 61, 9, 4], [70, 1, 2, 3]]


def test_activations_cover_every_linear_per_input_channel(tiny_llama: LlamaForCausalLM) -> None:
    seen = calibration.observe(tiny_llama, CHUNKS)
    maxima = seen.maxima
    linears = {name: m for name, m in tiny_llama.named_modules() if isinstance(m, torch.nn.Linear)}
    assert set(maxima) == set(linears) == set(seen.samples) and "lm_head" in maxima
    for name, module in linears.items():
        assert maxima[name].shape == (module.in_features,) and bool((maxima[name] >= 0).all())
        rows = seen.samples[name]
        assert rows.shape == (sum(len(c) for c in CHUNKS), module.in_features)  # chunks shorter than SAMPLE_ROWS
        assert bool((rows.abs() <= maxima[name]).all())
    each = [calibration.observe(tiny_llama, [chunk]).maxima for chunk in CHUNKS]
    for name in linears:  # the maxima over both chunks are the larger of each chunk's
        torch.testing.assert_close(maxima[name], torch.maximum(each[0][name], each[1][name]))
    assert not any(module._forward_hooks for module in linears.values())  # the hooks are gone


def test_calibration_is_cached_and_a_corrupt_cache_is_measured_again(
    tiny_llama: LlamaForCausalLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_llama.save_pretrained(tmp_path / "model")  # safetensors: the cache key is the weights' sha256
    base = LoadedBase(model=tiny_llama, tokenizer=None, path=tmp_path / "model", name="tiny",  # type: ignore[arg-type]
                      device=torch.device("cpu"), dtype=torch.float32)
    monkeypatch.setattr(calibration, "calibration_ids", lambda tokenizer: CHUNKS)
    settings = load_settings()
    chosen: list[str] = []

    def choose(weight: torch.Tensor, maxima: torch.Tensor, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        chosen.append("x")
        if len(chosen) % 3 == 0:
            return {}  # every third linear held plainly
        return {"smooth": maxima.clamp_min(1e-3).sqrt(), "outliers": maxima.topk(2).indices}

    first = calibration.linear_calibration(base, settings, choose, "test-1")
    assert 0 < len(first) < len(chosen)
    [cached] = list((settings.models_dir / "calibration").glob("*.safetensors"))

    def refuse(*_: object) -> None:
        raise AssertionError("measured again although the cache was good")

    monkeypatch.setattr(calibration, "observe", refuse)
    again = calibration.linear_calibration(base, settings, choose, "test-1")
    assert set(again) == set(first) and all(
        set(again[k]) == {"smooth", "outliers"} and all(torch.equal(again[k][t], first[k][t]) for t in first[k])
        for k in first)
    cached.write_bytes(b"\x00garbage")
    monkeypatch.undo()
    monkeypatch.setattr(calibration, "calibration_ids", lambda tokenizer: CHUNKS)
    chosen.clear()
    rebuilt = calibration.linear_calibration(base, settings, choose, "test-1")
    assert set(rebuilt) == set(first) and all(
        all(torch.equal(rebuilt[k][t], first[k][t]) for t in first[k]) for k in first)
    calibration.linear_calibration(base, settings, choose, "test-2")  # another method: another cache file
    assert len(list((settings.models_dir / "calibration").glob("*.safetensors"))) == 2


def test_the_calibration_chat_parses() -> None:
    texts = yaml.safe_load(calibration.calibration_text())["texts"]
    assert len(texts) >= 40 and all(t["role"] in ("user", "assistant") and t["text"].strip() for t in texts)
    assert any(any("а" <= ch <= "я" for ch in t["text"].casefold()) for t in texts)  # Russian too


def test_quantization_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().base.quantization == "int8"  # the default, since it passes the quality gate
    monkeypatch.setenv("MOE_BASE__QUANTIZATION", "none")
    assert load_settings().base.quantization == "none"
    monkeypatch.setenv("MOE_BASE__QUANTIZATION", "int3")
    with pytest.raises(ConfigError, match="quantization"):
        load_settings()
