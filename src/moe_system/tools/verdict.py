"""What a tool says about one candidate answer: did it pass the tool's check, and what result does it stand for.

Verified best-of-N (`tools/vote.py`) samples several answers to one request, asks the expert's tool for a
`Verdict` on each, drops those that fail and votes among the rest by `key`: two answers with the same key computed
the same thing (the same number, the same result set on the same database, the same outputs on the same inputs).
Every tool that can verify exposes a `Verify` function: `(answer, request) -> Verdict`, where `request` is the
user's message as the expert saw it (the schema of a SQL question, the examples of a Python task live there).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """One candidate answer judged by a tool.

    `ok`: it passed the tool's check (the program ran, the query parsed against the schema and ran, the function
    passed the examples stated in the request). `key`: the result it stands for, equal for answers that agree
    (None when not ok). `text`: the answer as the user would see it after the tool (the calculator's rewritten
    `Answer:` line, for instance). `reason`: why it failed, one line, empty when ok."""

    ok: bool
    key: Hashable | None
    text: str
    reason: str = ""


Verify = Callable[[str, str], Verdict]

# A tool that checks one answer (best-of-N off) retries with answers sampled at these seeds and temperature when the
# answer fails its check, keeping the first that passes (`sql_check`, `python_check`).
RETRY_SEEDS = (1, 2, 3)
RETRY_TEMPERATURE = 0.7
