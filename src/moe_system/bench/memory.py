"""Memory benchmark: ingest, context latency, RSS and planted-fact recall against a truncation baseline.

    moe bench memory --json          # or: python benchmarks/memory.py --json

One synthetic English/Russian conversation (`data/conversation.py`, 750k tokens by default, counted with the
base tokenizer) with planted facts, some updated later, is fed to a fresh `ThreeLevelMemory` (SQLite, with its
background worker) once per budget setting — the default 250k per tier, and small tiers (20k each) so that all
three tiers overflow and the long-term tier is trimmed. Measured per run:

- **ingest**: `add_message` latency p50/p99/max (also over the calls made while the worker was compressing),
  messages/s of `add_message` itself, and the wall time until `flush()` returned (compression included);
- **tiers** after `flush()`: tokens held per tier, facts in force;
- **build_context** p50/p95 at the full history, one call per planted question (repeated `passes` times);
- **recall**: a question counts as answered when its newest value is in the 4,000-token context under a later
  turn label (`[#N]`) than any of its superseded values there (`answered`); strictly, when moreover no superseded
  value is listed among the facts in force (`answered_strictly`); also how often a stale value appears at all;
- **truncation baseline** (the peer): the last 4,000 tokens of the conversation as the context, same check;
- **RSS** of this process and of the worker.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from moe_system.bench.common import percentile
from moe_system.data.conversation import PlantedFact, SyntheticConversation, synthetic_conversation
from moe_system.errors import InvalidRequestError
from moe_system.memory import Context, ThreeLevelMemory

_SEGMENT = re.compile(r"\[#(\d+)[\] ](?:(?!\[#\d+[\] ]).)*", re.DOTALL)  # a turn label and the text under it
CONVERSATION = "bench"
USER = "bench-user"


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


def truncation(conversation: SyntheticConversation, max_tokens: int, count: Callable[[str], int]) -> str:
    """The baseline context: the newest messages that fit into `max_tokens`."""
    lines: list[str] = []
    used = 0
    for role, text in reversed(conversation.messages):
        cost = count(text) + 4
        if used + cost > max_tokens:
            break
        lines.append(f"{role}: {text}")
        used += cost
    return "\n".join(reversed(lines))


def run_one(conversation: SyntheticConversation, budget: int, tokenizer: str, max_tokens: int, passes: int,
            progress: Callable[[str], None]) -> dict[str, Any]:
    """One fresh memory with `budget` tokens per tier: ingest, flush, then the questions."""
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
            memory.build_context(CONVERSATION, conversation.facts[0].question, max_tokens)  # warm the caches
            timings, hits, strict, stale_anywhere, sizes, missed = [], 0, 0, 0, [], []
            for repeat in range(passes):
                for fact in conversation.facts:
                    t0 = time.perf_counter()
                    context = memory.build_context(CONVERSATION, fact.question, max_tokens)
                    timings.append(time.perf_counter() - t0)
                    sizes.append(context.token_count)
                    if repeat == 0:
                        hit = answered(fact, context)
                        hits += hit
                        missed += [] if hit else [fact.key]
                        strict += answered_strictly(fact, context)
                        stale_anywhere += any(old.casefold() in context.text.casefold() for old in fact.stale)
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
                "context_tokens": {"max": max(sizes), "limit": max_tokens},
                "recall": {"questions": len(conversation.facts), "answered": hits,
                           "rate": round(hits / len(conversation.facts), 3), "strictly": strict,
                           "strict_rate": round(strict / len(conversation.facts), 3),
                           "updated_facts": sum(bool(f.stale) for f in conversation.facts),
                           "stale_value_anywhere": stale_anywhere, "missed": missed},
                "rss_mb": {"process": round(psutil.Process().memory_info().rss / 2**20),
                           "worker": round(worker_rss) if worker_rss else None},
            }
        finally:
            memory.close()


def run(tokens: int = 750_000, budgets: tuple[int, ...] = (250_000, 20_000), max_tokens: int = 4000,
        facts: int = 36, updated: int = 12, passes: int = 3, seed: int = 0,
        progress: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    from moe_system.memory.tokens import base_tokenizer_dir, token_counter

    tokenizer = base_tokenizer_dir()
    count = token_counter(tokenizer)
    progress("writing the conversation")
    try:
        conversation = synthetic_conversation(tokens, count, facts=facts, updated=updated, seed=seed)
    except ValueError as err:  # too few tokens for the facts asked for: the caller's choice, said in one line
        raise InvalidRequestError(str(err)) from err
    baseline_text = truncation(conversation, max_tokens, count).casefold()
    baseline = sum(f.answer.casefold() in baseline_text for f in conversation.facts)
    runs = [run_one(conversation, budget, tokenizer, max_tokens, passes, progress) for budget in budgets]
    return {
        "conversation": {"tokens": conversation.tokens, "messages": len(conversation.messages),
                         "facts": len(conversation.facts), "updated": sum(bool(f.stale) for f in conversation.facts),
                         "seed": seed},
        "max_context_tokens": max_tokens,
        "runs": runs,
        "peer": {"name": f"truncation (last {max_tokens} tokens)", "answered": baseline,
                 "rate": round(baseline / len(conversation.facts), 3)},
    }
