"""Statements no fact pattern understands, judged by broad cues (memory/statements.py) and keyed by their subject
(data/memory_facts/topics.yaml); the hand-written field chat's data (data/memory_field/chat.yaml)."""

from __future__ import annotations

import time

import pytest

from moe_system.data.common import read_yaml
from moe_system.memory.facts import SUBJECT_WORDS, extract_facts, index_words, similar_key
from moe_system.memory.statements import asks, hypothetical, lexicon, statement_parts, topic_of, transient


def keys(text: str) -> list[str]:
    return [fact.key for fact in extract_facts(text)]


def subjects(text: str) -> list[str]:
    """The subject of each fact: its key, or the first word of a statement key ("~allergy sesam swell")."""
    return [key[1:].split(" ", 1)[0] if key.startswith("~") else key for key in keys(text)]


@pytest.mark.parametrize(("text", "key"), [
    ("I take levocetirizine every day during hay fever season, otherwise I'm a mess.", "medication"),
    ("Ugh, can't eat anything with sesame in it, I swell up like a balloon.", "allergy"),
    ("We get paid on the 26th of each month, so the last week is always tight.", "payday"),
    ("Tuesday nights are bouldering nights for me, it's the only thing that clears my head.", "sport"),
    ("I've been practising cello every evening for the spring recital.", "instrument"),
    ("I'm a die-hard Sheffield Wednesday fan, for my sins.", "club"),
    ("My passport runs out in March 2029, so no rush on renewing it.", "passport"),
    ("Днюха у меня 14 февраля, да, прямо в День влюблённых.", "birthday"),
    ("Беру всегда капучино на кокосовом молоке, без сахара.", "coffee"),
    ("Я уже третий год тружусь в «Северсталь-Инфо», и пока не жалуюсь.", "employer"),
    ("Занимаюсь айкидо уже пять лет, на днях сдала на второй кю.", "sport"),
])
def test_statements_are_keyed_by_their_subject(text: str, key: str) -> None:
    assert subjects(text) == [key]
    # indexed with the words questions about the subject use
    assert SUBJECT_WORDS[key] in index_words(keys(text)[0])


def test_a_statement_before_a_question_counts() -> None:
    assert subjects("I'm flying out on BA2490 on the 3rd, can you help me pack light?") == ["flight"]
    assert statement_parts("Can you help me pack light?") == []
    assert keys("What should I pack for Oslo?") == []


@pytest.mark.parametrize("text", [
    "If I ever get a parrot I'll call it Captain Waffles, but that's not happening any time soon.",
    "Если бы у меня была собака, я бы назвала её Жужа.",
])
def test_hypotheticals_state_nothing(text: str) -> None:
    assert hypothetical(text)
    assert extract_facts(text) == []


@pytest.mark.parametrize("text", [
    "This is coffee number 3 today, so hopefully I make sense.",
    "I'm at the library right now and have about 57 minutes.",
    "I'm on the train to Riga and the connection keeps dropping.",
    "Это уже 3-я чашка кофе за день, так что соображаю с трудом.",
])
def test_the_moment_is_no_subject(text: str) -> None:
    """Chatter about one moment names subjects too; keyed by them, it would supersede what the user stated."""
    assert transient(text)
    assert not any(key in SUBJECT_WORDS for key in keys(text))


def test_chatter_without_a_value_is_no_subject() -> None:
    assert "phone" not in keys("I only have my phone with me, so typing is slow.")


def test_someone_elses_subject_is_theirs() -> None:
    assert subjects("My sister is allergic to cats, poor thing, she sneezes all the time.") != ["allergy"]
    assert subjects("I'm learning the banjo now and the neighbours hate me.") == ["instrument"]  # not theirs


def test_a_subject_alone_supersedes_nothing() -> None:
    """Two allergies are both in force, and so are a street address and a flat number; each is still indexed with
    its subject's words."""
    sesame, = keys("Ugh, can't eat anything with sesame in it, I swell up like a balloon.")
    peanuts, = keys("Мне нельзя арахис — сразу отекаю.")
    assert sesame != peanuts and similar_key(peanuts, [sesame]) is None
    street, = keys("We live at 14 Tannery Lane, right next to the bakery.")
    flat, = keys("Our flat number is 12B, second floor.")
    assert similar_key(flat, [street]) is None
    assert "allergic" in index_words(sesame) and "street" in index_words(street)


def test_people_known_by_name_beside_their_relation() -> None:
    assert [(f.key, f.value) for f in extract_facts("Grandma Winifred turned ninety last Sunday.")] == \
        [("grandmoth", "Winifred")]
    assert [(f.key, f.value) for f in extract_facts("Me and Desmond (my partner) are thinking about a trip.")] == \
        [("partner", "Desmond")]
    assert "boss" in SUBJECT_WORDS["manag"]  # "who is my boss?" finds "my manager, Thaddeus Crane, ..."


def test_questions_and_requests() -> None:
    assert asks("can you help me pack light?")
    assert asks("Подскажи, какую куртку выбрать")
    assert not asks("I live in Oslo")


def test_topic_of_prefers_the_subject_with_most_cues() -> None:
    assert topic_of("For the donor form they asked my blood group") is not None
    assert topic_of("For the donor form they asked my blood group").key == "blood_type"  # type: ignore[union-attr]
    assert topic_of("nothing to see here") is None


def test_lexicon_is_well_formed() -> None:
    found = lexicon()
    assert len({topic.key for topic in found.topics}) == len(found.topics)
    assert all(topic.words.split() for topic in found.topics)


def test_extraction_stays_cheap() -> None:
    """Facts are extracted for every user message: a sentence costs well under a millisecond."""
    text = ("I only have my phone with me, so typing is slow. We live at 14 Tannery Lane, right next to the bakery. "
            "Can you suggest a way to plan my week? Мне нельзя арахис — сразу отекаю.")
    extract_facts(text)
    started = time.perf_counter()
    for _ in range(50):
        extract_facts(text)
    assert (time.perf_counter() - started) / 200 < 2e-3


def test_field_chat_states_every_fact() -> None:
    chat = read_yaml("moe_system.data.memory_field", "chat.yaml")
    turns = [turn.casefold() for turn in chat["turns"]]
    assert len(chat["facts"]) >= 40
    for fact in chat["facts"]:
        assert len(fact["questions"]) == 2
        stated = [turn for turn in turns if str(fact["answer"]).casefold() in turn]
        assert stated, fact["key"]
        assert not any(str(old).casefold() in turn for old in fact.get("stale", ()) for turn in stated), fact["key"]


@pytest.mark.parametrize("text", [
    "I'm at the library right now and have about 57 minutes.",
    "We just got back from Edinburgh, still tired.",
    "Now, the question.",
    "Side note, while I remember.",
])
def test_chatter_keeps_no_fact(text: str) -> None:
    """Every fact kept costs room in the long-term tier, which drops its oldest facts first when full."""
    assert extract_facts(text) == []


def test_a_day_or_a_date_is_kept() -> None:
    """Days and dates are no sign of chatter: "my flight leaves on Friday" is worth keeping."""
    assert subjects("I handed in my notice and I'm starting at Quillon Systems on Monday!") == ["employer"]


@pytest.mark.parametrize(("text", "value"), [
    ("Please note my new number is 555 1234.", "555 1234"),  # a request's own words may state a fact
    ("My sister Anna would love this.", "Anna"),  # "would" alone is no hypothetical
])
def test_requests_and_wishes_still_state(text: str, value: str) -> None:
    assert [fact.value for fact in extract_facts(text)] == [value]


def test_by_the_way_with_a_value_is_kept() -> None:
    """People mention facts in passing ("anyway, ...", "кстати, ..."): only a remark with nothing in it is dropped."""
    assert extract_facts("Anyway, we adopted a greyhound called Pickle.")
    assert extract_facts("Кстати, мы завели попугая Кешу.")
