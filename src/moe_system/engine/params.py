"""Per-request generation parameters, validated at construction."""

from __future__ import annotations

from dataclasses import dataclass

from moe_system.errors import InvalidRequestError


@dataclass(frozen=True)
class SamplingParams:
    """How one request is decoded. `temperature == 0` means greedy."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop_token_ids: tuple[int, ...] = ()
    stop_strings: tuple[str, ...] = ()
    time_budget_s: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.max_new_tokens >= 1, "max_new_tokens must be at least 1"),
            (self.temperature >= 0.0, "temperature must be >= 0"),
            (self.top_k >= 0, "top_k must be >= 0 (0 turns it off)"),
            (0.0 < self.top_p <= 1.0, "top_p must be in (0, 1]"),
            (self.repetition_penalty > 0.0, "repetition_penalty must be > 0"),
            (self.time_budget_s is None or self.time_budget_s > 0, "time_budget_s must be > 0"),
            (all(s for s in self.stop_strings), "stop strings must not be empty"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidRequestError(message)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0
