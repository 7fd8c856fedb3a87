"""Integration tests on the embedded SmolLM2-135M-Instruct model (converted from the shipped GGUF)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from moe_system.base import base_model_dir, load_base
from moe_system.base.convert import MARKER
from moe_system.config import BaseModelSettings, Settings
from moe_system.engine import Engine, SamplingParams, block_quant, build_backend
from moe_system.engine.kernels import BLOCK_CALIBRATION_METHOD, CALIBRATION_METHOD, best_calibration

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base(model_home: Path):  # type: ignore[no-untyped-def]
    return load_base(Settings(home=model_home))


def test_conversion_cache_is_complete(model_home: Path) -> None:
    """The cached folder has safetensors weights, a tokenizer and the marker with the source hash."""
    folder = base_model_dir(Settings(home=model_home))
    assert (folder / "model.safetensors").stat().st_size > 400e6
    assert (folder / "tokenizer.json").is_file()
    marker = json.loads((folder / MARKER).read_text())
    assert len(marker["source_sha256"]) == 64
    assert not list(folder.parent.glob(f".{folder.name}.*/")), "no staging folder left behind"


def test_greedy_parity_with_transformers_32_tokens(base) -> None:  # type: ignore[no-untyped-def]
    """The native engine's first 32 greedy tokens equal transformers' generate on the same model."""
    prompt = base.tokenizer.chat_ids([{"role": "user", "content": "Write a haiku about the sea."}])
    engine = Engine(build_backend(base.model, "native"))
    ours = engine.generate([prompt], SamplingParams(max_new_tokens=32))[0].token_ids
    with torch.inference_mode():
        ref = base.model.generate(
            torch.tensor([prompt]), max_new_tokens=32, min_new_tokens=32, do_sample=False
        )[0, len(prompt):].tolist()
    assert ours == ref


def test_batched_rows_match_single_rows(base) -> None:  # type: ignore[no-untyped-def]
    """Prompts of different lengths decoded together give the same greedy tokens as alone."""
    texts = ["What is the capital of France?", "Какая столица Франции? Ответь одним словом, пожалуйста."]
    prompts = [base.tokenizer.chat_ids([{"role": "user", "content": t}]) for t in texts]
    assert len(prompts[0]) != len(prompts[1])
    engine = Engine(build_backend(base.model, "native"))
    params = SamplingParams(max_new_tokens=16)
    together = [c.token_ids for c in engine.generate(prompts, params)]
    alone = [engine.generate([p], params)[0].token_ids for p in prompts]
    assert together == alone


def _answers_like_fp32(base, quantized, similarity: float, paris: bool = True) -> None:  # type: ignore[no-untyped-def]
    """`quantized` still says Paris (where `paris`), and its logits after an English and a Russian chat prompt stay
    close to fp32's."""
    fp32 = build_backend(base.model, "native")
    engine = Engine(quantized, decode=base.tokenizer.decode)
    for question in ("What is the capital of France?", "Какая столица Франции?"):
        prompt = base.tokenizer.chat_ids([{"role": "user", "content": question}])
        if question.isascii() and paris:
            assert "Paris" in engine.generate([prompt], SamplingParams(max_new_tokens=16))[0].text
        exact, rounded = fp32.prefill([prompt])[0][0], quantized.prefill([prompt])[0][0]
        assert torch.nn.functional.cosine_similarity(exact, rounded, dim=0) > similarity


@pytest.mark.skipif("fbgemm" not in torch.backends.quantized.supported_engines, reason="no fbgemm in this torch")
def test_fbgemm_int8_base_answers_like_fp32(base, model_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Where the block kernel does not run, int8 runs on fbgemm, calibrated: SmoothQuant factors and float channels
    chosen on the calibration chat."""
    from moe_system.base.quantization import linear_calibration
    from moe_system.engine import block_quant

    monkeypatch.setattr(block_quant, "available", lambda: False)
    calibrated: list[str] = []

    def calibration(choose, method):  # type: ignore[no-untyped-def]
        calibrated.append(method)
        return linear_calibration(base, Settings(home=model_home), choose, method)

    int8 = build_backend(base.model, "native", quantization="int8", calibration=calibration)
    assert int8.quantization == "int8" and calibrated == [CALIBRATION_METHOD]
    chosen = calibration(best_calibration, CALIBRATION_METHOD)
    assert len(chosen) == 211 and {len(held["outliers"]) for held in chosen.values()} == {16, 64}
    assert sum("smooth" in held for held in chosen.values()) > 150  # most of the linears are smoothed
    _answers_like_fp32(base, int8, 0.99)


@pytest.mark.skipif(not block_quant.available(), reason="no AVX-512 VNNI or g++ here")
@pytest.mark.parametrize("quantization", ["int8", "int4"])
def test_block_quantized_base_answers_like_fp32(base, model_home: Path, quantization: str) -> None:  # type: ignore[no-untyped-def]
    """On the block kernel every linear is quantized, calibrated on the calibration chat (cached): int8 with
    SmoothQuant factors, int4 fitting its blocks weighted by each input channel's activations. fp32's first token
    after the France question is a near tie ("The" 15.2%, "L" 14.0%) that int4 tips to "L'Étoile…", so only int8
    is held to "Paris"."""
    from moe_system.base.quantization import linear_calibration

    methods: list[str] = []

    def calibration(choose, method):  # type: ignore[no-untyped-def]
        methods.append(method)
        return linear_calibration(base, Settings(home=model_home), choose, method)

    quantized = build_backend(base.model, "native", quantization=quantization, calibration=calibration)
    assert quantized.quantization == quantization
    assert methods == [BLOCK_CALIBRATION_METHOD if quantization == "int8" else block_quant.INT4_METHOD]
    _answers_like_fp32(base, quantized, 0.99 if quantization == "int8" else 0.97, paris=quantization == "int8")


def test_client_answers_paris(model_home: Path) -> None:
    """The SDK answers the capital-of-France question with Paris, with usage and timings filled in."""
    from moe_system import MoEClient

    client = MoEClient(Settings(home=model_home))
    response = client.generate("What is the capital of France?", expert="none", max_tokens=32)
    assert "Paris" in response.text
    assert response.expert is None
    assert response.usage["prompt_tokens"] > 10 and response.usage["completion_tokens"] > 0
    assert 0 < response.timings["ttft_ms"] <= response.timings["total_ms"]


def test_conversation_is_remembered_by_a_new_client(model_home: Path) -> None:
    """A conversation lives in the memory: another client (as another process would) goes on with it, the
    request carries the remembered fact, and reset forgets it."""
    from moe_system import MoEClient

    first = MoEClient(Settings(home=model_home))
    conversation = first.start_conversation(user_id="u1", conversation_id="colours")
    conversation.send("My favourite colour is green.", max_tokens=16)
    assert [m["role"] for m in conversation.messages] == ["user", "assistant"]
    first.close()

    second = MoEClient(Settings(home=model_home))
    again = second.start_conversation(conversation_id="colours")
    assert again.user_id == "u1" and len(again.messages) == 2
    assert "green" in second.memory.build_context("colours", "Какой мой любимый цвет?", 300).text
    reply = again.send("Какой мой любимый цвет?", max_tokens=16)
    assert reply.usage["prompt_tokens"] > 40  # the remembered turns and facts travel with the request
    assert len(again.messages) == 4
    again.reset()
    assert again.messages == []
    anyone = second.start_conversation(conversation_id="no-user")  # a conversation without a user (a group chat)
    anyone.send("Hello.", max_tokens=4)
    reopened = second.start_conversation(conversation_id="no-user")
    assert reopened.user_id is None
    reopened.send("Hello again.", max_tokens=4)
    assert len(reopened.messages) == 4
    second.close()


def test_streaming_deltas_join_to_text(model_home: Path) -> None:
    """Streamed Russian text arrives in deltas that join to the final answer, no broken characters."""
    from moe_system import MoEClient

    client = MoEClient(Settings(home=model_home))
    stream = client.stream_chat([{"role": "user", "content": "Привет! Как дела?"}], expert="none", max_tokens=40)
    deltas = list(stream)
    assert stream.response is not None
    assert "".join(deltas) == stream.response.text
    assert all("\ufffd" not in d for d in deltas)


def test_batching_client_decodes_concurrent_requests_together(model_home: Path) -> None:
    """`MoEClient(batching=True)`: requests from four threads share decode steps (continuous batching) and, on
    float weights, answer what they answer one at a time; a stream abandoned half-way frees its row. (Attention
    over a batch's different spans sums in another order, about 1e-5 off in the logits: float weights absorb that,
    int8 activation rounding can turn it into another token late in an answer.)"""
    import threading

    from moe_system import MoEClient

    questions = ["What is the capital of France?", "Name a colour.", "Сколько будет два плюс два?", "Say hi."]
    settings = Settings(home=model_home, base=BaseModelSettings(quantization="none"))
    alone = MoEClient(settings)
    expected = [alone.generate(q, expert="none", max_tokens=24, temperature=0.0).text for q in questions]
    client = MoEClient(settings, batching=True)
    answers: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: answers.__setitem__(
        i, client.generate(questions[i], expert="none", max_tokens=24, temperature=0.0).text)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [answers[i] for i in range(4)] == expected
    stream = client.stream_chat([{"role": "user", "content": "Tell me a long story."}], expert="none",
                                max_tokens=200)
    next(iter(stream))
    scheduler = client.runtime.scheduler(client.runtime.engine)
    assert scheduler.active == 1
    stream.close()
    for _ in range(100):
        if scheduler.active == 0:
            break
        threading.Event().wait(0.05)
    assert scheduler.active == 0
    client.close()
