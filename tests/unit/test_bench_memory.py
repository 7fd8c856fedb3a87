"""The memory benchmark's scoring and peers (`bench/memory.py`, `bench/memory_peers.py`) without a model: every
fact asked directly and in its paraphrases, recall split by question and fact kind, the tail peer (the newest
messages, contiguous) and the BM25 peer (best-matching messages, in chat order) within the budget, labelled so the
same `answered` check applies. Tokens are whitespace-separated words.

    .venv/bin/pytest -q tests/unit/test_bench_memory.py
"""

from __future__ import annotations

from collections.abc import Sequence

from moe_system.bench.memory import answered, questions, recall
from moe_system.bench.memory_peers import PeerContexts
from moe_system.data.conversation import PlantedFact, SyntheticConversation
from moe_system.memory import Context


class Words:
    """A token counter that counts whitespace-separated words."""

    def __call__(self, text: str) -> int:
        return len(text.split())

    def many(self, texts: Sequence[str]) -> list[int]:
        return [self(text) for text in texts]


def chat() -> SyntheticConversation:
    filler = [("user", f"Question {i} about pasta and the weather in Lisbon, please answer briefly today.")
              if i % 2 == 0 else ("assistant", f"Answer {i}: boil the pasta for nine minutes and check the forecast.")
              for i in range(40)]
    messages = [("user", "My dog is called Rex, by the way."), ("assistant", "Noted."), *filler,
                ("user", "We renamed the dog, he is Bruno now."), ("assistant", "Got it."), *filler[:6]]
    dog = PlantedFact("dog_name", "en", "What is my dog's name?", "Bruno", ("Rex",), (0, 42),
                      ("What do we call our dog?", "Remind me of the dog's name."))
    cat = PlantedFact("cat_name", "en", "What is my cat's name?", "Tom", (), (1,))
    return SyntheticConversation(messages, [dog, cat], sum(len(text.split()) for _, text in messages))


def test_questions_and_recall_groups() -> None:
    conversation = chat()
    asked = questions(conversation)
    assert [(q.fact.key, q.direct) for q in asked] == [("dog_name", True), ("dog_name", False), ("dog_name", False),
                                                       ("cat_name", True)]
    good = Context("[#3 user] he is Bruno now", 5)
    result = recall(asked, [good, Context("[#1 user] Rex", 3), good, good])
    assert (result["answered"], result["questions"]) == (2, 4)
    assert result["direct"] == {"questions": 2, "answered": 1, "rate": 0.5}
    assert result["paraphrased"] == {"questions": 2, "answered": 1, "rate": 0.5}
    assert result["updated"]["questions"] == 3 and result["never_updated"]["answered"] == 0
    assert result["missed"] == ["cat_name"] and result["missed_paraphrased"] == ["dog_name"]
    assert recall(asked[3:], [good])["paraphrased"] is None


def test_tail_is_the_newest_messages_within_the_budget() -> None:
    conversation = chat()
    peers = PeerContexts(conversation, Words())
    tail = peers.tail(120)
    assert 0 < tail.token_count <= 120
    labels = [int(line.split()[0][2:]) for line in tail.text.split("\n")]
    assert labels == list(range(len(conversation.messages) - len(labels) + 1, len(conversation.messages) + 1))
    assert answered(conversation.facts[0], tail)  # the update lies in the tail, the old name does not


def test_bm25_takes_the_best_matches_in_chat_order() -> None:
    conversation = chat()
    peers = PeerContexts(conversation, Words())
    context = peers.best_matches("What is my dog's name? Was the dog renamed?", 40)
    assert 0 < context.token_count <= 40
    assert "Rex" in context.text and "Bruno" in context.text and "pasta" not in context.text
    assert context.text.index("Rex") < context.text.index("Bruno")  # chat order, as labelled
    assert answered(conversation.facts[0], context)
    assert peers.best_matches("submarine", 40).text == ""
