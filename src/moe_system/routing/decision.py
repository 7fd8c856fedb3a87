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
