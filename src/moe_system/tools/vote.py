"""Verified best-of-N: pick one answer among several sampled for the same request.

A small model often gets a request right in some of its samples but not in its greedy answer. The expert's tool
judges every candidate (`Verdict`: passed its check, and the result it stands for); candidates that fail are
dropped and the rest vote by result, the largest group winning (self-consistency over verified answers). A tie
goes to the group holding the preferred candidate (the greedy answer), then to the group whose first member came
first. When nothing passes, the preferred candidate stands, as the tool showed it.

    >>> vote([Verdict(False, None, "a"), Verdict(True, 4, "b"), Verdict(True, 4, "c"), Verdict(True, 5, "d")])
    Vote(index=1, n=4, passed=3, agreeing=2)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from moe_system.tools.verdict import Verdict


@dataclass(frozen=True)
class Vote:
    """The outcome: `index` of the chosen candidate (None when none passed), how many were judged, how many passed
    the tool's check and how many of those agree with the chosen one."""

    index: int | None
    n: int
    passed: int
    agreeing: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def vote(verdicts: Sequence[Verdict], prefer: int = 0) -> Vote:
    """The candidate to answer with: a member of the largest group of passing candidates with equal keys
    (`prefer` itself when it is one of them)."""
    groups: dict[Hashable, list[int]] = {}
    for index, verdict in enumerate(verdicts):
        if verdict.ok:
            groups.setdefault(verdict.key, []).append(index)
    if not groups:
        return Vote(None, len(verdicts), 0, 0)
    best = max(groups.values(), key=lambda members: (len(members), prefer in members, -members[0]))
    index = prefer if prefer in best else best[0]
    return Vote(index, len(verdicts), sum(map(len, groups.values())), len(best))
