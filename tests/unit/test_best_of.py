"""Verified best-of-N: the vote among candidates a tool judged, and how the SDK answers with the chosen one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from moe_system.client import MoEClient, Stream, _best_of_option, _LengthCap, _ToolRun
from moe_system.engine import Completion, Event
from moe_system.errors import InvalidRequestError
from moe_system.routing import RoutingDecision
from moe_system.tools import TOOLS, verifier
from moe_system.tools.verdict import Verdict
from moe_system.tools.vote import Vote, vote


def _verdicts(*keys: object) -> list[Verdict]:
    """A verdict per key: None fails the check, anything else passes with that result."""
    return [Verdict(key is not None, key, f"answer {index}", "" if key is not None else "fails")
            for index, key in enumerate(keys)]  # fmt: skip


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ((4, 4, 5), Vote(0, 3, 3, 2)),  # the greedy answer is in the largest group
        ((5, 4, 4), Vote(1, 3, 3, 2)),  # outvoted: the first member of the largest group
        ((None, 4, 5), Vote(1, 3, 2, 1)),  # a tie without the preferred one: the group that came first
        ((4, 5), Vote(0, 2, 2, 1)),  # a tie with the preferred one: it stays
        ((None, None), Vote(None, 2, 0, 0)),  # nothing passes
        ((None, 7, None, 7, 3), Vote(1, 5, 3, 2)),
    ],
)
def test_the_largest_group_of_passing_candidates_wins(keys: tuple[object, ...], expected: Vote) -> None:
    assert vote(_verdicts(*keys)) == expected


def test_best_of_finishes_with_the_chosen_candidate_as_its_tool_shows_it() -> None:
    def judge(answers: Sequence[str], request: str) -> list[Verdict]:
        assert request == "the request"
        return [Verdict(a != "wrong", None if a == "wrong" else a.upper(), f"shown {a}") for a in answers]

    run = _ToolRun([], "the request", lambda seed: "", judge)
    assert run.finish(["wrong", "b", "b", "c"]) == ("shown b", {"index": 1, "n": 4, "passed": 3, "agreeing": 2})
    assert run.finish(["wrong", "wrong"])[0] == "shown wrong"  # none passed: the first, as its tool shows it
    assert run.finish(["only"]) == ("shown only", {"index": 0, "n": 1, "passed": 1, "agreeing": 1})  # the rest stopped
    assert _ToolRun([], "", lambda seed: "").finish(["a", "b"]) == ("a", None)  # no verifier: the first answer


def test_every_tool_can_judge_candidates_and_unknown_names_cannot() -> None:
    assert set(TOOLS) == {"calculator", "sql_check", "python_check"}
    assert verifier([]) is None and verifier(["nothing"]) is None
    judged = verifier(["calculator"])
    assert judged is not None
    first, second, broken = judged(["```python\nanswer = 2 * 3\n```", "```python\nanswer = 12 / 2\n```",
                                    "```python\nanswer = open('x')\n```"], "What is 2 times 3?")
    assert first.ok and second.ok and first.key == second.key and not broken.ok


@pytest.mark.parametrize("value", [0, 17, 2.0, True, "8"])
def test_a_bad_best_of_is_a_clear_error(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="best_of"):
        _best_of_option(value)


def test_the_response_streams_the_first_row_and_answers_with_the_vote() -> None:
    """Rows decode together: the deltas of row 0 stream, every row's tokens count, the slowest row's time is the
    total, and `Response.text` / `.verification` come from the vote."""

    def completion(text: str, total_s: float) -> Completion:
        return Completion([1] * len(text), text, "stop", 5, 0.01, total_s)

    events = [Event(0, 1, "x"), Event(1, 1, "y"), Event(1, None, "", completion("yy", 0.5)),
              Event(0, 1, "x"), Event(0, None, "", completion("xx", 0.3)), Event(2, None, "", completion("yy", 0.4))]

    def judge(answers: Sequence[str], request: str) -> list[Verdict]:
        return [Verdict(True, answer, answer) for answer in answers]

    decision = RoutingDecision("math", 1.0, [], "explicit", "test")
    tools = _ToolRun([], "q", lambda seed: "", judge)
    stream = Stream(lambda s: MoEClient._deltas(s, iter(events), 3, decision, tools, _LengthCap(1.5)))
    assert "".join(stream) == "xx"
    response = stream.response
    assert response is not None and response.text == "yy"
    assert response.verification == {"index": 1, "n": 3, "passed": 3, "agreeing": 2, "stopped": 0}
    assert response.usage == {"prompt_tokens": 5, "completion_tokens": 6}
    assert response.timings["total_ms"] == 500.0 and response.timings["ttft_ms"] == 10.0


def test_extra_answers_past_the_length_cap_are_stopped_and_left_out_of_the_vote() -> None:
    """Row 0 finishes with 40 tokens; at ratio 1.5 an extra row may run to 60 tokens: row 1 (still decoding at 60)
    is stopped once, row 2 (finished at 50) stays, and a row a scheduler ran past the stop counts as stopped."""
    def completion(tokens: int, reason: str = "stop") -> Completion:
        return Completion([1] * tokens, "t", reason, 5, 0.01, 0.1)  # type: ignore[arg-type]

    events = [*(Event(row, 1, "") for _ in range(40) for row in (0, 1, 2)), Event(0, None, "", completion(40)),
              *(Event(row, 1, "") for _ in range(10) for row in (1, 2)), Event(2, None, "", completion(50)),
              *(Event(1, 1, "") for _ in range(12)), Event(1, None, "", completion(62, "cancelled"))]
    stopped: list[int] = []
    cap = _LengthCap(1.5)
    assert list(cap.watch(iter(events), stopped.append)) == events
    assert stopped == [1] and cap.limit == 60
    assert cap.within(completion(50)) and not cap.within(completion(62, "cancelled"))
    assert not cap.within(completion(61))  # finished on its own, but after it was told to stop
    assert _LengthCap(1.5, limit=None).within(completion(400))
    short = _LengthCap(1.5)
    list(short.watch(iter([Event(0, 1, ""), Event(0, None, "", completion(1))]), stopped.append))
    assert short.limit == 1 + _LengthCap.MIN_SLACK  # a short greedy answer still leaves its samples some room


def test_bench_quality_scores_greedy_best_of_and_base_and_times_both(tmp_path: Path) -> None:
    """`moe bench quality`'s per-set scores: the expert greedy and best-of-N, the base model, per language; the
    latency of one request alone each way."""
    from moe_system.bench.quality import _latency, _scores

    calls: list[tuple[str, int | None]] = []

    def generate(prompt: str, expert: str, max_tokens: int, temperature: float, tools: bool = True,
                 best_of: int | None = None) -> SimpleNamespace:  # fmt: skip
        calls.append((expert, best_of))
        right = (expert != "none" and (best_of or 1) > 1) or "2 + 2" in prompt
        return SimpleNamespace(text="Answer: 4" if right else "Answer: 5")

    client = SimpleNamespace(generate=generate, settings=SimpleNamespace(home=tmp_path),
                             registry=SimpleNamespace(get=lambda name, version=None: None))
    items = [{"id": 1, "lang": "en", "question": "2 + 2?", "answer": 4},
             {"id": 2, "lang": "ru", "question": "Сколько будет два плюс два?", "answer": 4}]
    scores = _scores(client, "math", "math", items, "math: field", lambda message: None, 8)
    assert {side: scores[side]["accuracy"] for side in scores} == {"expert": 0.5, "expert_best_of": 1.0,
                                                                    "base": 0.5}  # fmt: skip
    assert scores["expert"]["by_lang"] == {"en": 1.0, "ru": 0.0} and scores["expert_best_of"]["best_of"] == 8
    assert set(calls) == {("math", 1), ("math", 8), ("none", 1)}
    latency = _latency(client, "math", "math", items, 8, lambda message: None)
    assert latency is not None and latency["items"] == 2 and latency["ratio"] > 0
    assert _latency(client, "math", "math", items, 1, lambda message: None) is None
