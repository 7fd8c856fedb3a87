"""The decode loop: stop conditions, limits, errors, streaming events and per-row parameters.

The tiny Llama's token ids 0..96 are decoded as raw bytes (all ASCII), so the text of a run is one
character per token and stop strings can be picked from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import pytest
from transformers import PreTrainedModel

from moe_system.engine import Completion, Engine, Event, SamplingParams, build_backend
from moe_system.errors import ContextLengthError, InvalidRequestError

from .conftest import HFGenerate

Kind = Literal["native", "hf"]
KINDS: tuple[Kind, ...] = ("native", "hf")
Decode = Callable[[Sequence[int]], str]
PROMPT = [3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46]
OTHER = [7, 8, 9]


def make_engine(
    model: PreTrainedModel, kind: Kind, decode: Decode | None = None, **backend_kwargs: int
) -> Engine:
    return Engine(build_backend(model, kind, **backend_kwargs), decode=decode)


def first_new_token_at(tokens: list[int], start: int) -> tuple[int, int]:
    """A token whose first occurrence in `tokens` is at index >= `start`: (token, that index)."""
    for index in range(start, len(tokens)):
        if tokens.index(tokens[index]) == index:
            return tokens[index], index
    raise AssertionError(f"no fresh token after {start} in {tokens}")


# ---- stop conditions and limits


@pytest.mark.parametrize("kind", KINDS)
def test_stop_token_ends_with_stop_and_is_excluded(
    tiny_llama: PreTrainedModel, hf_generate: HFGenerate, kind: Kind
) -> None:
    """A request's stop token ends it with finish_reason 'stop'; the tokens before it are the greedy ones
    and the stop token itself is not in `token_ids`."""
    reference = hf_generate(tiny_llama, PROMPT, 30)
    stop, index = first_new_token_at(reference, 4)
    params = SamplingParams(max_new_tokens=30, stop_token_ids=(stop,))
    [completion] = make_engine(tiny_llama, kind).generate([PROMPT], params)
    assert completion.finish_reason == "stop"
    assert completion.token_ids == reference[:index]
    assert stop not in completion.token_ids
    assert completion.completion_tokens == index


def test_engine_wide_stop_token(tiny_llama: PreTrainedModel, hf_generate: HFGenerate) -> None:
    """Stop ids given to the Engine (the tokenizer's EOS) apply to every request."""
    reference = hf_generate(tiny_llama, PROMPT, 30)
    stop, index = first_new_token_at(reference, 2)
    engine = Engine(build_backend(tiny_llama, "native"), stop_token_ids=(stop,))
    [completion] = engine.generate([PROMPT], SamplingParams(max_new_tokens=30))
    assert (completion.finish_reason, completion.token_ids) == ("stop", reference[:index])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("limit", (1, 7))
def test_max_new_tokens_gives_length(tiny_llama: PreTrainedModel, kind: Kind, limit: int) -> None:
    """Exactly `max_new_tokens` tokens, finish_reason 'length'."""
    [completion] = make_engine(tiny_llama, kind).generate([PROMPT], SamplingParams(max_new_tokens=limit))
    assert completion.finish_reason == "length"
    assert len(completion.token_ids) == limit
    assert completion.prompt_tokens == len(PROMPT)


@pytest.mark.parametrize("kind", KINDS)
def test_time_budget(tiny_llama: PreTrainedModel, kind: Kind) -> None:
    """A budget that is over before the first token still yields that token, then stops with 'time'."""
    params = SamplingParams(max_new_tokens=50, time_budget_s=1e-9)
    [completion] = make_engine(tiny_llama, kind).generate([PROMPT], params)
    assert completion.finish_reason == "time"
    assert len(completion.token_ids) == 1


def test_generous_time_budget_does_not_stop(tiny_llama: PreTrainedModel) -> None:
    """A budget that is not spent leaves the other limits in charge."""
    params = SamplingParams(max_new_tokens=5, time_budget_s=3600.0)
    [completion] = make_engine(tiny_llama, "native").generate([PROMPT], params)
    assert (completion.finish_reason, len(completion.token_ids)) == ("length", 5)


@pytest.mark.parametrize("kind", KINDS)
def test_stop_string_end_to_end(tiny_llama: PreTrainedModel, decode: Decode, kind: Kind) -> None:
    """A stop string taken from a greedy run's text: the rerun's text is cut right before its first
    occurrence, finish_reason is 'stop', and generation ended on the token that completed it."""
    engine = make_engine(tiny_llama, kind, decode)
    [free] = engine.generate([PROMPT], SamplingParams(max_new_tokens=40))
    assert free.text == decode(free.token_ids)
    stop = free.text[12:14]
    cut = free.text.find(stop)
    [completion] = engine.generate([PROMPT], SamplingParams(max_new_tokens=40, stop_strings=(stop,)))
    assert completion.finish_reason == "stop"
    assert completion.text == free.text[:cut]
    assert stop not in completion.text
    assert completion.token_ids == free.token_ids[: cut + len(stop)]


def test_stop_string_that_never_occurs(tiny_llama: PreTrainedModel, decode: Decode) -> None:
    """A stop string that is never generated (byte 127 is outside the vocabulary) changes nothing,
    even though it begins with a character the model does produce: the held character comes back."""
    engine = make_engine(tiny_llama, "native", decode)
    [free] = engine.generate([PROMPT], SamplingParams(max_new_tokens=25))
    held = free.text[-1] + "\x7f"
    [completion] = engine.generate([PROMPT], SamplingParams(max_new_tokens=25, stop_strings=(held,)))
    assert (completion.finish_reason, completion.text, completion.token_ids) == ("length", free.text, free.token_ids)


# ---- errors


@pytest.mark.parametrize("kind", KINDS)
def test_prompt_filling_the_context_is_rejected(tiny_llama: PreTrainedModel, kind: Kind) -> None:
    """A prompt of context length or more leaves no room for a token: ContextLengthError."""
    with pytest.raises(ContextLengthError):
        make_engine(tiny_llama, kind).generate([[1] * 128], SamplingParams())
    small = make_engine(tiny_llama, kind, context_length=16)
    with pytest.raises(ContextLengthError):
        small.generate([[1] * 16], SamplingParams())
    with pytest.raises(ContextLengthError):
        small.generate([[1] * 20], SamplingParams())


@pytest.mark.parametrize("kind", KINDS)
def test_max_new_tokens_is_capped_by_the_context(tiny_llama: PreTrainedModel, kind: Kind) -> None:
    """With a 16-token context a 10-token prompt gets at most 6 new tokens; a 15-token prompt one."""
    engine = make_engine(tiny_llama, kind, context_length=16)
    short, full = engine.generate([[5] * 10, [6] * 15], SamplingParams(max_new_tokens=100))
    assert (short.finish_reason, len(short.token_ids)) == ("length", 6)
    assert (full.finish_reason, len(full.token_ids)) == ("length", 1)


def test_empty_prompt_is_rejected(tiny_llama: PreTrainedModel) -> None:
    """An empty prompt, alone or among others, is an invalid request (not a crash in the backend)."""
    engine = make_engine(tiny_llama, "native")
    with pytest.raises(InvalidRequestError):
        engine.generate([[]], SamplingParams())
    with pytest.raises(InvalidRequestError):
        engine.generate([PROMPT, []], SamplingParams())


def test_stop_strings_need_a_decoder(tiny_llama: PreTrainedModel) -> None:
    """Stop strings cannot be watched without a decode function."""
    with pytest.raises(InvalidRequestError):
        make_engine(tiny_llama, "native").generate([PROMPT], SamplingParams(stop_strings=("x",)))


def test_params_list_must_match_prompts(tiny_llama: PreTrainedModel) -> None:
    """One SamplingParams per prompt, or a single one for all."""
    with pytest.raises(InvalidRequestError):
        make_engine(tiny_llama, "native").generate([PROMPT, OTHER], [SamplingParams()])


def test_no_prompts_no_completions(tiny_llama: PreTrainedModel) -> None:
    """An empty batch is not an error."""
    assert make_engine(tiny_llama, "native").generate([], SamplingParams()) == []


# ---- streaming


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_stop_string", (False, True))
def test_stream_deltas_add_up_to_the_text(
    tiny_llama: PreTrainedModel, decode: Decode, kind: Kind, with_stop_string: bool
) -> None:
    """Streamed deltas concatenate to the completion's text; one event per token; only the last event
    carries the completion."""
    engine = make_engine(tiny_llama, kind, decode)
    [free] = engine.generate([PROMPT], SamplingParams(max_new_tokens=30))
    stops = (free.text[20:22],) if with_stop_string else ()
    events: list[Event] = list(engine.stream(PROMPT, SamplingParams(max_new_tokens=30, stop_strings=stops)))

    final = events[-1].completion
    assert final is not None
    assert all(e.completion is None for e in events[:-1])
    assert "".join(e.delta for e in events) == final.text
    assert [e.token_id for e in events[:-1]] == final.token_ids
    assert {e.row for e in events} == {0}
    if with_stop_string:
        assert final.finish_reason == "stop"
        assert final.text == free.text[: free.text.find(stops[0])]
    else:
        assert final.text == free.text


def test_held_text_comes_out_in_the_final_event(tiny_llama: PreTrainedModel, decode: Decode) -> None:
    """Text held back as a possible stop-string prefix at the end is released by the finishing event."""
    engine = make_engine(tiny_llama, "native", decode)
    [free] = engine.generate([PROMPT], SamplingParams(max_new_tokens=12))
    params = SamplingParams(max_new_tokens=12, stop_strings=(free.text[-1] + "\x7f",))
    events = list(engine.stream(PROMPT, params))
    assert events[-1].completion is not None
    assert events[-1].delta == free.text[-1]
    assert "".join(e.delta for e in events) == free.text


# ---- batches


@pytest.mark.parametrize("kind", KINDS)
def test_per_row_params_in_one_batch(tiny_llama: PreTrainedModel, hf_generate: HFGenerate, kind: Kind) -> None:
    """Rows with different limits share a batch: the short row stops after 3 tokens, the row with a stop
    token stops there, and the long row goes on unaffected by the rows leaving the batch."""
    third = [50, 60, 70, 80, 90]
    reference_third = hf_generate(tiny_llama, third, 20)
    stop, index = first_new_token_at(reference_third, 5)
    params = [
        SamplingParams(max_new_tokens=20),
        SamplingParams(max_new_tokens=3),
        SamplingParams(max_new_tokens=20, stop_token_ids=(stop,)),
    ]
    long_row, short_row, stopped = make_engine(tiny_llama, kind).generate([PROMPT, OTHER, third], params)
    assert (long_row.finish_reason, long_row.token_ids) == ("length", hf_generate(tiny_llama, PROMPT, 20))
    assert (short_row.finish_reason, short_row.token_ids) == ("length", hf_generate(tiny_llama, OTHER, 3))
    assert (stopped.finish_reason, stopped.token_ids) == ("stop", reference_third[:index])


@pytest.mark.parametrize("kind", KINDS)
def test_rows_with_the_same_prompt_share_one_prefill(
    tiny_llama: PreTrainedModel, hf_generate: HFGenerate, kind: Kind
) -> None:
    """Best-of-N rows (one prompt, several samplings) are prefilled once and their cache repeated: each row decodes
    exactly as it would alone (greedy rows equal HF; seeded rows equal the same seed alone)."""
    engine = make_engine(tiny_llama, kind)
    prefilled: list[int] = []
    prefill = engine.backend.prefill

    def counting(prompts: Sequence[Sequence[int]], adapters: object = None) -> object:
        prefilled.append(len(prompts))
        return prefill(prompts, adapters)  # type: ignore[arg-type]

    engine.backend.prefill = counting  # type: ignore[method-assign]
    sampled = SamplingParams(max_new_tokens=12, temperature=0.9, seed=5)
    params = [SamplingParams(max_new_tokens=12), sampled, SamplingParams(max_new_tokens=12), sampled]
    greedy, seeded, other, seeded_again = engine.generate([PROMPT, PROMPT, OTHER, PROMPT], params)
    assert prefilled == [2]  # PROMPT once, OTHER once
    assert greedy.token_ids == hf_generate(tiny_llama, PROMPT, 12) and other.token_ids == hf_generate(tiny_llama,
                                                                                                       OTHER, 12)
    alone = engine.generate([PROMPT], sampled)[0]
    assert seeded.token_ids == seeded_again.token_ids == alone.token_ids


@pytest.mark.parametrize("kind", KINDS)
def test_repetition_penalty_matches_hf_greedy(
    tiny_llama: PreTrainedModel, hf_generate: HFGenerate, kind: Kind
) -> None:
    """Greedy decoding with a repetition penalty over prompt + output equals transformers'."""
    params = SamplingParams(max_new_tokens=25, repetition_penalty=1.5)
    [completion] = make_engine(tiny_llama, kind).generate([PROMPT], params)
    assert completion.token_ids == hf_generate(tiny_llama, PROMPT, 25, repetition_penalty=1.5)
    assert completion.token_ids != hf_generate(tiny_llama, PROMPT, 25)  # the penalty did something


def test_batch_events_are_tagged_with_rows(tiny_llama: PreTrainedModel) -> None:
    """`run` tags events with the prompt index; each row gets exactly one completion, in prompt order."""
    engine = make_engine(tiny_llama, "native")
    params = [SamplingParams(max_new_tokens=4), SamplingParams(max_new_tokens=2)]
    events = list(engine.run([PROMPT, OTHER], params))
    done: dict[int, Completion] = {e.row: e.completion for e in events if e.completion is not None}
    assert sorted(done) == [0, 1]
    assert [len(done[0].token_ids), len(done[1].token_ids)] == [4, 2]
    for row in (0, 1):
        assert [e.token_id for e in events if e.row == row and e.completion is None] == done[row].token_ids


def test_timings_are_consistent(tiny_llama: PreTrainedModel) -> None:
    """0 <= time to first token <= total time, per completion."""
    completions = make_engine(tiny_llama, "native").generate([PROMPT, OTHER], SamplingParams(max_new_tokens=6))
    for completion in completions:
        assert 0.0 <= completion.ttft_s <= completion.total_s
