"""Experts on the embedded SmolLM2-135M: our run-time adapters give PEFT's logits and greedy text for LoRA,
DoRA and IA3, and a mixed batch of them (plus the plain base) decodes each row as it would alone."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from peft import IA3Config, LoraConfig, get_peft_model
from peft.helpers import DoraCaching

from moe_system.base import load_base
from moe_system.config import Settings
from moe_system.engine import Engine, NativeBackend, SamplingParams
from moe_system.engine.lora import AdapterWeights
from moe_system.experts.adapters import load_adapter

pytestmark = pytest.mark.integration

CONFIGS = {
    "lora": lambda: LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", init_lora_weights=False),
    "dora": lambda: LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", use_dora=True,
                               init_lora_weights=False),
    "ia3": lambda: IA3Config(init_ia3_weights=False),
}
TEXTS = ["Write a SQL query that counts the users.", "Сколько будет семь умножить на восемь?"]


@pytest.fixture(scope="module")
def setup(model_home: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The base, our engine over it, and per kind a PEFT model plus the same adapter loaded by us."""
    base = load_base(Settings(home=model_home))
    backend = NativeBackend(base.model)
    peft_models, ours = {}, {}
    for seed, (kind, make) in enumerate(CONFIGS.items()):
        torch.manual_seed(seed)
        peft_model = get_peft_model(copy.deepcopy(base.model), make())
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_B" in name:
                    param.mul_(0.02)  # keep the random LoRA small enough for fluent text
                if "ia3_l" in name or "lora_magnitude_vector" in name:
                    param.mul_(1 + 0.2 * torch.randn_like(param))
        folder = tmp_path_factory.mktemp(kind)
        peft_model.save_pretrained(folder)
        peft_models[kind] = peft_model.eval()
        ours[kind] = load_adapter(folder, backend.linears, name=kind, dtype=backend.dtype)
    prompts = [base.tokenizer.chat_ids([{"role": "user", "content": t}]) for t in TEXTS]
    return backend, peft_models, ours, prompts


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_logits_and_greedy_text_equal_peft(kind: str, setup) -> None:  # type: ignore[no-untyped-def]
    backend, peft_models, ours, prompts = setup
    adapter: AdapterWeights = ours[kind]
    engine = Engine(backend)
    for prompt in prompts:
        # PEFT's DoRA recomputes every weight norm at every forward unless asked to cache them (same values); the
        # prompt's last logits are those of the reference run's first step (raw, before any logits processor)
        with torch.inference_mode(), DoraCaching():
            run = peft_models[kind].generate(
                input_ids=torch.tensor([prompt]), max_new_tokens=16, min_new_tokens=16, do_sample=False,
                repetition_penalty=1.0, output_logits=True, return_dict_in_generate=True,
            )
        expected, reference = run.logits[0][0], run.sequences[0, len(prompt):].tolist()
        logits, _ = backend.prefill([prompt], [((adapter, 1.0),)])
        torch.testing.assert_close(logits[0], expected, rtol=1e-3, atol=1e-3)
        [completion] = engine.generate([prompt], SamplingParams(max_new_tokens=16), [((adapter, 1.0),)])
        assert completion.token_ids == reference


def test_mixed_batch_rows_equal_rows_alone(setup) -> None:  # type: ignore[no-untyped-def]
    backend, _, ours, prompts = setup
    rows = [((ours["lora"], 1.0),), ((ours["dora"], 1.0),), (), ((ours["ia3"], 1.0),),
            ((ours["lora"], 0.5), (ours["ia3"], 0.5))]
    batch_prompts = [prompts[i % len(prompts)] for i in range(len(rows))]
    engine = Engine(backend)
    params = SamplingParams(max_new_tokens=12)
    together = engine.generate(batch_prompts, params, rows)
    for prompt, row, completion in zip(batch_prompts, rows, together, strict=True):
        assert completion.token_ids == engine.generate([prompt], params, [row])[0].token_ids


@pytest.fixture(scope="module")
def client_with_experts(setup, model_home: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A client on a fresh MOE_HOME (sharing the converted base) with the LoRA and DoRA experts installed
    through real packages and the registry."""
    from moe_system import MoEClient
    from moe_system.base import base_model_dir
    from moe_system.base.fingerprint import base_sha256
    from moe_system.config import BaseModelSettings
    from moe_system.experts.package import build_package
    from moe_system.experts.registry import Registry

    _, peft_models, _, _ = setup
    home = tmp_path_factory.mktemp("sdk_home")
    settings = Settings(home=home, base=BaseModelSettings(name=str(base_model_dir(Settings(home=model_home)))))
    sha = base_sha256(settings)
    with Registry(settings) as registry:
        for name, kind in (("alpha", "lora"), ("beta", "dora")):
            source = tmp_path_factory.mktemp(f"src_{name}")
            peft_models[kind].save_pretrained(source)
            package = source.parent / f"{name}.expert"
            build_package(source, package, name=name, version="1.0.0", base_name="smollm2", base_sha256=sha)
            registry.install(package, base_sha256=sha, allow_unsigned=True)
    return MoEClient(settings)


def test_sdk_answers_with_an_installed_expert_like_the_engine(client_with_experts, setup) -> None:  # type: ignore[no-untyped-def]
    """`expert="alpha"` loads the installed package's adapter once and answers exactly as the engine does
    with that adapter; pins, compositions and unknown names behave as documented."""
    from moe_system.errors import ExpertError

    client = client_with_experts
    _, _, ours, _ = setup
    text = TEXTS[0]
    answer = client.generate(text, expert="alpha", max_tokens=12)
    assert answer.expert == "alpha" and answer.routing["strategy"] == "explicit"
    runtime = client.runtime
    ids = runtime.prompt_ids([{"role": "user", "content": text}], client.settings.generation.system_prompt)
    params = runtime.sampling_params(client.settings.generation, max_tokens=12)
    [direct] = runtime.engine.generate([ids], params, [((ours["lora"], 1.0),)])
    assert answer.text == direct.text
    adapted, _ = runtime.engine.backend.prefill([ids], [((ours["lora"], 1.0),)])
    plain, _ = runtime.engine.backend.prefill([ids])
    assert not torch.allclose(adapted, plain, atol=1e-3), "the expert changes the model's output"

    assert client.generate(text, expert="alpha@1.0.0", max_tokens=12).text == answer.text
    assert runtime.experts.stats.misses == 1 and runtime.experts.stats.hits >= 1  # loaded once, then cached
    mixed = client.generate(text, expert={"alpha": 0.5, "beta": 0.5}, max_tokens=8)
    assert mixed.expert == "alpha,beta"
    assert [c["expert"] for c in mixed.routing["candidates"]] == ["alpha", "beta"]
    with pytest.raises(ExpertError, match="not installed"):
        client.generate(text, expert="gamma")
