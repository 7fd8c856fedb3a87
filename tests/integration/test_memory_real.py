"""The memory with the embedded model's tokenizer and MiniLM vectors, on a synthetic EN/RU conversation whose
tiers all overflow: planted facts (some updated) come back, newest first, in a 4,000-token context, far more often
than with the last 4,000 tokens and at least as often as with BM25 over all messages in the same budget."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from moe_system.bench.memory import answered
from moe_system.bench.memory_peers import PeerContexts
from moe_system.client import summarizer_ref
from moe_system.config import Settings
from moe_system.data.conversation import synthetic_conversation
from moe_system.memory import ThreeLevelMemory

pytestmark = pytest.mark.integration
TOKENS = 60_000
BUDGET = 12_000  # per tier: the current and obsolete tiers overflow, summaries reach the long-term one


@pytest.fixture(scope="module")
def tokenizer(model_home: Path) -> str:
    from moe_system.base import base_model_dir

    return str(base_model_dir(Settings(home=model_home)))


def test_planted_facts_come_back_newest_within_4000_tokens(tmp_path: Path, tokenizer: str) -> None:
    with ThreeLevelMemory(tmp_path / "mem", BUDGET, BUDGET, BUDGET, tokenizer=tokenizer, background=False) as mem:
        conversation = synthetic_conversation(TOKENS, mem.count_tokens, seed=3)
        for role, text in conversation.messages:
            mem.add_message("c", role, text, user_id="u")
        mem.flush()
        stats = mem.stats("c")
        assert all(0 < stats[tier] <= BUDGET for tier in ("current_tokens", "obsolete_tokens", "longterm_tokens"))
        contexts = [mem.build_context("c", fact.question, 4000) for fact in conversation.facts]
    assert max(context.token_count for context in contexts) <= 4000
    recall = sum(answered(f, c) for f, c in zip(conversation.facts, contexts, strict=True)) / len(contexts)
    peers = PeerContexts(conversation, mem.count_tokens)
    tail = sum(answered(f, peers.tail(4000)) for f in conversation.facts) / len(contexts)
    bm25 = sum(answered(f, peers.best_matches(f.question, 4000)) for f in conversation.facts) / len(contexts)
    assert recall >= 0.8, recall
    assert recall >= tail + 0.5 and recall >= bm25, (recall, tail, bm25)


PLACES = ["the fish market", "Nordnes park", "the Fløyen trail", "Bryggen", "the old harbour", "Sandviken"]


def test_the_base_model_rewrites_long_term_summaries_when_asked(tmp_path: Path, tokenizer: str,
                                                                model_home: Path) -> None:
    """`summarizer_ref(settings, "base")`: the worker process has the embedded model rewrite the long-term
    summaries once it is idle (shorter, labelled with the turns they cover), and the tiers stay within budget."""
    with ThreeLevelMemory(tmp_path / "mem", 200, 400, 4000, tokenizer=tokenizer, vectors=False,
                          summarizer=summarizer_ref(Settings(home=model_home), "base")) as mem:
        for day in range(1, 41):
            mem.add_message("c", "user", f"On day {day} I walked {day * 3} km past {PLACES[day % 6]} with my dog "
                                         f"Rex, and we met {day % 7 + 2} other dogs.", user_id="u")
            mem.add_message("c", "assistant", f"Day {day} sounds lovely. Did Rex like {PLACES[(day + 3) % 6]}?")
        mem.flush()  # compression done; the rewriting follows, off the hot path
        deadline = time.monotonic() + 300
        while mem.store.unrefined_summary() is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert mem.store.unrefined_summary() is None
        stats = mem.stats("c")
        longterm = [item["text"] for item in mem.show("c")["longterm"]]
    assert all(0 < stats[tier] <= budget for tier, budget in
               (("current_tokens", 200), ("obsolete_tokens", 400), ("longterm_tokens", 4000)))
    rewritten = [text for text in longterm if text.startswith("[#") and " summary] " in text]
    assert rewritten, longterm
    assert all("Rex" in text or "walk" in text for text in rewritten), rewritten  # about the notes, not a reply
