"""The background work of the memory: indexing new messages and moving overflowing tiers down, compressed.

`Compaction.step()` does one batch and says whether there was anything to do. `worker.py` runs it in a separate,
low-priority process, so compression never holds the caller's GIL or its cores.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from moe_system.data.lexicon import concept_stems
from moe_system.memory.compress import Compressor, Piece
from moe_system.memory.facts import SUBJECT_WORDS, THIRD_PARTY, Fact, extract_facts, similar_key
from moe_system.memory.retrieval import to_blob
from moe_system.memory.store import LOW_WATER, Budgets, MemoryStore, NewChunk, NewFact
from moe_system.memory.summarizer import Summarize
from moe_system.text.words import stems

INDEX_BATCH = 256  # messages indexed per step (facts embedded together)
WRITE_BATCH = 16  # messages written per transaction
MOVE_BATCH = 400  # moving messages compressed per step (one transaction per chunk)
SUMMARY_GROUP = 4  # obsolete chunks per long-term summary

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Compaction:
    """One database's background work, runnable in-process (tests, `background=False`) or in the worker."""

    store: MemoryStore
    budgets: Budgets
    count_tokens: Callable[[str], int]
    embed: Embed | None
    summarize: Summarize | None = None  # the optional LLM summarizer (summarizer.py)

    def __post_init__(self) -> None:
        self.compressor = Compressor()

    def step(self) -> bool:
        """Do one batch of work (index a batch, then compact each conversation that needs it once, so a steady
        stream of new messages cannot starve compression); False when there was none."""
        worked = self._index()
        for conversation_id in self.store.pending(self.budgets):
            worked |= self._compact(conversation_id)
        return worked

    def run_until_idle(self) -> None:
        while self.step() or self.refine():
            pass
        self.store.checkpoint()

    def refine(self) -> bool:
        """Rewrite the newest long-term summary not rewritten yet with the LLM summarizer, keeping the rewrite only
        if it is shorter (see summarizer.py); False when there is none, or no summarizer."""
        if self.summarize is None:
            return False
        summary = self.store.unrefined_summary()
        if summary is None:
            return False
        try:
            body = " ".join(self.summarize(summary.text, max(16, summary.tokens // 2)).split())
        except Exception as err:  # a removed expert or a broken model must not stop the compression
            print(f"moe memory: the summarizer failed ({type(err).__name__}: {err}); summaries stay extractive",
                  file=sys.stderr)
            self.summarize = None
            return False
        text = f"[#{summary.first_seq}–{summary.last_seq} summary] {body}"
        tokens = self.count_tokens(text)
        rewrite = None
        if body and tokens < summary.tokens:
            rewrite = NewChunk(text, " ".join(stems(text)), tokens, summary.first_seq, summary.last_seq,
                               self._vectors([text])[0])
        self.store.refine_summary(summary.conversation_id, summary.id, rewrite)
        return True

    def _vectors(self, texts: Sequence[str]) -> list[bytes | None]:
        if self.embed is None or not texts:
            return [None] * len(texts)
        return [to_blob(vector) for vector in self.embed(texts)]

    def _index(self) -> bool:
        rows = self.store.unindexed_messages(INDEX_BATCH)
        if not rows:
            return False
        keys: dict[str, list[str]] = {}  # live fact keys per conversation, in order
        found = []
        for row in rows:
            if row.role != "user":
                continue
            known = keys.setdefault(row.conversation_id,
                                    [fact.key for fact in self.store.live_facts(row.conversation_id)])
            for fact in extract_facts(row.text):
                key = similar_key(fact.key, known) or fact.key  # the same subject keeps its key: newest wins
                known.append(key)
                found.append((row.id, replace(fact, key=key)))
        vectors = self._vectors([fact.text for _, fact in found])
        facts = [NewFact(message_id, fact.key, fact.value, fact.text, _index_stems(fact),
                         self.count_tokens(fact.text), vector, bool(THIRD_PARTY.search(fact.text)))
                 for (message_id, fact), vector in zip(found, vectors, strict=True)]
        for start in range(0, len(rows), WRITE_BATCH):  # short transactions: add_message never waits long
            part = rows[start:start + WRITE_BATCH]
            ids = {row.id for row in part}
            self.store.index_messages({row.id: " ".join(stems(row.text)) for row in part},
                                      [fact for fact in facts if fact.message_id in ids])
        return True

    def _compact(self, conversation_id: str) -> bool:
        """One round down the tiers: a batch of moving messages into chunks, then whatever overflows the obsolete
        tier into summaries, then the long-term trim; so no tier stays over budget by more than one batch while a
        backlog is worked off."""
        worked = self._demote_messages(conversation_id)
        conversation = self.store.conversation(conversation_id)
        if conversation is None:
            return worked
        if conversation.obsolete_tokens > self.budgets.obsolete:
            worked |= self._demote_chunks(conversation_id, conversation.obsolete_tokens)
            conversation = self.store.conversation(conversation_id)
        if conversation is not None and conversation.longterm_tokens > self.budgets.longterm:
            worked |= self.store.trim_longterm(conversation_id, self.budgets.longterm) > 0
        return worked

    def _demote_messages(self, conversation_id: str) -> bool:
        moving = self.store.moving_messages(conversation_id, MOVE_BATCH)
        pieces = self.compressor.messages(moving)
        for piece, chunk in zip(pieces, self._chunks(pieces), strict=True):  # one transaction per chunk
            ids = [row.id for row in moving if piece.first_seq <= row.seq <= piece.last_seq]
            if not self.store.demote_messages(conversation_id, ids, [chunk]):
                break  # forgotten meanwhile: nothing left to move
        return bool(moving)

    def _demote_chunks(self, conversation_id: str, held: int) -> bool:
        excess = held - int(self.budgets.obsolete * LOW_WATER)
        oldest, total = [], 0
        for chunk in self.store.oldest_chunks(conversation_id, "obsolete", 1000):
            oldest.append(chunk)
            total += chunk.tokens
            if total >= excess:
                break
        groups = [oldest[i:i + SUMMARY_GROUP] for i in range(0, len(oldest), SUMMARY_GROUP)]
        summaries = self._chunks([self.compressor.chunks(group) for group in groups])
        for group, summary in zip(groups, summaries, strict=True):
            if not self.store.demote_chunks(conversation_id, [chunk.id for chunk in group], [summary]):
                break
        return bool(oldest)

    def _chunks(self, pieces: Sequence[Piece]) -> list[NewChunk]:
        vectors = self._vectors([piece.text for piece in pieces])
        return [NewChunk(piece.text, " ".join(stems(piece.text)), self.count_tokens(piece.text),
                         piece.first_seq, piece.last_seq, vector)
                for piece, vector in zip(pieces, vectors, strict=True)]


def _index_stems(fact: Fact) -> str:
    """What a fact is found by (space-separated stems): its words, its subject's words, and the words of each
    concept it names (data/lexicon/concepts.yaml), so a question in other words ("my boy" for "my son") finds it."""
    own = stems(f"{fact.text} {SUBJECT_WORDS.get(fact.key, fact.key.lstrip('~'))}")
    return " ".join(own + concept_stems(own))
