"""Continuous batching with `Scheduler` on a tiny random Llama: requests from several threads share decode steps
and still give exactly their solo greedy tokens; the queue is bounded; cancelled and bad requests leave alone."""

from __future__ import annotations

import threading
import time

import pytest
from transformers import PreTrainedModel

from moe_system.engine import Engine, NativeBackend, SamplingParams
from moe_system.engine.scheduler import QueueFullError, Scheduler, Ticket
from moe_system.errors import ContextLengthError, MoEError

PROMPTS = [[5, 6, 7], [61, 2, 88, 40, 13, 21, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [3, 14, 15, 92, 65]]


@pytest.fixture
def engine(tiny_llama: PreTrainedModel) -> Engine:
    return Engine(NativeBackend(tiny_llama))


def test_requests_from_threads_share_steps_and_match_their_solo_tokens(engine: Engine) -> None:
    params = SamplingParams(max_new_tokens=24)
    alone = [engine.generate([prompt], params)[0].token_ids for prompt in PROMPTS]
    scheduler = Scheduler(engine, max_batch=8)
    results: dict[int, list[int]] = {}
    together: list[int] = []

    def client(index: int) -> None:
        time.sleep(0.01 * index)  # staggered: later ones join a batch that is already decoding
        ticket = scheduler.submit(PROMPTS[index], params)
        together.extend(scheduler.active for _ in ticket)
        assert ticket.completion is not None
        results[index] = ticket.completion.token_ids

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(PROMPTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    scheduler.close()
    assert [results[i] for i in range(len(PROMPTS))] == alone
    assert max(together) > 1, "the requests never decoded together"


def test_the_queue_is_bounded(engine: Engine) -> None:
    scheduler = Scheduler(engine, max_batch=1, max_queue=1)
    long = SamplingParams(max_new_tokens=400)
    first, second = scheduler.submit(PROMPTS[0], long), scheduler.submit(PROMPTS[1], long)
    with pytest.raises(QueueFullError, match="already waiting"):
        scheduler.submit(PROMPTS[2], long)
    for ticket in (second, first):  # the waiting one first: it leaves the queue at once
        ticket.cancel()
        assert list(ticket)[-1].completion.finish_reason == "cancelled"  # type: ignore[union-attr]
    assert scheduler.queued == 0
    scheduler.close()


def test_a_cancelled_request_frees_its_row_and_the_others_go_on(engine: Engine) -> None:
    scheduler = Scheduler(engine)
    params = SamplingParams(max_new_tokens=20)
    keeps = scheduler.submit(PROMPTS[0], params)
    leaves = scheduler.submit(PROMPTS[1], SamplingParams(max_new_tokens=400))
    for seen, _ in enumerate(leaves, start=1):
        if seen == 3:
            leaves.cancel()
    assert leaves.completion is not None and leaves.completion.finish_reason == "cancelled"
    assert 3 <= leaves.completion.completion_tokens < 400
    assert list(keeps)[-1].completion.token_ids == engine.generate([PROMPTS[0]], params)[0].token_ids  # type: ignore[union-attr]
    scheduler.close()


def test_a_bad_request_fails_alone(engine: Engine) -> None:
    scheduler = Scheduler(engine, max_batch=2)
    good = scheduler.submit(PROMPTS[0], SamplingParams(max_new_tokens=60))
    next(iter(good))  # decoding
    bad = scheduler.submit(list(range(1, engine.context_length + 5)), SamplingParams(max_new_tokens=4))
    with pytest.raises(ContextLengthError):
        list(bad)
    assert list(good)[-1].completion.finish_reason == "length"  # type: ignore[union-attr]
    scheduler.close()


def test_closing_fails_what_runs_and_waits(engine: Engine) -> None:
    scheduler = Scheduler(engine, max_batch=1)
    running = scheduler.submit(PROMPTS[0], SamplingParams(max_new_tokens=400))
    next(iter(running))
    waiting = scheduler.submit(PROMPTS[1], SamplingParams(max_new_tokens=4))
    scheduler.close()
    for ticket in (running, waiting):
        with pytest.raises(MoEError, match="closed"):
            list(ticket)
    with pytest.raises(MoEError, match="closed"):
        scheduler.submit(PROMPTS[0], SamplingParams(max_new_tokens=4))


def test_deliver_hands_events_to_a_callback(engine: Engine) -> None:
    scheduler = Scheduler(engine)
    got: list[object] = []
    done = threading.Event()

    def deliver(item: object) -> None:
        got.append(item)
        if getattr(item, "completion", None) is not None:
            done.set()

    ticket: Ticket = scheduler.submit(PROMPTS[3], SamplingParams(max_new_tokens=5), deliver=deliver)
    assert done.wait(30) and ticket.completion is not None and len(got) == 6  # 5 tokens and the final event
    scheduler.close()


def test_arrivals_are_prefilled_together_and_a_bad_one_fails_alone(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = SamplingParams(max_new_tokens=12)
    alone = [engine.generate([prompt], params)[0].token_ids for prompt in PROMPTS]
    scheduler = Scheduler(engine, max_batch=8)
    prefills: list[int] = []
    prefill = engine.backend.prefill
    monkeypatch.setattr(engine.backend, "prefill", lambda prompts, adapters=None: (
        prefills.append(len(prompts)), prefill(prompts, adapters))[1])
    with scheduler._wake:  # hold the loop while all of them arrive, as a burst of requests does
        tickets = [scheduler.submit(prompt, params) for prompt in PROMPTS]
    assert [list(t)[-1].completion.token_ids for t in tickets] == alone  # type: ignore[union-attr]
    assert prefills[0] == len(PROMPTS), prefills

    prefills.clear()
    with scheduler._wake:
        good = scheduler.submit(PROMPTS[0], params)
        bad = scheduler.submit(list(range(1, engine.context_length + 5)), params)
    assert list(good)[-1].completion.token_ids == alone[0]  # type: ignore[union-attr]
    with pytest.raises(ContextLengthError):
        list(bad)
    scheduler.close()


def test_rows_of_one_prompt_arrive_together_and_share_one_prefill(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Best-of-N's rows queue at once, so the loop cannot start the first before the others arrive."""
    greedy = SamplingParams(max_new_tokens=12)
    alone = engine.generate([PROMPTS[1]], greedy)[0].token_ids
    scheduler = Scheduler(engine, max_batch=8, max_queue=0)
    prefills: list[int] = []
    prefill = engine.backend.prefill
    monkeypatch.setattr(engine.backend, "prefill", lambda prompts, adapters=None: (
        prefills.append(len(prompts)), prefill(prompts, adapters))[1])
    rows = [greedy, *(SamplingParams(max_new_tokens=12, temperature=0.8, seed=seed) for seed in range(3))]
    tickets = scheduler.submit_rows(PROMPTS[1], rows)
    assert list(tickets[0])[-1].completion.token_ids == alone  # type: ignore[union-attr]
    assert all(list(ticket)[-1].completion is not None for ticket in tickets[1:])
    assert prefills == [1]  # one forward pass over the prompt for all four rows
    with pytest.raises(QueueFullError):
        scheduler.submit_rows(PROMPTS[1], [greedy] * 9)  # more rows than the batch and the queue hold
    scheduler.close()


def test_the_time_budget_counts_from_arrival_not_admission(engine: Engine) -> None:
    scheduler = Scheduler(engine, max_batch=1)
    with scheduler._wake:  # the loop is busy for 0.5 s (say, the batch is full): the request waits in the queue
        ticket = scheduler.submit(PROMPTS[1], SamplingParams(max_new_tokens=100, time_budget_s=0.3))
        time.sleep(0.5)
    completion = list(ticket)[-1].completion
    assert completion is not None and completion.finish_reason == "time"
    # its 0.3 s were spent waiting: it ends right after its first token, and its times include the wait
    assert len(completion.token_ids) == 1 and completion.ttft_s >= 0.5 and completion.total_s >= 0.5
    scheduler.close()


def test_the_loop_of_a_replaced_standalone_engine_stops_once_idle(tiny_llama: PreTrainedModel) -> None:
    from moe_system.config import Settings
    from moe_system.runtime import Runtime

    base, first, second = (Engine(NativeBackend(tiny_llama)) for _ in range(3))
    runtime = Runtime(base, None, "tiny", 0.0, Settings(), None)  # type: ignore[arg-type]
    runtime._standalone = (("a", "1", ""), first)
    old = runtime.scheduler(first)
    with old._wake:  # a request waits in its queue while another standalone expert replaces it
        busy = old.submit(PROMPTS[0], SamplingParams(max_new_tokens=4))
        runtime._standalone = (("b", "1", ""), second)
        runtime.scheduler(second)
    assert old._thread.is_alive(), "a loop with a request to serve was stopped"
    assert list(busy)[-1].completion is not None
    runtime.scheduler(base)  # the next new loop finds the old one idle and stops it
    assert not old._thread.is_alive() and id(first) not in runtime._schedulers
    assert runtime.scheduler(second) is runtime._schedulers[id(second)]
    runtime.close()
