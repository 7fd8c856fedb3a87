"""The routing decision: the contract shared by `moe route --json`, `Response.routing` and the API.

`expert is None` means the base model answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Candidate:
    expert: str | None
    score: float


@dataclass(frozen=True)
class RoutingDecision:
    expert: str | None
    confidence: float
    candidates: list[Candidate] = field(default_factory=list)
    strategy: str = "none"
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def top(self, k: int, min_score: float) -> dict[str, float]:
        """The experts to compose, with weights summing to 1: the chosen expert, then further candidate experts
        scoring at least `min_score`, up to `k` in all ({} when the base model answers)."""
        if self.expert is None:
            return {}
        picked = {self.expert: max(self.confidence, 1e-6)}
        for candidate in self.candidates:
            if len(picked) >= k:
                break
            if candidate.expert is not None and candidate.expert not in picked and candidate.score >= min_score:
                picked[candidate.expert] = candidate.score
        total = sum(picked.values())
        return {name: round(score / total, 4) for name, score in picked.items()}
