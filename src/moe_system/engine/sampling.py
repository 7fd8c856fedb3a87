"""Logit processing and token choice for one row, matching transformers' order and semantics:
repetition penalty, then temperature, top-k, top-p, then argmax or a seeded multinomial draw."""

from __future__ import annotations

import torch

from moe_system.engine.params import SamplingParams


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style penalty on every id in `seen` (prompt + output): divide positive logits, multiply
    negative ones. logits: [V] float; seen: [n] long."""
    if penalty == 1.0 or seen.numel() == 0:
        return logits
    picked = logits.gather(0, seen)
    picked = torch.where(picked < 0, picked * penalty, picked / penalty)
    return logits.scatter(0, seen, picked)


def warp(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """Temperature, then top-k, then top-p (nucleus) filtering. logits: [V] float -> [V] float."""
    logits = logits / params.temperature
    if 0 < params.top_k < logits.numel():
        kth = torch.topk(logits, params.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cumulative <= (1.0 - params.top_p)
        drop_sorted[-1] = False  # always keep the most likely token
        drop = drop_sorted.scatter(0, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def choose_token(
    logits: torch.Tensor, seen: torch.Tensor, params: SamplingParams, generator: torch.Generator | None
) -> int:
    """Pick the next token for one row. logits: [V]; seen: [n] ids the penalty applies to."""
    logits = apply_repetition_penalty(logits.float(), seen, params.repetition_penalty)
    if params.greedy:
        return int(logits.argmax())
    probs = warp(logits, params).softmax(-1)
    return int(torch.multinomial(probs, 1, generator=generator))
