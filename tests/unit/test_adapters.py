"""Run-time adapters against PEFT, the reference: LoRA, DoRA and IA3 logits and greedy tokens equal PEFT's;
every row of a mixed-expert batch equals that row run alone; composition equals PEFT with both adapters
active; bad adapters are refused with a clear message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import cast

import pytest
import torch
from peft import IA3Config, LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel

from moe_system.base.quantization import observe
from moe_system.config import Quantization
from moe_system.engine import DecodeBatch, Engine, HFBackend, NativeBackend, SamplingParams, block_quant
from moe_system.engine.block_quant import BlockLinear
from moe_system.engine.kernels import Int8Linear, best_calibration
from moe_system.engine.lora import AdapterBatch, AdapterWeights, RowAdapters
from moe_system.errors import ExpertError
from moe_system.experts.adapters import load_adapter

from .conftest import make_gpt2, make_llama

PROMPTS = [[5, 17, 33, 8, 2, 61], [9, 4, 70], [1, 2, 3, 4, 5, 6, 7, 8, 9], [44, 12]]

CONFIGS = {
    "lora": lambda: LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False),
    "rslora": lambda: LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], use_rslora=True, init_lora_weights=False,
        alpha_pattern={"v_proj": 3},
    ),
    "dora": lambda: LoraConfig(
        r=4, lora_alpha=8, target_modules="all-linear", use_dora=True, init_lora_weights=False
    ),
    "ia3": lambda: IA3Config(init_ia3_weights=False),
}


def _peft_adapter(model: PreTrainedModel, kind: str, folder: Path, seed: int) -> PeftModel:
    """A PEFT model over a copy of `model` with a randomly initialised adapter saved to `folder`."""
    torch.manual_seed(seed)
    peft_model = get_peft_model(copy.deepcopy(model), CONFIGS[kind]())
    with torch.no_grad():  # IA3 starts near 1 and DoRA magnitudes equal the norms: perturb them visibly
        for name, param in peft_model.named_parameters():
            if "ia3_l" in name or "lora_magnitude_vector" in name:
                param.mul_(1 + 0.3 * torch.randn_like(param))
    peft_model.save_pretrained(folder)
    return peft_model.eval()


def _load(backend: NativeBackend | HFBackend, folder: Path, name: str) -> AdapterWeights:
    return load_adapter(folder, backend.linears, name=name, dtype=backend.dtype)


def _logits(backend: NativeBackend | HFBackend, prompts: list[list[int]], rows: list[RowAdapters]) -> torch.Tensor:
    logits, _ = backend.prefill(prompts, rows)
    return logits


@pytest.mark.parametrize("kind", sorted(CONFIGS))
@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_logits_and_greedy_tokens_equal_peft(
    kind: str, arch: str, tiny_models: dict[str, PreTrainedModel], tmp_path: Path
) -> None:
    model = tiny_models[arch]
    peft_model = _peft_adapter(model, kind, tmp_path, seed=1)
    backend = NativeBackend(model)
    adapter = _load(backend, tmp_path, kind)
    for prompt in PROMPTS:
        with torch.inference_mode():
            expected = peft_model(torch.tensor([prompt])).logits[0, -1]
        got = _logits(backend, [prompt], [((adapter, 1.0),)])[0]
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
        assert not torch.allclose(got, _logits(backend, [prompt], [()])[0], atol=1e-3), "the adapter did nothing"

    engine = Engine(backend)
    params = SamplingParams(max_new_tokens=12)
    ours = engine.generate(PROMPTS, params, [((adapter, 1.0),)] * len(PROMPTS))
    for prompt, completion in zip(PROMPTS, ours, strict=True):
        with torch.inference_mode():
            out = peft_model.generate(
                input_ids=torch.tensor([prompt]), max_new_tokens=12, do_sample=False, eos_token_id=None
            )
        assert completion.token_ids == out[0, len(prompt):].tolist()


needs_blocks = pytest.mark.skipif(not block_quant.available(), reason="no AVX-512 VNNI or g++ here")
# float weights, and the block kernel's int8 / int4, where plain LoRA terms are computed inside the kernel call
MIXING = ["fp32", pytest.param("int8", marks=needs_blocks), pytest.param("int4", marks=needs_blocks)]


def _mixing(request: pytest.FixtureRequest, quantization: str) -> tuple[PreTrainedModel, NativeBackend]:
    if quantization == "fp32":
        model = request.getfixturevalue("tiny_models")["llama"]
        return model, NativeBackend(model)
    model = request.getfixturevalue("tiny_block_models")["llama"]
    return model, NativeBackend(model, quantization=cast(Quantization, quantization))


@pytest.mark.parametrize("quantization", MIXING)
def test_every_row_of_a_mixed_batch_equals_the_row_alone(
    quantization: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """LoRA, DoRA, IA3, a weighted composition and the plain base, decoded together for 10 tokens."""
    model, backend = _mixing(request, quantization)
    experts = {}
    for seed, kind in enumerate(["lora", "dora", "ia3"]):
        _peft_adapter(model, kind, tmp_path / kind, seed=seed + 3)
        experts[kind] = _load(backend, tmp_path / kind, kind)
    rows: list[RowAdapters] = [
        ((experts["lora"], 1.0),), ((experts["dora"], 1.0),), (), ((experts["ia3"], 1.0),),
        ((experts["lora"], 0.7), (experts["dora"], 0.3), (experts["ia3"], 0.5)), ((experts["lora"], 1.0),),
    ]
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(len(rows))]
    engine = Engine(backend)
    params = [SamplingParams(max_new_tokens=4 + 2 * i) for i in range(len(rows))]  # rows leave at different steps
    together = engine.generate(prompts, params, rows)
    for prompt, param, row, completion in zip(prompts, params, rows, together, strict=True):
        [alone] = engine.generate([prompt], param, [row])
        assert completion.token_ids == alone.token_ids

    mixed = _logits(backend, prompts, rows)
    for index, (prompt, row) in enumerate(zip(prompts, rows, strict=True)):
        torch.testing.assert_close(mixed[index], _logits(backend, [prompt], [row])[0], rtol=1e-5, atol=1e-5)

    batch = DecodeBatch(engine)  # the same rows joining a running batch one step apart (continuous batching)
    joined: dict[int, list[int]] = {}
    for step in range(40):
        if step < len(rows):
            batch.admit([prompts[step]], params[step], [rows[step]])
        for event in batch.step():
            if event.completion is not None:
                joined[event.row] = event.completion.token_ids
    assert [joined[i] for i in range(len(rows))] == [c.token_ids for c in together]


@pytest.mark.parametrize("quantization", MIXING)
@pytest.mark.parametrize("kind", ["lora", "dora"])
def test_rows_of_experts_alike_are_stacked_and_each_equals_the_row_alone(
    kind: str, quantization: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Experts of one rank and scale (the common case) are gathered by stacking, the scale kept as `alpha`, and
    the A matrices of q/k/v (and of gate/up) side by side in one tensor, one product for the group (or, on the
    block kernel, one kernel call a projection reading its slice of it)."""
    model, backend = _mixing(request, quantization)
    for seed in (41, 42):
        _peft_adapter(model, kind, tmp_path / str(seed), seed=seed)
    first, second = (_load(backend, tmp_path / str(seed), str(seed)) for seed in (41, 42))
    rows: list[RowAdapters] = [((first, 1.0),), ((second, 1.0),), ((first, 1.0),)]
    batch = AdapterBatch.build(rows)
    assert batch is not None
    q, v = batch.sites[(0, "q_proj")], batch.sites[(0, "v_proj")]
    assert not q.shared and q.scale == first.sites[(0, "q_proj")].scale
    assert (q.fused is not None) == (kind == "lora")  # the plain LoRA term is what a kernel call may take
    group = batch.groups[(0, ("q_proj", "k_proj", "v_proj"))].a  # [rows, 3 r, in]: q's and v's A are slices of it
    assert q.a is not None and v.a is not None and group.shape[1] == 3 * q.a.shape[1]
    assert q.a.data_ptr() == group.data_ptr() and torch.equal(v.a, group[:, 2 * q.a.shape[1]:])
    prompts = PROMPTS[:3]
    mixed = _logits(backend, prompts, rows)
    for index, (prompt, row) in enumerate(zip(prompts, rows, strict=True)):
        torch.testing.assert_close(mixed[index], _logits(backend, [prompt], [row])[0], rtol=1e-5, atol=1e-5)
    engine = Engine(backend)
    params = [SamplingParams(max_new_tokens=3 + 3 * i) for i in range(len(rows))]  # rows leave at different steps
    for prompt, param, row, completion in zip(prompts, params, rows, engine.generate(prompts, params, rows),
                                              strict=True):
        assert completion.token_ids == engine.generate([prompt], param, [row])[0].token_ids


def _shipped(folder: Path, dtype: torch.dtype, out: Path) -> Path:
    """`folder`'s adapter with its tensors rounded to bfloat16 (as the trainer ships packages), stored in `dtype`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "adapter_config.json").write_bytes((folder / "adapter_config.json").read_bytes())
    tensors = load_file(folder / "adapter_model.safetensors")
    save_file({key: t.bfloat16().to(dtype) for key, t in tensors.items()}, out / "adapter_model.safetensors")
    return out


@needs_blocks
@pytest.mark.parametrize("bits", ["int8", "int4"])
def test_bfloat16_experts_stay_narrow_on_the_block_kernel_and_compute_as_their_float_copy(
    bits: str, tiny_block_models: dict[str, PreTrainedModel], tmp_path: Path
) -> None:
    """A plain LoRA stored in bfloat16 is kept so on a backend whose linears add the term themselves (half the bytes
    to read a step) and gives the logits of the same values widened to float32, alone, in a mixed batch gathered in
    bfloat16, composed with weights (computed in float) and beside a DoRA row (gathered in float); a DoRA keeps
    float, and a float backend widens at load."""
    model = tiny_block_models["llama"]
    backend = NativeBackend(model, quantization=cast(Quantization, bits))
    experts, copies = {}, {}
    for seed, kind in ((51, "lora"), (52, "lora"), (53, "dora")):
        _peft_adapter(model, kind, tmp_path / f"{seed}", seed=seed)
        name = f"{kind}{seed}"
        experts[name] = _load(backend, _shipped(tmp_path / f"{seed}", torch.bfloat16, tmp_path / f"{seed}n"), name)
        copies[name] = _load(backend, _shipped(tmp_path / f"{seed}", torch.float32, tmp_path / f"{seed}f"), name)
    first, _, dora = experts.values()
    site = (0, "q_proj")
    assert first.sites[site].narrow and first.sites[site].a.dtype == torch.bfloat16  # type: ignore[union-attr]
    assert not dora.sites[site].narrow and dora.sites[site].a.dtype == torch.float32  # type: ignore[union-attr]
    assert not load_adapter(tmp_path / "51n", NativeBackend(model).linears).sites[site].narrow

    def rows_of(adapters: dict[str, AdapterWeights]) -> list[RowAdapters]:
        one, two, scaled = adapters.values()
        return [((one, 1.0),), ((two, 1.0),), ((one, 0.6), (two, 0.3)), ((one, 1.0),), ((scaled, 1.0),), ()]

    rows, float_rows = rows_of(experts), rows_of(copies)
    gathered = AdapterBatch.build(rows[:2])
    assert gathered is not None and gathered.sites[site].fused is not None
    assert gathered.sites[site].fused.a.dtype == torch.bfloat16  # type: ignore[union-attr]
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(len(rows))]
    for count in (1, 2, 4, len(rows)):  # alone, mixed narrow, with a composition, with a DoRA row
        torch.testing.assert_close(_logits(backend, prompts[:count], rows[:count]),
                                   _logits(backend, prompts[:count], float_rows[:count]), rtol=1e-5, atol=1e-5)
    plain = _logits(backend, prompts[:1], [()])
    assert (_logits(backend, prompts[:1], rows[:1]) - plain).abs().max() > 1e-2, "the expert did nothing"
    engine = Engine(backend)
    params = SamplingParams(max_new_tokens=6)
    assert [c.token_ids for c in engine.generate(prompts, params, rows)] == \
        [c.token_ids for c in engine.generate(prompts, params, float_rows)]


@pytest.mark.parametrize("kind", ["lora", "dora", "ia3"])
def test_generic_backend_applies_adapters_like_peft_and_mixes_rows(kind: str, tmp_path: Path) -> None:
    """The transformers-driven backend (for non-native architectures) applies the same adapters, per row."""
    model = make_llama(seed=5)  # its own copy: the backend installs its adapter hooks on the model
    peft_model = _peft_adapter(model, kind, tmp_path / kind, seed=6)
    backend = HFBackend(model)
    adapter = _load(backend, tmp_path / kind, kind)
    with torch.inference_mode():
        expected = peft_model(torch.tensor([PROMPTS[0]])).logits[0, -1]
    torch.testing.assert_close(_logits(backend, [PROMPTS[0]], [((adapter, 1.0),)])[0], expected,
                               rtol=1e-4, atol=1e-4)
    engine, params = Engine(backend), SamplingParams(max_new_tokens=6)
    rows: list[RowAdapters] = [((adapter, 1.0),), (), ((adapter, 0.5),)]
    together = engine.generate(PROMPTS[:3], params, rows)
    for prompt, row, completion in zip(PROMPTS[:3], rows, together, strict=True):
        assert completion.token_ids == engine.generate([prompt], params, [row])[0].token_ids


def test_generic_backend_without_llama_style_linears_refuses_experts(tmp_path: Path) -> None:
    llama = make_llama(seed=7)
    _peft_adapter(llama, "lora", tmp_path, seed=8)
    adapter = _load(HFBackend(llama), tmp_path, "lora")
    with pytest.raises(ExpertError, match="cannot be applied"):
        HFBackend(make_gpt2()).prefill([PROMPTS[0]], [((adapter, 1.0),)])


def test_composition_with_unit_weights_equals_peft_with_both_adapters_active(
    tiny_models: dict[str, PreTrainedModel], tmp_path: Path
) -> None:
    model = tiny_models["llama"]
    first = _peft_adapter(model, "lora", tmp_path / "a", seed=11)
    _peft_adapter(model, "lora", tmp_path / "b", seed=12)
    first.load_adapter(str(tmp_path / "b"), adapter_name="b")
    first.base_model.set_adapter(["default", "b"])
    backend = NativeBackend(model)
    a, b = _load(backend, tmp_path / "a", "a"), _load(backend, tmp_path / "b", "b")
    with torch.inference_mode():
        expected = first(torch.tensor([PROMPTS[0]])).logits[0, -1]
    torch.testing.assert_close(_logits(backend, [PROMPTS[0]], [((a, 1.0), (b, 1.0))])[0], expected,
                               rtol=1e-4, atol=1e-4)


def test_shared_rows_use_the_experts_own_tensors_and_select_regroups(
    tiny_models: dict[str, PreTrainedModel], tmp_path: Path
) -> None:
    """One expert on every row: no copy (hot swap is free). Mixed rows that become uniform turn shared."""
    model = tiny_models["llama"]
    backend = NativeBackend(model)
    _peft_adapter(model, "lora", tmp_path / "a", seed=21)
    _peft_adapter(model, "lora", tmp_path / "b", seed=22)
    a, b = _load(backend, tmp_path / "a", "a"), _load(backend, tmp_path / "b", "b")
    shared = AdapterBatch.build([((a, 1.0),)] * 3)
    assert shared is not None
    site = next(iter(a.sites))
    assert shared.sites[site].shared and shared.sites[site].a is a.sites[site].a
    mixed = AdapterBatch.build([((a, 1.0),), ((b, 1.0),), ((a, 1.0),)])
    assert mixed is not None and not mixed.sites[site].shared
    regrouped = mixed.select(torch.tensor([0, 2]))
    assert regrouped is not None and regrouped.sites[site].shared
    assert AdapterBatch.build([(), ()]) is None


@pytest.mark.parametrize("kind", ["lora", "dora", "ia3"])
def test_a_weight_equals_the_same_total_weight_split_in_a_composition(
    kind: str, tiny_models: dict[str, PreTrainedModel], tmp_path: Path
) -> None:
    """expert at 0.5 (no copy: the weight rides on the scale) == the expert twice at 0.25 (the gathered
    composition path) == the same rows inside a mixed batch."""
    backend = NativeBackend(tiny_models["llama"])
    _peft_adapter(tiny_models["llama"], kind, tmp_path, seed=31)
    adapter = _load(backend, tmp_path, kind)
    half: RowAdapters = ((adapter, 0.5),)
    quarters: RowAdapters = ((adapter, 0.25), (adapter, 0.25))
    prompt = PROMPTS[0]
    single = _logits(backend, [prompt], [half])[0]
    torch.testing.assert_close(single, _logits(backend, [prompt], [quarters])[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(single, _logits(backend, [prompt, prompt], [half, ()])[0], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(single, _logits(backend, [prompt], [((adapter, 1.0),)])[0], atol=1e-4)


def _write_adapter(folder: Path, tensors: dict[str, torch.Tensor], config: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, folder / "adapter_model.safetensors")
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("tensors", "config", "message"),
    [
        ({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(4, 32),
          "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(32, 4)},
         {"peft_type": "PREFIX_TUNING"}, "not supported"),
        ({"base_model.model.lm_head.lora_A.weight": torch.zeros(4, 32)},
         {"peft_type": "LORA", "r": 4, "lora_alpha": 8}, "cannot"),
        ({"base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight": torch.zeros(4, 32),
          "base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight": torch.zeros(32, 4)},
         {"peft_type": "LORA", "r": 4, "lora_alpha": 8}, "another base model"),
        ({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(4, 48),
          "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(32, 4)},
         {"peft_type": "LORA", "r": 4, "lora_alpha": 8}, "another base model"),
        ({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(4, 32)},
         {"peft_type": "LORA", "r": 4, "lora_alpha": 8}, "lacks lora_A or lora_B"),
        ({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(4, 32),
          "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(32, 4)},
         {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "modules_to_save": ["lm_head"]}, "modules_to_save"),
    ],
)
def test_bad_adapters_are_refused_clearly(
    tensors: dict[str, torch.Tensor], config: dict[str, object], message: str,
    tiny_models: dict[str, PreTrainedModel], tmp_path: Path,
) -> None:
    backend = NativeBackend(tiny_models["llama"])
    folder = _write_adapter(tmp_path / "bad", tensors, config)
    with pytest.raises(ExpertError, match=message):
        load_adapter(folder, backend.linears)


def test_missing_or_corrupt_weights_are_refused(tiny_models: dict[str, PreTrainedModel], tmp_path: Path) -> None:
    backend = NativeBackend(tiny_models["llama"])
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    with pytest.raises(ExpertError, match="cannot read"):
        load_adapter(folder, backend.linears)
    (folder / "adapter_model.safetensors").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(ExpertError, match="cannot read"):
        load_adapter(folder, backend.linears)


def _dequantized_copy(model: PreTrainedModel, backend: NativeBackend) -> PreTrainedModel:
    """`model` with every linear holding the weight the quantized backend really multiplies by."""
    copied = copy.deepcopy(model)
    with torch.no_grad():
        for (index, name), linear in backend.linears.items():
            group = "self_attn" if name in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            target = copied.get_submodule(f"model.layers.{index}.{group}.{name}")
            target.weight = torch.nn.Parameter(linear.dequantized())  # type: ignore[union-attr]
        copied.lm_head.weight = torch.nn.Parameter(backend.lm_head.dequantized())  # type: ignore[union-attr]
    return copied


def _calibrated(model: PreTrainedModel) -> dict[str, dict[str, torch.Tensor]]:
    """How each linear of `model` is held in int8, chosen on `PROMPTS` as the real calibration chooses."""
    seen = observe(model, PROMPTS)
    modules = dict(model.named_modules())
    return {name: best_calibration(modules[name].get_parameter("weight"), maxima, seen.samples[name])
            for name, maxima in seen.maxima.items()}


needs_fbgemm = pytest.mark.skipif("fbgemm" not in torch.backends.quantized.supported_engines,
                                  reason="no fbgemm in this torch")
# (models, arch, quantization, calibrated): the tiny models' shapes do not pack into blocks, so their int8 runs on
# fbgemm (uncalibrated, or calibrated as the real calibration chooses); the block models' int8 / int4 on the kernel
QUANTIZED = [
    pytest.param("tiny_models", arch, "int8", calibrated, marks=needs_fbgemm, id=f"fbgemm-{arch}-{calibrated=}")
    for arch in ("llama", "qwen2") for calibrated in (False, True)
] + [
    pytest.param("tiny_block_models", arch, bits, False, marks=needs_blocks, id=f"blocks-{arch}-{bits}")
    for arch in ("llama", "qwen2") for bits in ("int8", "int4")
]


def _quantized(request: pytest.FixtureRequest, models: str, arch: str, quantization: Quantization,
               calibrated: bool) -> tuple[PreTrainedModel, NativeBackend]:
    model = request.getfixturevalue(models)[arch]
    backend = NativeBackend(model, quantization=quantization, calibration=_calibrated(model) if calibrated else None)
    assert backend.quantization == quantization
    linears = [*backend.linears.values(), backend.lm_head]
    if models == "tiny_block_models":
        assert all(isinstance(linear, BlockLinear) for linear in linears)
    else:  # the 32-channel projections run on fbgemm (a down_proj of 64 channels may pack into blocks)
        assert isinstance(backend.lm_head, Int8Linear) and isinstance(backend.linears[0, "q_proj"], Int8Linear)
    return model, backend


@pytest.mark.parametrize("kind", sorted(CONFIGS))
@pytest.mark.parametrize(("models", "arch", "quantization", "calibrated"), QUANTIZED)
def test_adapters_on_a_quantized_base_equal_peft_on_its_dequantized_weights(
    kind: str, models: str, arch: str, quantization: Quantization, calibrated: bool, request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """Experts stay exact on a quantized base: each runs in float beside the quantized linear, so a quantized
    backend with an adapter equals PEFT with that adapter on the weights the base holds, within the rounding of the
    8-bit activations, which is far smaller than what the adapter changes. DoRA's norms come from those weights;
    with calibration (smoothing, float channels) too."""
    model, backend = _quantized(request, models, arch, quantization, calibrated)
    peft_model = _peft_adapter(_dequantized_copy(model, backend), kind, tmp_path, seed=1)
    adapter = _load(backend, tmp_path, kind)
    for prompt in PROMPTS:
        with torch.inference_mode():
            expected = peft_model(torch.tensor([prompt])).logits[0, -1]
        got = _logits(backend, [prompt], [((adapter, 1.0),)])[0]
        effect = (got - _logits(backend, [prompt], [()])[0]).abs().max()
        error = (got - expected).abs().max()
        assert error < 0.05 * expected.abs().max(), (error, expected.abs().max())
        assert error < effect / 4, (error, effect)


@pytest.mark.parametrize(("models", "arch", "quantization", "calibrated"), QUANTIZED)
def test_quantized_logits_stay_close_to_fp32(
    models: str, arch: str, quantization: Quantization, calibrated: bool, request: pytest.FixtureRequest
) -> None:
    """Random weights are the hard case for int4 (no structure for the block scales to follow): 4-bit steps of
    a Gaussian leave about 7% of each weight, so the int4 bound is looser."""
    model, quantized = _quantized(request, models, arch, quantization, calibrated)
    fp32 = NativeBackend(model)
    tolerance, similarity = (0.05, 0.999) if quantization == "int8" else (0.3, 0.95)
    for prompt in PROMPTS:
        exact, rounded = _logits(fp32, [prompt], [()])[0], _logits(quantized, [prompt], [()])[0]
        assert float((rounded - exact).abs().max()) < tolerance * float(exact.abs().max())
        assert torch.nn.functional.cosine_similarity(rounded, exact, dim=0) > similarity
