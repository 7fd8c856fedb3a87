"""Logit processing and seeded sampling match transformers' semantics and are reproducible.

The processors are compared with transformers' own `LogitsProcessor`s on random logits; whole sampled
generations are compared with `model.generate(do_sample=True)` under the same seed.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
import torch
from transformers import PreTrainedModel
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from moe_system.engine import Engine, SamplingParams, build_backend
from moe_system.engine.sampling import apply_repetition_penalty, choose_token, warp
from moe_system.errors import InvalidRequestError

from .conftest import HFGenerate

Kind = Literal["native", "hf"]
KINDS: tuple[Kind, ...] = ("native", "hf")
V = 97
PROMPT = [3, 14, 15, 92, 65, 35, 89, 79]
OTHER_PROMPT = [40, 41, 42]


def random_logits(seed: int, scale: float = 3.0) -> torch.Tensor:
    """[V] logits with both signs, as a model produces them."""
    return torch.randn(V, generator=torch.Generator().manual_seed(seed)) * scale


def sample(model: PreTrainedModel, kind: Kind, prompts: list[list[int]], params: Any) -> list[list[int]]:
    return [c.token_ids for c in Engine(build_backend(model, kind)).generate(prompts, params)]


# ---- processors against transformers


@pytest.mark.parametrize("penalty", (1.3, 0.7, 2.0))
@pytest.mark.parametrize("seed", range(3))
def test_repetition_penalty_matches_transformers(penalty: float, seed: int) -> None:
    """Positive logits of seen ids are divided, negative ones multiplied, each id once however often it
    was seen; every other logit is untouched."""
    logits = random_logits(seed)
    seen = torch.randint(0, V, (30,), generator=torch.Generator().manual_seed(100 + seed))  # with repeats
    expected = RepetitionPenaltyLogitsProcessor(penalty)(seen[None], logits[None].clone())[0]
    got = apply_repetition_penalty(logits, seen, penalty)
    torch.testing.assert_close(got, expected, atol=0, rtol=0)
    untouched = torch.ones(V, dtype=torch.bool)
    untouched[seen] = False
    assert torch.equal(got[untouched], logits[untouched])
    assert not torch.equal(got, logits)


def test_repetition_penalty_of_one_or_nothing_seen_is_identity() -> None:
    """Penalty 1.0, or an empty history, leaves the logits exactly as they were."""
    logits = random_logits(0)
    assert torch.equal(apply_repetition_penalty(logits, torch.tensor([1, 2, 3]), 1.0), logits)
    assert torch.equal(apply_repetition_penalty(logits, torch.empty(0, dtype=torch.long), 1.5), logits)


WARP_CASES = [
    (1.0, 0, 0.9),
    (0.7, 0, 1.0),
    (1.3, 10, 1.0),
    (0.5, 20, 0.8),
    (1.0, 1, 1.0),
    (2.0, 50, 0.3),
    (1.0, 0, 0.01),
    (0.9, V, 0.95),  # top_k equal to the vocabulary: no-op
    (1.0, 5, 0.999),
    (1.0, 0, 1e-9),  # float32 cumsum of the top token can fall below 1 - top_p: it must still be kept
    (0.3, 0, 1e-6),
]


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), WARP_CASES)
@pytest.mark.parametrize("seed", range(3))
def test_warp_matches_transformers_warpers(temperature: float, top_k: int, top_p: float, seed: int) -> None:
    """Temperature, then top-k, then top-p filter exactly the tokens transformers filters (-inf at the
    same places) and scale the survivors identically."""
    logits = random_logits(seed)
    chain = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
    if top_k:
        chain.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        chain.append(TopPLogitsWarper(top_p))
    expected = chain(torch.zeros(1, 1, dtype=torch.long), logits[None].clone())[0]
    got = warp(logits, SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p))
    assert torch.equal(torch.isinf(got), torch.isinf(expected))
    torch.testing.assert_close(got, expected)
    kept = int(torch.isfinite(got).sum())
    assert kept >= 1
    if 0 < top_k < V:
        assert kept <= top_k


def test_warp_top_p_keeps_smallest_nucleus() -> None:
    """Hand-checked nucleus: probabilities 0.5, 0.3, 0.15, 0.05 with top_p 0.75 keep the first two only."""
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    got = warp(logits, SamplingParams(temperature=1.0, top_p=0.75))
    assert torch.isfinite(got).tolist() == [True, True, False, False]
    got = warp(logits, SamplingParams(temperature=1.0, top_p=0.81))
    assert torch.isfinite(got).tolist() == [True, True, True, False]


def test_warp_top_p_boundary_is_inclusive() -> None:
    """Four equally likely tokens (exact quarters) and top_p 0.5: the cumulative mass of the two least
    likely is exactly 1 - top_p, so they go and two tokens stay, as in transformers (`<=`)."""
    logits = torch.zeros(4)
    got = warp(logits, SamplingParams(temperature=1.0, top_p=0.5))
    expected = TopPLogitsWarper(0.5)(torch.zeros(1, 1, dtype=torch.long), logits[None].clone())[0]
    assert int(torch.isfinite(got).sum()) == 2
    assert torch.equal(torch.isinf(got), torch.isinf(expected))


@pytest.mark.parametrize("seed", range(5))
def test_tiny_top_p_samples_the_argmax(seed: int) -> None:
    """A nucleus smaller than any single token keeps exactly the most likely one, so sampling returns
    the argmax instead of failing on an all -inf distribution."""
    logits = random_logits(seed, scale=0.01)  # near-uniform: float32 rounding matters most here
    params = SamplingParams(temperature=1.0, top_p=1e-9)
    assert int(torch.isfinite(warp(logits, params)).sum()) == 1
    gen = torch.Generator().manual_seed(seed)
    assert choose_token(logits, torch.empty(0, dtype=torch.long), params, gen) == int(logits.argmax())


def test_choose_token_greedy_is_argmax_after_penalty() -> None:
    """Greedy choice is the argmax of the penalised logits and needs no generator."""
    logits = torch.tensor([1.0, 3.0, 2.9, -1.0])
    assert choose_token(logits, torch.empty(0, dtype=torch.long), SamplingParams(), None) == 1
    penalised = SamplingParams(repetition_penalty=1.5)
    assert choose_token(logits, torch.tensor([1]), penalised, None) == 2  # 3.0 / 1.5 < 2.9


def test_choose_token_top_k_one_is_deterministic() -> None:
    """With top_k=1 sampling can only return the argmax, whatever the seed."""
    logits = random_logits(7)
    params = SamplingParams(temperature=1.5, top_k=1)
    for seed in range(10):
        gen = torch.Generator().manual_seed(seed)
        assert choose_token(logits, torch.empty(0, dtype=torch.long), params, gen) == int(logits.argmax())


# ---- sampled generation


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "options",
    [
        dict(temperature=1.0),
        dict(temperature=0.8, top_k=20, top_p=0.9, repetition_penalty=1.3),
        dict(temperature=1.5, top_p=0.5),
    ],
)
def test_seeded_sampling_matches_hf_generate(
    tiny_llama: PreTrainedModel, hf_generate: HFGenerate, kind: Kind, options: dict[str, Any]
) -> None:
    """A request with `seed=s` draws the same tokens as `model.generate(do_sample=True)` after
    `torch.manual_seed(s)`: same processors, same order, same multinomial stream."""
    seed = 1234
    [tokens] = sample(tiny_llama, kind, [PROMPT], SamplingParams(max_new_tokens=20, seed=seed, **options))
    torch.manual_seed(seed)
    hf_options = {"top_k": 0, **options}  # transformers' generate defaults to top_k=50; ours to off
    assert tokens == hf_generate(tiny_llama, PROMPT, 20, do_sample=True, **hf_options)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_tokens_different_seed_different_tokens(tiny_llama: PreTrainedModel, kind: Kind) -> None:
    """Seeded sampling is reproducible, and the seed really drives it."""
    first = sample(tiny_llama, kind, [PROMPT], SamplingParams(max_new_tokens=20, temperature=1.0, seed=7))
    again = sample(tiny_llama, kind, [PROMPT], SamplingParams(max_new_tokens=20, temperature=1.0, seed=7))
    other = sample(tiny_llama, kind, [PROMPT], SamplingParams(max_new_tokens=20, temperature=1.0, seed=8))
    assert first == again
    assert first != other
    assert len(first[0]) == len(other[0]) == 20


@pytest.mark.parametrize("kind", KINDS)
def test_seed_is_independent_of_batch_company(tiny_llama: PreTrainedModel, kind: Kind) -> None:
    """A seeded request gives the same tokens alone and in a batch with another (shorter, differently
    seeded) prompt: every row owns its generator."""
    mine = SamplingParams(max_new_tokens=20, temperature=1.0, seed=11)
    theirs = SamplingParams(max_new_tokens=20, temperature=1.0, seed=99)
    [alone] = sample(tiny_llama, kind, [PROMPT], mine)
    together = sample(tiny_llama, kind, [OTHER_PROMPT, PROMPT], [theirs, mine])
    assert together[1] == alone
    [other_alone] = sample(tiny_llama, kind, [OTHER_PROMPT], theirs)
    assert together[0] == other_alone


def test_same_params_object_for_a_batch_gives_each_row_its_own_generator(tiny_llama: PreTrainedModel) -> None:
    """One seeded SamplingParams shared by two identical prompts gives both rows the same draw, as two
    separate requests with that seed would."""
    params = SamplingParams(max_new_tokens=15, temperature=1.0, seed=5)
    rows = sample(tiny_llama, "native", [PROMPT, PROMPT], params)
    assert rows[0] == rows[1] == sample(tiny_llama, "native", [PROMPT], params)[0]


def test_unseeded_request_leaves_global_rng_alone(tiny_llama: PreTrainedModel) -> None:
    """Sampling without a seed must not change the process-wide torch RNG that the caller may have seeded
    (it should seed only the row's own generator, e.g. with `generator.seed()`)."""
    engine = Engine(build_backend(tiny_llama, "native"))
    torch.manual_seed(42)
    expected = torch.rand(4)
    torch.manual_seed(42)
    engine.generate([PROMPT], SamplingParams(max_new_tokens=2, temperature=1.0))
    assert torch.equal(torch.rand(4), expected)


# ---- validation


@pytest.mark.parametrize(
    "bad",
    [
        dict(top_p=0.0),
        dict(top_p=1.5),
        dict(top_p=-0.1),
        dict(temperature=-1.0),
        dict(max_new_tokens=0),
        dict(max_new_tokens=-5),
        dict(top_k=-1),
        dict(repetition_penalty=0.0),
        dict(time_budget_s=0.0),
        dict(stop_strings=("",)),
        dict(stop_strings=("ok", "")),
    ],
)
def test_invalid_params_raise_invalid_request(bad: dict[str, Any]) -> None:
    """Every out-of-range value is rejected at construction with the user-facing error type."""
    with pytest.raises(InvalidRequestError):
        SamplingParams(**bad)


def test_valid_edge_params_are_accepted() -> None:
    """The boundaries themselves are legal: greedy, top_p=1, top_k=0 (off), one token."""
    params = SamplingParams(max_new_tokens=1, temperature=0.0, top_k=0, top_p=1.0, stop_strings=("x",))
    assert params.greedy
    assert not SamplingParams(temperature=0.1).greedy
