"""Beam search on token ids, with transformers' semantics: at each step the 2·k best continuations
of all beams are ranked; ones ending in a stop token become finished hypotheses scored by
`sum_logprobs / generated_length ** length_penalty`; the rest refill the k beams. The search ends
when k hypotheses are finished and no live beam can still beat the worst of them, or at max length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from moe_system.engine.backends.base import Backend
from moe_system.errors import ContextLengthError, InvalidRequestError


@dataclass(frozen=True)
class Hypothesis:
    token_ids: list[int]
    score: float  # length-normalised log-probability


def beam_search(
    backend: Backend,
    prompt: Sequence[int],
    num_beams: int = 4,
    max_new_tokens: int = 64,
    stop_token_ids: Sequence[int] = (),
    length_penalty: float = 1.0,
) -> Hypothesis:
    """Return the best hypothesis (stop token excluded) for one prompt."""
    if num_beams < 1 or max_new_tokens < 1:
        raise InvalidRequestError("num_beams and max_new_tokens must be at least 1")
    if not prompt or len(prompt) >= backend.context_length:
        raise ContextLengthError(f"the prompt must have 1..{backend.context_length - 1} tokens")
    max_new_tokens = min(max_new_tokens, backend.context_length - len(prompt))
    stops = set(stop_token_ids)
    logits, state = backend.prefill([list(prompt)])
    state = backend.select(state, torch.zeros(num_beams, dtype=torch.long))
    logits = logits.expand(num_beams, -1)
    beam_scores = torch.full((num_beams,), float("-inf"))
    beam_scores[0] = 0.0  # all beams start identical: expand only the first at step one
    beams: list[list[int]] = [[] for _ in range(num_beams)]
    finished: list[Hypothesis] = []

    def normalise(total: float, length: int) -> float:
        return total / (max(length, 1) ** length_penalty)

    for step in range(1, max_new_tokens + 1):
        scores = torch.log_softmax(logits.float(), dim=-1) + beam_scores[:, None]  # [k, V]
        top_scores, top_ids = scores.view(-1).topk(2 * num_beams)
        vocab = scores.shape[-1]
        next_beams: list[tuple[int, int, float]] = []  # (source beam, token, score)
        for rank, (score, flat) in enumerate(zip(top_scores.tolist(), top_ids.tolist(), strict=True)):
            source, token = divmod(flat, vocab)
            if token in stops:
                if rank < num_beams:
                    finished.append(Hypothesis(beams[source], normalise(score, step)))
                continue
            next_beams.append((source, token, score))
            if len(next_beams) == num_beams:
                break
        finished = sorted(finished, key=lambda h: h.score, reverse=True)[:num_beams]
        best_alive = normalise(next_beams[0][2], step)
        if len(finished) == num_beams and finished[-1].score >= best_alive:
            break
        beams = [beams[src] + [tok] for src, tok, _ in next_beams]
        beam_scores = torch.tensor([s for _, _, s in next_beams])
        if step == max_new_tokens:
            break
        state = backend.select(state, torch.tensor([src for src, _, _ in next_beams]))
        logits = backend.decode(state, torch.tensor([tok for _, tok, _ in next_beams]))
    alive = [Hypothesis(b, normalise(float(s), len(b))) for b, s in zip(beams, beam_scores.tolist(), strict=True)]
    return max(finished + alive, key=lambda h: h.score)
