"""Fact recall of the three-level memory on a hand-written English/Russian chat (`data/memory_field/chat.yaml`, or
`--chat chat_b.yaml`): facts stated in passing, the way people mention them, asked at the end of a long conversation.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/memory_field.py [--json] [--chat chat.yaml] [--tokens 150000]
        [--budget 20000] [--seed 0]

The hand-written user turns are spread over the first 90% of a synthetic chat of `--tokens` tokens (the everyday
filler of `moe bench memory`, `data/conversation.py`, with its one planted fact removed); every tier holds
`--budget` tokens, so all three overflow and the statements are compressed long before the questions. Each fact is
asked directly and in one paraphrase; a question counts as answered as the memory benchmark counts it
(`bench.memory.answered`: the newest value in the 4,000-token context under a later turn than any stale value).
Also printed: what fact extraction costs per sentence (`memory.facts.extract_facts` over the chat's user turns).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from moe_system.bench.memory import answered
from moe_system.data.common import read_yaml
from moe_system.data.conversation import PlantedFact, synthetic_conversation
from moe_system.memory import ThreeLevelMemory
from moe_system.memory.facts import extract_facts, sentences
from moe_system.memory.tokens import base_tokenizer_dir, token_counter

CONVERSATION, USER = "field", "field-user"
ACK = {"en": "Got it, thanks for telling me.", "ru": "Поняла, спасибо, что сказали."}


CHATS = ("chat.yaml", "chat_b.yaml")


def _load(name: str) -> tuple[list[str], list[dict[str, Any]]]:
    chat = read_yaml("moe_system.data.memory_field", name)
    return list(chat["turns"]), list(chat["facts"])


def conversation(tokens: int, seed: int, chat: str = CHATS[0]) -> tuple[list[tuple[str, str]], list[PlantedFact]]:
    """The chat: filler with the hand-written turns of `chat` spread over its first 90%, and the facts to ask."""
    turns, facts = _load(chat)
    values = [v.casefold() for fact in facts for v in (str(fact["answer"]), *fact.get("stale", ()))]
    for fact in facts:  # the check the benchmark relies on: a value is stated, and never beside its stale values
        stated = [t for t in turns if str(fact["answer"]).casefold() in t.casefold()]
        assert stated, f"{fact['key']}: the answer is stated nowhere"
        assert not any(old.casefold() in t.casefold() for old in fact.get("stale", ()) for t in stated), fact["key"]
    count = token_counter(base_tokenizer_dir())
    filler = synthetic_conversation(tokens, count, facts=1, updated=0, seed=seed, templates="tuning")
    planted = set(filler.facts[0].positions) | {p + 1 for p in filler.facts[0].positions}
    pairs = [(filler.messages[i], filler.messages[i + 1]) for i in range(0, len(filler.messages) - 1, 2)
             if i not in planted and not any(v in (filler.messages[i][1] + filler.messages[i + 1][1]).casefold()
                                             for v in values)]
    at = {round(k * 0.9 * len(pairs) / len(turns)): turn for k, turn in enumerate(turns)}
    messages: list[tuple[str, str]] = []
    positions: dict[str, list[int]] = {}
    for k, pair in enumerate(pairs):
        if k in at:
            turn = at[k]
            for fact in facts:
                if any(v.casefold() in turn.casefold() for v in (str(fact["answer"]), *fact.get("stale", ()))):
                    positions.setdefault(fact["key"], []).append(len(messages))
            russian = any("а" <= ch <= "я" for ch in turn.casefold())
            messages += [("user", turn), ("assistant", ACK["ru" if russian else "en"])]
        messages += list(pair)
    planted_facts = [PlantedFact(key=f["key"], language="ru" if f["key"].startswith("ru_") else "en",
                                 question=f["questions"][0], answer=str(f["answer"]),
                                 stale=tuple(f.get("stale", ())), positions=tuple(positions.get(f["key"], ())),
                                 paraphrases=tuple(f["questions"][1:])) for f in facts]
    return messages, planted_facts


def extraction_cost(messages: list[tuple[str, str]]) -> dict[str, float]:
    """Microseconds of `extract_facts` per sentence of the user turns (the median of three passes)."""
    users = [text for role, text in messages if role == "user"]
    count = sum(len(sentences(text)) for text in users)
    passes = []
    for _ in range(3):
        t0 = time.perf_counter()
        for text in users:
            extract_facts(text)
        passes.append(time.perf_counter() - t0)
    return {"sentences": count, "us_per_sentence": round(statistics.median(passes) / count * 1e6, 1)}


def run(tokens: int, budget: int, seed: int, chat: str = CHATS[0], max_tokens: int = 4000) -> dict[str, Any]:
    messages, facts = conversation(tokens, seed, chat)
    hits: dict[str, list[bool]] = {"direct": [], "paraphrased": []}
    missed: dict[str, list[str]] = {"direct": [], "paraphrased": []}
    with tempfile.TemporaryDirectory(prefix="moe-field-memory-") as folder:
        memory = ThreeLevelMemory(Path(folder), budget, budget, budget, tokenizer=base_tokenizer_dir())
        try:
            t0 = time.perf_counter()
            for role, text in messages:
                memory.add_message(CONVERSATION, role, text, user_id=USER)
            memory.flush()
            ingest_s = time.perf_counter() - t0
            stats = memory.stats(CONVERSATION)
            for fact in facts:
                for number, question in enumerate((fact.question, *fact.paraphrases)):
                    group = "direct" if number == 0 else "paraphrased"
                    hit = answered(fact, memory.build_context(CONVERSATION, question, max_tokens))
                    hits[group].append(hit)
                    if not hit:
                        missed[group].append(fact.key)
        finally:
            memory.close()
    every = hits["direct"] + hits["paraphrased"]
    return {
        "chat": {"file": chat, "messages": len(messages), "facts": len(facts), "budget_per_tier": budget, "seed": seed,
                 "facts_in_force": stats["facts"], "ingest_s": round(ingest_s, 1)},
        "recall": round(sum(every) / len(every), 3),
        **{group: round(sum(h) / len(h), 3) for group, h in hits.items()},
        "missed": missed,
        "extraction": extraction_cost(messages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chat", choices=CHATS, default=CHATS[0], help="which hand-written chat to score")
    parser.add_argument("--tokens", type=int, default=150_000)
    parser.add_argument("--budget", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.tokens, args.budget, args.seed, args.chat)
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False)
        print()
        return
    print(f"recall {result['recall']:.1%}  direct {result['direct']:.1%}  paraphrased {result['paraphrased']:.1%}  "
          f"({result['chat']['file']}: {result['chat']['facts']} facts, {result['chat']['messages']} messages, "
          f"{result['chat']['budget_per_tier']} tokens per tier)")
    print(f"missed direct: {', '.join(result['missed']['direct']) or '-'}")
    print(f"missed paraphrased: {', '.join(result['missed']['paraphrased']) or '-'}")
    print(f"fact extraction: {result['extraction']['us_per_sentence']} µs a sentence "
          f"({result['extraction']['sentences']} sentences)")


if __name__ == "__main__":
    main()
