"""The long-conversation memory benchmark data (`moe_system.data.conversation`): determinism, size, alternating
roles, both languages, planted facts that are stated where their positions say and nowhere else (the filler and its
distractors never contain a planted value, current or stale), updates placed after their originals, partly near the
end and a few in the last 3,000 tokens, clear errors for impossible requests, and a 750k-token conversation generated
in well under 10 s. The template files (`data/memory_bench/`) are checked by schema: the tuning set and the held-out
set (whose contents these tests never look at beyond their shape), and malformed files are refused. Tokens are
counted as whitespace-separated words.

    .venv/bin/pytest -q tests/unit/test_conversation_data.py
"""

from __future__ import annotations

import itertools
import re
import statistics
import time
from importlib.resources import files

import pytest
import yaml

from moe_system.data.common import DataError
from moe_system.data.conversation import SyntheticConversation, synthetic_conversation
from moe_system.data.conversation_templates import FOLDER, PACKAGE, chats, kinds, parse_kinds

CYRILLIC = re.compile("[А-Яа-яЁё]")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def conversation() -> SyntheticConversation:
    return synthetic_conversation(80_000, words, seed=3)


def test_deterministic_for_a_seed() -> None:
    first = synthetic_conversation(30_000, words, facts=10, updated=4, seed=7)
    again = synthetic_conversation(30_000, words, facts=10, updated=4, seed=7)
    other = synthetic_conversation(30_000, words, facts=10, updated=4, seed=8)
    assert first == again
    assert first.messages != other.messages


def test_size_and_roles(conversation: SyntheticConversation) -> None:
    sizes = [words(text) for _, text in conversation.messages]
    assert conversation.tokens == sum(sizes)
    assert abs(conversation.tokens - 80_000) <= max(sizes)
    assert [role for role, _ in conversation.messages] == ["user", "assistant"] * (len(sizes) // 2)
    assert 40 <= statistics.median(sizes) <= 250
    assert sum(20 <= size <= 300 for size in sizes) >= 0.9 * len(sizes)


def test_every_value_is_in_its_own_statement_and_nowhere_else(conversation: SyntheticConversation) -> None:
    facts = conversation.facts
    assert len(facts) == 36 and len({fact.key for fact in facts}) == 36
    owner: dict[str, int] = {}
    for fact in facts:
        values = (*fact.stale, fact.answer)
        assert len(fact.positions) == len(values) and list(fact.positions) == sorted(set(fact.positions))
        for value, position in zip(values, fact.positions, strict=True):
            role, text = conversation.messages[position]
            assert role == "user" and value in text
            owner[value.lower()] = position
    assert len(owner) == sum(len(fact.positions) for fact in facts)  # all values distinct
    for index, (_, text) in enumerate(conversation.messages):
        lowered = text.lower()
        found = {owner[value] for value in owner if value in lowered}
        assert found <= {index}, f"message {index} contains a planted value stated at {found - {index}}"


def test_updates_come_later_and_some_near_the_end(conversation: SyntheticConversation) -> None:
    n = len(conversation.messages)
    changed = [fact for fact in conversation.facts if fact.stale]
    assert len(changed) == 12 and all(1 <= len(fact.stale) <= 2 for fact in changed)
    assert all(fact.positions[0] < 0.7 * n for fact in conversation.facts)
    assert any(fact.positions[-1] > 0.8 * n for fact in changed)
    assert any(not fact.stale and fact.positions[0] < 0.5 * n for fact in conversation.facts)


def test_a_few_updates_lie_in_the_last_3000_tokens(conversation: SyntheticConversation) -> None:
    tail, used = set(), 0
    for index in range(len(conversation.messages) - 1, -1, -1):
        used += words(conversation.messages[index][1])
        if used > 3000 + 1000:  # the recent window counts filler only; the statements in it add to it
            break
        tail.add(index)
    recent = [fact for fact in conversation.facts if fact.positions[-1] in tail]
    assert len(recent) >= 3 and all(fact.stale and fact.positions[0] not in tail for fact in recent)  # 36 / 12


def test_template_sets_share_the_filler() -> None:
    tuning = synthetic_conversation(30_000, words, facts=10, updated=4, seed=5)
    other = synthetic_conversation(30_000, words, facts=10, updated=4, seed=5, templates="heldout")
    first, second = (
        [text for i, (_, text) in enumerate(c.messages) if not {i, i - 1} & {p for f in c.facts for p in f.positions}]
        for c in (tuning, other))
    same = sum(a == b for a, b in zip(first, second, strict=False))
    assert same >= 0.9 * min(len(first), len(second))  # one stream, but for messages drawn again for a planted value


def test_updates_are_phrased_differently() -> None:
    compared = 0
    for seed in range(4):
        conversation = synthetic_conversation(40_000, words, facts=20, updated=10, seed=seed)
        for fact in conversation.facts:
            phrasings = []
            for value, position in zip((*fact.stale, fact.answer), fact.positions, strict=True):
                sentences = SENTENCE.split(conversation.messages[position][1])
                phrasings.append(next(s for s in sentences if value in s).replace(value, "{v}"))
            for older, newer in itertools.pairwise(phrasings):
                compared += 1
                assert older != newer, f"{fact.key}: the update repeats the phrasing {older!r}"
    assert compared >= 40


def test_both_languages(conversation: SyntheticConversation) -> None:
    by_language = [fact.language for fact in conversation.facts]
    assert by_language.count("en") == by_language.count("ru") == 18
    for fact in conversation.facts:
        is_russian = fact.language == "ru"
        assert bool(CYRILLIC.search(fact.question)) == is_russian
        assert all(bool(CYRILLIC.search(conversation.messages[p][1])) == is_russian for p in fact.positions)
    russian = sum(bool(CYRILLIC.search(text)) for _, text in conversation.messages) / len(conversation.messages)
    assert 0.3 <= russian <= 0.7


def test_filler_is_varied_and_concrete(conversation: SyntheticConversation) -> None:
    texts = [text for _, text in conversation.messages]
    assert len(set(texts)) >= 0.99 * len(texts)
    assert sum(bool(re.search(r"\d", text)) for text in texts) >= 0.5 * len(texts)
    distractor = re.compile(r"My \w+(?:[ -]\w+)?'s|^У \w+ |\. У \w+ ")
    assert sum(bool(distractor.search(text)) for text in texts) >= 0.1 * len(texts)


def test_subject_kinds_and_phrasings() -> None:
    assert len(kinds("tuning")) >= 50
    for kind in kinds("tuning"):
        for side in (kind.en, kind.ru):
            assert len(side.questions) == 3 and len(side.says) >= 3 and len(side.updates) >= 3
            assert all(t.count("{v}") == 1 for t in (*side.says, *side.updates))


def test_the_held_out_set_has_the_schema() -> None:
    """Read through the loader only (which checks every entry): a direct question and two paraphrases per side."""
    held_out = kinds("heldout")
    assert len(held_out) >= 36 and sum(kind.changes for kind in held_out) >= 12
    for kind in held_out:
        for side in (kind.en, kind.ru):
            assert len(side.questions) == 3 and side.says and side.updates
    conversation = synthetic_conversation(60_000, words, facts=min(20, len(held_out)), updated=6, seed=2,
                                          templates="heldout")
    assert all(len(fact.paraphrases) == 2 for fact in conversation.facts)


def test_filler_files_read() -> None:
    for language, chat in chats().items():
        assert len(chat.topics) >= 10 and len(chat.distractors) >= 20, language
        assert all({"name", "rel", "city", "phone"} <= set(chat.vocab) for chat in chats().values())


@pytest.mark.parametrize(("text", "message"), [
    ("kinds: []", "non-empty list"),
    ("kinds: [{key: a, changes: true, en: {}, ru: {}}]", "exactly questions, values"),
    ("kinds: [{key: a, changes: maybe, en: {}, ru: {}}]", "changes a boolean"),
    ("kinds: [{key: a, changes: true, en: &s {questions: [q], values: [x], says: ['no value'], updates: ['{v}']},"
     " ru: *s}]", "exactly one {v}"),
    ("kinds: [{key: a, changes: true, en: &s {questions: [q], values: {generator: nope}, says: ['{v}'],"
     " updates: ['{v}']}, ru: *s}]", "unknown value generator"),
    ("kinds: [{key: a, changes: true, en: &s {questions: [q], values: {int: [9, 1]}, says: ['{v}'],"
     " updates: ['{v}']}, ru: *s}]", "LO <= HI"),
])
def test_malformed_template_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(DataError, match=r"^bad\.yaml: .*" + re.escape(message)):
        parse_kinds(yaml.safe_load(text), "bad.yaml")
    with pytest.raises(DataError, match="unknown template set"):
        kinds("nope")


def test_template_files_are_there() -> None:
    shipped = {entry.name for entry in (files(PACKAGE) / FOLDER).iterdir()}
    assert shipped >= {"tuning.yaml", "heldout.yaml", "common.yaml", "filler_en.yaml", "filler_ru.yaml"}


@pytest.mark.parametrize(("facts", "updated"), [(1, 0), (1, 1), (5, 5), (40, 20)])
def test_other_fact_counts(facts: int, updated: int) -> None:
    conversation = synthetic_conversation(60_000, words, facts=facts, updated=updated, seed=11)
    assert len(conversation.facts) == facts
    assert sum(bool(fact.stale) for fact in conversation.facts) == updated
    assert abs(sum(fact.language == "en" for fact in conversation.facts) - facts / 2) <= 0.5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"facts": 0}, "facts must be between"),
    ({"facts": len(kinds("tuning")) + 1}, "facts must be between"),
    ({"facts": 5, "updated": 6}, "updated must be between"),
    ({"updated": -1}, "updated must be between"),
    ({"total_tokens": 0}, "total_tokens must be positive"),
    ({"total_tokens": 2_000}, "too small"),
])
def test_bad_requests(kwargs: dict[str, int], message: str) -> None:
    arguments = {"total_tokens": 50_000, "count_tokens": words, **kwargs}
    with pytest.raises(ValueError, match=message):
        synthetic_conversation(**arguments)


def test_count_tokens_must_count() -> None:
    with pytest.raises(ValueError, match="positive count"):
        synthetic_conversation(50_000, lambda text: 0)


def test_750k_tokens_is_fast() -> None:
    start = time.perf_counter()
    conversation = synthetic_conversation(750_000, words, seed=1)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"750k tokens took {elapsed:.1f} s"
    assert abs(conversation.tokens - 750_000) <= max(words(text) for _, text in conversation.messages)
    assert len(conversation.facts) == 36
