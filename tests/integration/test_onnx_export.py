"""`moe export onnx` on the embedded model: onnxruntime-genai's builder writes a folder that its runtime loads, and
with a LoRA folded in (fp32) its greedy answers equal the native engine's with that adapter applied at run time."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

from moe_system.base import base_model_dir, load_base
from moe_system.base.onnx_export import OnnxModel, export_onnx, write_usage
from moe_system.bench.onnx import agreement_with_engine
from moe_system.config import Settings
from moe_system.engine import Engine, SamplingParams, build_backend
from moe_system.errors import ConfigError
from moe_system.experts.adapters import load_adapter

pytest.importorskip("onnxruntime_genai")
pytestmark = pytest.mark.integration


def test_a_lora_folded_into_an_fp32_export_answers_like_the_engine(model_home: Path, tmp_path: Path) -> None:
    settings = Settings(home=model_home)
    base = load_base(settings)
    torch.manual_seed(0)
    peft_model = get_peft_model(copy.deepcopy(base.model), LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False))
    with torch.no_grad():  # a visible but not destructive change
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.mul_(0.3)
    peft_model.save_pretrained(tmp_path / "adapter")
    out = tmp_path / "onnx"
    export_onnx(base_model_dir(settings), out, "fp32", tmp_path / "adapter")
    assert {"model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".onnx.")], "the staging folder is gone"

    backend = build_backend(base.model, "native")
    engine = Engine(backend, decode=base.tokenizer.decode, stop_token_ids=base.tokenizer.stop_token_ids)
    adapter = load_adapter(tmp_path / "adapter", backend.linears, name="random", dtype=backend.dtype)
    prompts = [base.tokenizer.chat_ids([{"role": "user", "content": text}])
               for text in ("What is the capital of France?", "Напиши короткое стихотворение о море.")]
    agree = agreement_with_engine(out, engine, ((adapter, 1.0),), prompts, new_tokens=24)
    assert agree["identical"] == 1.0, agree
    without = [c.token_ids for c in engine.generate(prompts, SamplingParams(max_new_tokens=24))]
    exported = OnnxModel(out)
    assert without != [exported.greedy(p, 24)[:len(t)] for p, t in zip(prompts, without, strict=True)], \
        "the adapter changed nothing"

    write_usage(out, name="smollm2+random", precision="fp32", source="here", expert="random", check="")
    assert "onnxruntime_genai" in (out / "README.md").read_text()
    with pytest.raises(ConfigError, match="not an empty folder"):
        export_onnx(base_model_dir(settings), out, "int4")
