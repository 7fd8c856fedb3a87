"""The engine's backends produce what transformers' own `generate` produces.

Greedy decoding, ragged batches, beam search and long runs (KV-cache growth) are compared token for token
with `model.generate`; prefill and decode logits are compared numerically with a plain forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pytest
import torch
from transformers import MistralConfig, MistralForCausalLM, PreTrainedModel

from moe_system.engine import (
    DecodeBatch,
    Engine,
    HFBackend,
    NativeBackend,
    SamplingParams,
    beam_search,
    build_backend,
)
from moe_system.errors import ConfigError

from .conftest import HFGenerate

Kind = Literal["auto", "native", "hf"]
KINDS: tuple[Kind, ...] = ("native", "hf")
NATIVE_MODELS = ("llama", "qwen2", "qwen3")
PROMPT = [3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46]
RAGGED = [[5, 6, 7], [61, 2, 88, 40, 13, 21, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]


def full_forward_logits(model: PreTrainedModel, ids: Sequence[int]) -> torch.Tensor:
    """Next-token logits [V] after `ids`, from one uncached forward pass over the whole sequence."""
    with torch.inference_mode():
        return model(input_ids=torch.tensor([list(ids)])).logits[0, -1].float()


def greedy(model: PreTrainedModel, kind: Kind, prompts: list[list[int]], max_new_tokens: int) -> list[list[int]]:
    engine = Engine(build_backend(model, kind))
    completions = engine.generate(prompts, SamplingParams(max_new_tokens=max_new_tokens))
    assert [c.finish_reason for c in completions] == ["length"] * len(prompts)
    return [c.token_ids for c in completions]


# ---- backend selection


@pytest.mark.parametrize("name", NATIVE_MODELS)
def test_auto_picks_native_for_llama_family(tiny_models: dict[str, PreTrainedModel], name: str) -> None:
    """`auto` takes the native backend for Llama, Qwen2 (q/k/v bias) and Qwen3 (q/k norms)."""
    assert isinstance(build_backend(tiny_models[name], "auto"), NativeBackend)
    assert isinstance(build_backend(tiny_models[name], "hf"), HFBackend)


def test_gpt2_goes_to_hf_and_native_is_refused(tiny_gpt2: PreTrainedModel) -> None:
    """An unsupported architecture falls back to the HF backend under `auto`; asking for `native` is a
    user error (ConfigError), not a crash."""
    assert isinstance(build_backend(tiny_gpt2, "auto"), HFBackend)
    with pytest.raises(ConfigError, match="gpt2"):
        build_backend(tiny_gpt2, "native")


def test_quantization_that_cannot_run_as_asked_warns_once_and_runs(
    tiny_llama: PreTrainedModel, tiny_gpt2: PreTrainedModel
) -> None:
    """int4 on shapes the int4 kernel cannot pack (the tiny Llama's 32 input channels) runs int8; the hf backend
    runs float weights; each says so in one line."""
    lines: list[str] = []

    def not_calibrated(*_: object) -> dict[str, dict[str, torch.Tensor]]:
        raise AssertionError("calibrated for a backend that runs float weights")

    hf = build_backend(tiny_gpt2, "auto", quantization="int8", warn=lines.append, calibration=not_calibrated)
    assert isinstance(hf, HFBackend) and hf.quantization == "none"
    native = build_backend(tiny_llama, "native", quantization="int4", warn=lines.append)
    assert native.quantization == ("int8" if "fbgemm" in torch.backends.quantized.supported_engines else "none")
    assert len(lines) == 2 and all("\n" not in line for line in lines)
    assert build_backend(tiny_llama, "native", quantization="none", warn=lines.append,
                         calibration=not_calibrated).quantization == "none"
    assert len(lines) == 2


def test_sliding_window_model_is_not_native() -> None:
    """A Mistral whose sliding window is shorter than its context is computed differently from full
    attention, so `auto` must not route it to the native backend."""
    torch.manual_seed(0)
    cfg = MistralConfig(
        vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, sliding_window=16,
    )
    assert isinstance(build_backend(MistralForCausalLM(cfg).eval(), "auto"), HFBackend)


def test_context_length_override(tiny_llama: PreTrainedModel) -> None:
    """The context defaults to max_position_embeddings and can be capped explicitly."""
    for kind in KINDS:
        assert build_backend(tiny_llama, kind).context_length == 128
        assert build_backend(tiny_llama, kind, context_length=40).context_length == 40


# ---- logits


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NATIVE_MODELS)
def test_prefill_and_decode_logits_match_forward(
    tiny_models: dict[str, PreTrainedModel], name: str, kind: Kind
) -> None:
    """Prefill logits of a ragged batch, and the logits of two decode steps after it, equal an uncached
    forward pass over each row's own sequence (so padding never leaks into a row)."""
    model = tiny_models[name]
    backend = build_backend(model, kind)
    logits, state = backend.prefill(RAGGED)
    assert logits.shape == (len(RAGGED), 97)
    assert logits.dtype == torch.float32
    expected = torch.stack([full_forward_logits(model, p) for p in RAGGED])
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)

    sequences = [list(p) for p in RAGGED]
    for step_tokens in ([17, 18, 19], [50, 51, 52]):
        logits = backend.decode(state, torch.tensor(step_tokens))
        for seq, tok in zip(sequences, step_tokens, strict=True):
            seq.append(tok)
        expected = torch.stack([full_forward_logits(model, s) for s in sequences])
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_native_logits_equal_hf_logits(tiny_llama: PreTrainedModel) -> None:
    """The native forward and the HF backend agree on a ragged prefill."""
    native, _ = build_backend(tiny_llama, "native").prefill(RAGGED)
    hf, _ = build_backend(tiny_llama, "hf").prefill(RAGGED)
    torch.testing.assert_close(native, hf, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_select_reorders_and_drops_rows(tiny_llama: PreTrainedModel, kind: Kind) -> None:
    """`select` keeps / reorders / repeats cache rows: after selecting rows [2, 0, 0] a decode step
    gives each new row the logits of its source sequence."""
    backend = build_backend(tiny_llama, kind)
    _, state = backend.prefill(RAGGED)
    state = backend.select(state, torch.tensor([2, 0, 0]))
    logits = backend.decode(state, torch.tensor([7, 7, 8]))
    expected = torch.stack([
        full_forward_logits(tiny_llama, [*RAGGED[2], 7]),
        full_forward_logits(tiny_llama, [*RAGGED[0], 7]),
        full_forward_logits(tiny_llama, [*RAGGED[0], 8]),
    ])
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


# ---- greedy generation


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NATIVE_MODELS)
def test_greedy_matches_hf_generate(
    tiny_models: dict[str, PreTrainedModel], hf_generate: HFGenerate, name: str, kind: Kind
) -> None:
    """Greedy tokens of one prompt equal `model.generate(do_sample=False)` token for token."""
    model = tiny_models[name]
    [tokens] = greedy(model, kind, [PROMPT], 24)
    assert tokens == hf_generate(model, PROMPT, 24)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NATIVE_MODELS)
def test_ragged_batch_matches_single_prompt_references(
    tiny_models: dict[str, PreTrainedModel], hf_generate: HFGenerate, name: str, kind: Kind
) -> None:
    """Three prompts of lengths 3, 7 and 12 decoded together each give exactly what the prompt gives
    alone: per-row positions and padding are right."""
    model = tiny_models[name]
    got = greedy(model, kind, RAGGED, 16)
    assert got == [hf_generate(model, p, 16) for p in RAGGED]


@pytest.mark.parametrize("kind", KINDS)
def test_join_appends_rows_with_their_own_positions(tiny_llama: PreTrainedModel, kind: Kind) -> None:
    """`join` of two separately prefilled states decodes each row as its own sequence."""
    backend = build_backend(tiny_llama, kind)
    _, first = backend.prefill(RAGGED[:2])
    _, second = backend.prefill(RAGGED[2:])
    logits = backend.decode(backend.join(first, second), torch.tensor([7, 8, 9]))
    expected = torch.stack([full_forward_logits(tiny_llama, [*p, t]) for p, t in zip(RAGGED, [7, 8, 9], strict=True)])
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_requests_joining_a_running_batch_decode_as_if_alone(tiny_llama: PreTrainedModel, kind: Kind) -> None:
    """Continuous batching: requests admitted after the batch started decoding (and one admitted after it
    emptied) give exactly their solo greedy tokens; a cancelled row leaves at once, the others go on."""
    engine = Engine(build_backend(tiny_llama, kind))
    params = SamplingParams(max_new_tokens=10)
    alone = [engine.generate([prompt], params)[0].token_ids for prompt in [*RAGGED, PROMPT]]
    batch = DecodeBatch(engine)
    arrivals = {0: [RAGGED[0]], 3: [RAGGED[1]], 5: [RAGGED[2], PROMPT]}
    finished: dict[int, list[int]] = {}
    reasons: dict[int, str] = {}
    for step in range(40):
        if step in arrivals:
            batch.admit(arrivals[step], params)
        if step == 7:
            batch.cancel(3)
        for event in batch.step() if batch.rows else []:
            if event.completion is not None:
                finished[event.row], reasons[event.row] = event.completion.token_ids, event.completion.finish_reason
    assert reasons == {0: "length", 1: "length", 2: "length", 3: "cancelled"}
    assert [finished[i] for i in range(3)] == alone[:3]
    assert finished[3] == alone[3][:len(finished[3])] and 0 < len(finished[3]) < 10
    late = DecodeBatch(engine)
    assert late.admit([PROMPT], params) == [0] and late.step() and late.rows


def test_gpt2_through_auto_matches_hf(tiny_gpt2: PreTrainedModel, hf_generate: HFGenerate) -> None:
    """The generic backend drives a non-Llama model (learned positions, its own cache) correctly,
    single prompt and ragged batch alike."""
    got = greedy(tiny_gpt2, "auto", RAGGED, 16)
    assert got == [hf_generate(tiny_gpt2, p, 16) for p in RAGGED]


@pytest.mark.parametrize("kind", KINDS)
def test_cache_growth_long_generation(tiny_llama_256: PreTrainedModel, hf_generate: HFGenerate, kind: Kind) -> None:
    """150 new tokens after a 11-token prompt run far past the native cache's initial capacity
    (prompt + 64), so the cache grows twice; the tokens still equal transformers'."""
    [tokens] = greedy(tiny_llama_256, kind, [PROMPT], 150)
    assert len(tokens) == 150
    assert tokens == hf_generate(tiny_llama_256, PROMPT, 150)


def test_native_cache_grows_and_is_capped_at_context(tiny_llama_256: PreTrainedModel) -> None:
    """The native KV cache starts at prompt + 64 slots, grows on demand up to the context length, and
    logits after the growth still equal an uncached forward pass."""
    backend = build_backend(tiny_llama_256, "native")
    assert isinstance(backend, NativeBackend)
    _, cache = backend.prefill([PROMPT])
    assert cache.capacity == len(PROMPT) + 64
    sequence = list(PROMPT)
    logits = torch.empty(0)
    for step in range(200):
        token = (step * 7) % 96 + 1
        logits = backend.decode(cache, torch.tensor([token]))
        sequence.append(token)
    assert int(cache.lengths[0]) == len(sequence)
    assert len(sequence) < cache.capacity <= backend.context_length
    torch.testing.assert_close(logits[0], full_forward_logits(tiny_llama_256, sequence), atol=1e-4, rtol=1e-4)


# ---- beam search


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ("llama", "qwen2"))
def test_beam_search_matches_hf(
    tiny_models: dict[str, PreTrainedModel], hf_generate: HFGenerate, name: str, kind: Kind
) -> None:
    """3-beam search without a stop token returns the sequence of `generate(num_beams=3)`."""
    model = tiny_models[name]
    hypothesis = beam_search(build_backend(model, kind), PROMPT, num_beams=3, max_new_tokens=10)
    expected = hf_generate(model, PROMPT, 10, num_beams=3)
    assert hypothesis.token_ids == expected
    assert len(hypothesis.token_ids) == 10


@pytest.mark.parametrize("length_penalty", (1.0, 0.5, 2.0))
@pytest.mark.parametrize("kind", KINDS)
def test_beam_search_with_stop_token_matches_hf(
    tiny_llama: PreTrainedModel, hf_generate: HFGenerate, kind: Kind, length_penalty: float
) -> None:
    """With a stop token, finished hypotheses and the length penalty rank beams as transformers does
    (its EOS ends the returned sequence; ours excludes it)."""
    prompt = PROMPT[:5]
    free = hf_generate(tiny_llama, prompt, 12, num_beams=4)
    ended_early = 0
    for stop in dict.fromkeys(free[:4]):  # tokens the search is likely to hit: several distinct cases
        expected = hf_generate(
            tiny_llama, prompt, 12, num_beams=4, eos_token_id=stop, pad_token_id=0, length_penalty=length_penalty
        )
        if stop in expected:
            expected = expected[: expected.index(stop)]
            ended_early += 1
        hypothesis = beam_search(
            build_backend(tiny_llama, kind), prompt, num_beams=4, max_new_tokens=12,
            stop_token_ids=[stop], length_penalty=length_penalty,
        )
        assert hypothesis.token_ids == expected, f"stop token {stop}"
        assert stop not in hypothesis.token_ids
    if length_penalty < 1.0:  # short hypotheses win: the finished-hypothesis path was really taken
        assert ended_early > 0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("prompt", "stop", "length_penalty"),
    [
        ([16, 54, 1, 68, 28, 68], 44, 2.0),
        ([46, 73, 74], 36, 2.0),
        ([65, 51, 4, 89, 50, 20, 30, 20, 20], 42, 1.0),
    ],
)
def test_beam_search_goes_on_while_live_beams_can_win(
    tiny_llama: PreTrainedModel, hf_generate: HFGenerate, kind: Kind, prompt: list[int], stop: int,
    length_penalty: float,
) -> None:
    """Cases where num_beams hypotheses finish early but a live beam later beats the worst of them: the
    search must not stop as soon as the finished list is full (transformers' `early_stopping=False`)."""
    expected = hf_generate(
        tiny_llama, prompt, 12, num_beams=4, eos_token_id=stop, pad_token_id=0, length_penalty=length_penalty
    )
    if stop in expected:
        expected = expected[: expected.index(stop)]
    hypothesis = beam_search(
        build_backend(tiny_llama, kind), prompt, num_beams=4, max_new_tokens=12,
        stop_token_ids=[stop], length_penalty=length_penalty,
    )
    assert hypothesis.token_ids == expected


def test_beam_search_one_beam_is_greedy(tiny_llama: PreTrainedModel, hf_generate: HFGenerate) -> None:
    """A single beam degenerates to greedy decoding."""
    hypothesis = beam_search(build_backend(tiny_llama, "native"), PROMPT, num_beams=1, max_new_tokens=12)
    assert hypothesis.token_ids == hf_generate(tiny_llama, PROMPT, 12)
