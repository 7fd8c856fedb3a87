"""The peers of the memory benchmark: contexts built from the raw conversation without the memory, within the same
token budget, labelled the same way (`[#N role]`) so that the same `answered` check applies.

- **tail**: the newest messages that fit (what a chat client that truncates the history sends);
- **bm25**: Okapi BM25 (`rank-bm25`) over every message of the conversation, documents and query stemmed with the
  project's `text.words` (Snowball, English and Russian) and the query without the question words the memory also
  drops (`memory.retrieval.query_stems`); the best-scoring messages are taken until the budget is full and shown in
  chat order.

Used by `moe bench memory` (`bench/memory.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from rank_bm25 import BM25Okapi

from moe_system.data.conversation import SyntheticConversation
from moe_system.memory import Context, Section
from moe_system.memory.retrieval import query_stems
from moe_system.memory.tokens import TokenCounter
from moe_system.text.words import stems


class PeerContexts:
    """The labelled messages of one conversation and their token counts, and the two peers' contexts over them."""

    def __init__(self, conversation: SyntheticConversation, count_tokens: TokenCounter) -> None:
        self.count_tokens = count_tokens
        self.lines = [f"[#{number} {role}] {text}" for number, (role, text) in enumerate(conversation.messages, 1)]
        self.costs = [count + 1 for count in count_tokens.many(self.lines)]  # + the newline
        self.bm25 = BM25Okapi([stems(text) or ["∅"] for _, text in conversation.messages])

    def tail(self, max_tokens: int) -> Context:
        """The newest messages that fit into `max_tokens`."""
        return self._fill(range(len(self.lines) - 1, -1, -1), max_tokens, contiguous=True)

    def best_matches(self, query: str, max_tokens: int) -> Context:
        """The messages BM25 ranks highest for `query` (those that match at all), as many as fit."""
        scores = self.bm25.get_scores(query_stems(query))
        ranked = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0]
        return self._fill(ranked, max_tokens, contiguous=False)

    def _fill(self, order: Iterable[int], max_tokens: int, contiguous: bool) -> Context:
        """Messages in priority `order` while they fit (the tail stops at the first that does not; the others are
        skipped), rendered in chat order, counted exactly, and the lowest-priority one dropped until it fits."""
        chosen: list[int] = []
        used = 0
        for index in order:
            if used + self.costs[index] > max_tokens:
                if contiguous:
                    break
                continue
            chosen.append(index)
            used += self.costs[index]
        while True:
            lines = [self.lines[index] for index in sorted(chosen)]
            text = "\n".join(lines)
            count = self.count_tokens(text) if text else 0
            if count <= max_tokens:
                return Context(text, count, [Section("older", "", lines, used)] if lines else [])
            used -= self.costs[chosen.pop()]
