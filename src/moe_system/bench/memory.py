"""Memory benchmark: ingest, context latency, RSS and planted-fact recall on a tuning and a held-out template set,
against a BM25 peer and a truncation peer in the same run.

    moe bench memory --json          # or: python benchmarks/memory.py --json
    moe bench memory --tokens 150000 --budgets 20000 --passes 1     # a quick run

One synthetic English/Russian conversation per template set (`data/conversation.py`, 750k tokens by default,
counted with the base tokenizer; the same seed, so the same filler) with planted facts, some updated later. The
planted statements and questions come from the **tuning** set (`data/memory_bench/tuning.yaml`: the templates the
fact patterns and retrieval weights were developed on) or the **held-out** set (`heldout.yaml`: written apart from
the generator and the patterns, and never tuned on; each fact is asked directly and in two paraphrases). Where the
facts lie: the first statement of each in the first 65% of the chat; updates later, about a third of them in 82-97%
of it, and one fact in twelve gets its last update within the final 3,000 tokens (so the truncation peer can
answer those, as it would in a real chat). Each conversation is fed to a fresh `ThreeLevelMemory` (SQLite, with
its background worker) once per budget setting — the default 250k per tier, and small tiers (20k each) so that all
three tiers overflow and the long-term tier is trimmed. Measured per set and budget:

- **ingest**: `add_message` latency p50/p99/max (also over the calls made while the worker was compressing),
  messages/s of `add_message` itself, and the wall time until `flush()` returned (compression included);
- **tiers** after `flush()`: tokens held per tier, facts in force;
- **build_context** p50/p95 at the full history, one call per question asked (repeated `passes` times);
- **recall**: a question counts as answered when its newest value is in the 4,000-token context under a later
  turn label (`[#N]`) than any of its superseded values there (`answered`); strictly, when moreover no superseded
  value is listed among the facts in force (`answered_strictly`); split into direct and paraphrased questions and
  into facts never updated and updated; also how often a stale value appears at all, and the keys missed;
- **peers** (per set, same questions, same 4,000-token budget, same check; `bench/memory_peers.py`): the last
  4,000 tokens of the chat (**tail**), and the messages **BM25** ranks highest for the question;
- **RSS** of this process and of the worker.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from moe_system.bench.common import cpu_model, percentile
from moe_system.bench.memory_peers import PeerContexts
from moe_system.data.conversation import PlantedFact, SyntheticConversation, synthetic_conversation
from moe_system.data.conversation_templates import TEMPLATE_SETS, kinds
from moe_system.errors import InvalidRequestError
from moe_system.memory import Context, ThreeLevelMemory
from moe_system.memory.tokens import TokenCounter

_SEGMENT = re.compile(r"\[#(\d+)[\] ](?:(?!\[#\d+[\] ]).)*", re.DOTALL)  # a turn label and the text under it
CONVERSATION = "bench"
USER = "bench-user"
GROUPS = ("direct", "paraphrased", "never_updated", "updated")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _last_turn(text: str, values: Sequence[str]) -> int | None:
    """The latest turn label (`[#N ...]`) under which any of `values` appears in a context, or None."""
    latest = None
    for match in _SEGMENT.finditer(text):
        segment = match.group(0).casefold()
        if any(value.casefold() in segment for value in values):
            latest = max(latest or 0, int(match.group(1)))
    return latest


def answered(fact: PlantedFact, context: Context) -> bool:
    """The newest value is in the context, and stated under a later turn than any superseded value in it: a
    reader who trusts the newest statement (as the context's labels say to) gets the right answer."""
    newest = _last_turn(context.text, [fact.answer])
    stale = _last_turn(context.text, fact.stale) if fact.stale else None
    return newest is not None and (stale is None or newest > stale)


def answered_strictly(fact: PlantedFact, context: Context) -> bool:
    """`answered`, and no superseded value is listed among the facts in force at all."""
    facts = "\n".join(line for s in context.sections if s.name == "facts" for line in s.lines).casefold()
    return answered(fact, context) and not any(old.casefold() in facts for old in fact.stale)


@dataclass(frozen=True)
class Question:
    fact: PlantedFact
    text: str
    direct: bool  # the fact's first question; otherwise a paraphrase


def questions(conversation: SyntheticConversation) -> list[Question]:
    """Every fact asked directly, then in each of its paraphrases (the held-out set has two; the tuning set none)."""
    return [Question(fact, text, number == 0) for fact in conversation.facts
            for number, text in enumerate((fact.question, *fact.paraphrases))]


def recall(asked: Sequence[Question], contexts: Sequence[Context]) -> dict[str, Any]:
    """Answered questions overall and per group (`GROUPS`; a group with no question is null), the keys missed."""
    hits = [answered(q.fact, context) for q, context in zip(asked, contexts, strict=True)]
    members = {"direct": [q.direct for q in asked], "paraphrased": [not q.direct for q in asked],
               "never_updated": [not q.fact.stale for q in asked], "updated": [bool(q.fact.stale) for q in asked]}
    result: dict[str, Any] = {"questions": len(asked), "answered": sum(hits), "rate": round(sum(hits) / len(asked), 3)}
    for group in GROUPS:
        chosen = [hit for hit, member in zip(hits, members[group], strict=True) if member]
        result[group] = {"questions": len(chosen), "answered": sum(chosen),
                         "rate": round(sum(chosen) / len(chosen), 3)} if chosen else None
    result["missed"] = sorted({q.fact.key for q, hit in zip(asked, hits, strict=True) if not hit and q.direct})
    result["missed_paraphrased"] = sorted({q.fact.key for q, hit in zip(asked, hits, strict=True)
                                           if not hit and not q.direct})
    return result


def run_one(conversation: SyntheticConversation, budget: int, tokenizer: str, max_tokens: int, passes: int,
            progress: Callable[[str], None]) -> dict[str, Any]:
    """One fresh memory with `budget` tokens per tier: ingest, flush, then the questions."""
    asked = questions(conversation)
    with tempfile.TemporaryDirectory(prefix="moe-bench-memory-") as folder:
        memory = ThreeLevelMemory(Path(folder), budget, budget, budget, tokenizer=tokenizer)
        try:
            latencies, busy = [], []
            started = time.perf_counter()
            for number, (role, text) in enumerate(conversation.messages):
                t0 = time.perf_counter()
                memory.add_message(CONVERSATION, role, text, user_id=USER)
                elapsed = time.perf_counter() - t0
                latencies.append(elapsed)
                if memory.store.conversation(CONVERSATION).moving_tokens > 0:  # type: ignore[union-attr]
                    busy.append(elapsed)
                if number % 500 == 0:
                    progress(f"{budget // 1000}k tiers: message {number}/{len(conversation.messages)}")
            add_s = time.perf_counter() - started
            progress(f"{budget // 1000}k tiers: waiting for compression")
            memory.flush()
            ingest_s = time.perf_counter() - started
            stats = memory.stats(CONVERSATION)
            worker = memory._worker
            worker_rss = psutil.Process(worker.pid).memory_info().rss / 2**20 if worker and worker.poll() is None \
                else None
            memory.build_context(CONVERSATION, asked[0].text, max_tokens)  # warm the caches
            timings: list[float] = []
            contexts: list[Context] = []
            for repeat in range(passes):
                for question in asked:
                    t0 = time.perf_counter()
                    context = memory.build_context(CONVERSATION, question.text, max_tokens)
                    timings.append(time.perf_counter() - t0)
                    if repeat == 0:
                        contexts.append(context)
            found = recall(asked, contexts)
            strict = sum(answered_strictly(q.fact, c) for q, c in zip(asked, contexts, strict=True))
            return {
                "budget_per_tier": budget,
                "ingest": {
                    "messages": len(conversation.messages), "tokens": conversation.tokens,
                    "add_messages_per_s": round(len(conversation.messages) / add_s, 1),
                    "add_tokens_per_s": round(conversation.tokens / add_s),
                    "add_message_ms": {"p50": _ms(statistics.median(latencies)),
                                       "p99": _ms(percentile(latencies, 0.99)), "max": _ms(max(latencies))},
                    "add_message_while_compressing_ms": {
                        "calls": len(busy), "p50": _ms(statistics.median(busy)) if busy else None,
                        "p99": _ms(percentile(busy, 0.99)) if busy else None},
                    "until_compressed_s": round(ingest_s, 1),
                    "tokens_per_s_with_compression": round(conversation.tokens / ingest_s),
                },
                "tiers": {key: stats[key] for key in ("current_tokens", "obsolete_tokens", "longterm_tokens",
                                                      "facts", "messages")},
                "build_context_ms": {"calls": len(timings), "p50": _ms(statistics.median(timings)),
                                     "p95": _ms(percentile(timings, 0.95)), "max": _ms(max(timings))},
                "context_tokens": {"max": max(c.token_count for c in contexts), "limit": max_tokens},
                "recall": {**found, "strictly": strict, "strict_rate": round(strict / len(asked), 3),
                           "stale_value_anywhere": sum(any(old.casefold() in c.text.casefold() for old in q.fact.stale)
                                                       for q, c in zip(asked, contexts, strict=True))},
                "rss_mb": {"process": round(psutil.Process().memory_info().rss / 2**20),
                           "worker": round(worker_rss) if worker_rss else None},
            }
        finally:
            memory.close()


def peers(conversation: SyntheticConversation, count: TokenCounter, max_tokens: int) -> dict[str, Any]:
    """The tail and BM25 peers' recall on the same questions, within the same budget."""
    asked = questions(conversation)
    contexts = PeerContexts(conversation, count)
    tail = contexts.tail(max_tokens)
    return {
        "tail": {"name": f"last {max_tokens} tokens", **recall(asked, [tail] * len(asked))},
        "bm25": {"name": f"BM25 over all messages, best first within {max_tokens} tokens",
                 **recall(asked, [contexts.best_matches(q.text, max_tokens) for q in asked])},
    }


def run_set(templates: str, tokens: int, budgets: Sequence[int], max_tokens: int, facts: int, updated: int,
            passes: int, seed: int, tokenizer: str, progress: Callable[[str], None]) -> dict[str, Any]:
    """One template set: its conversation (as many facts as the set has subjects, up to `facts`; the same share
    of them updated), the memory at each budget and the peers."""
    from moe_system.memory.tokens import token_counter

    count = token_counter(tokenizer)
    planted = min(facts, len(kinds(templates)))
    progress(f"{templates}: writing the conversation")
    try:
        conversation = synthetic_conversation(tokens, count, facts=planted, updated=round(updated * planted / facts),
                                              seed=seed, templates=templates)
    except ValueError as err:  # too few tokens for the facts asked for: the caller's choice, said in one line
        raise InvalidRequestError(str(err)) from err
    runs = [run_one(conversation, budget, tokenizer, max_tokens, passes,
                    lambda message: progress(f"{templates}, {message}")) for budget in budgets]
    return {
        "conversation": {"tokens": conversation.tokens, "messages": len(conversation.messages),
                         "facts": len(conversation.facts), "updated": sum(bool(f.stale) for f in conversation.facts),
                         "questions": len(questions(conversation)), "seed": seed},
        "runs": runs,
        "peers": peers(conversation, count, max_tokens),
    }


def run(tokens: int = 750_000, budgets: tuple[int, ...] = (250_000, 20_000), max_tokens: int = 4000,
        facts: int = 36, updated: int = 12, passes: int = 3, seed: int = 0,
        template_sets: Sequence[str] = TEMPLATE_SETS,
        progress: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    from moe_system.memory.tokens import base_tokenizer_dir

    unknown = [name for name in template_sets if name not in TEMPLATE_SETS]
    if unknown or not template_sets:
        raise InvalidRequestError(f"template sets must be among {', '.join(TEMPLATE_SETS)}, not {unknown}")
    tokenizer = base_tokenizer_dir()
    sets = {name: run_set(name, tokens, budgets, max_tokens, facts, updated, passes, seed, tokenizer, progress)
            for name in template_sets}
    return {
        "cpu": cpu_model(),
        "max_context_tokens": max_tokens,
        "recall": {name: {"memory": {str(row["budget_per_tier"]): row["recall"]["rate"] for row in result["runs"]},
                          **{peer: result["peers"][peer]["rate"] for peer in ("bm25", "tail")}}
                   for name, result in sets.items()},
        "sets": sets,
    }
