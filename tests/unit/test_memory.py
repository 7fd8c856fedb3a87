"""Three-level memory on a tiny tokenizer: facts (EN/RU) and updates, compression, tiers within budgets,
contexts within their budget, forgetting, and kill -9 at random moments (with the real worker process)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from moe_system.config import Settings
from moe_system.data.lexicon import concept_stems
from moe_system.errors import InvalidRequestError
from moe_system.memory import ThreeLevelMemory
from moe_system.memory.compress import Compressor
from moe_system.memory.facts import THIRD_PARTY, extract_facts, similar_key
from moe_system.memory.retrieval import VectorIndex, query_stems
from moe_system.memory.store import MessageRow
from moe_system.memory.three_level import _asked_about, _others_named

CORPUS = [
    "I live in Oslo and my dog's name is Rex. We talked about pasta, flour and the weather in Paris.",
    "Меня зовут Оля, я живу в Казани. Мой номер телефона: +7 913 555-21-08. Погода была хорошая.",
    "The quick brown fox jumps over the lazy dog 0123456789. Съешь же ещё этих мягких французских булок.",
]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small byte-level BPE tokenizer folder (any text tokenizes; a few hundred merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(CORPUS * 20, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    folder = tmp_path_factory.mktemp("tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=raw).save_pretrained(folder)
    return folder


def memory(path: Path, tokenizer: Path, budget: int = 1000, **options: object) -> ThreeLevelMemory:
    options = {"vectors": False, "background": False, **options}
    return ThreeLevelMemory(path / "mem", budget, budget, budget, tokenizer=tokenizer, **options)  # type: ignore[arg-type]


def filler(number: int) -> str:
    return (f"Message {number}: we cooked pasta with {number * 7} grams of flour near station {number % 13}. "
            f"The weather was {['fine', 'grey', 'windy'][number % 3]} and the train left at {number % 24}:15.")


@pytest.mark.parametrize("text, key, value", [
    ("By the way, I live in Tromsø now.", "residence", "Tromsø"),
    ("We named our cat Pixel.", "cat", "Pixel"),
    ("My dog's name is Rex.", "dog", "Rex"),
    ("Big news: we moved to Bergen last month.", "residence", "Bergen"),
    ("My wifi password is KX-4471, don't tell anyone.", "password wifi", "KX-4471"),
    ("I work at Northwind Traders.", "employer", "Northwind Traders"),
    ("Мой номер телефона: +7 913 555-21-08.", "phone", "+7 913 555-21-08"),
    ("Теперь мой номер +7 989 203-43-18.", "phone", "+7 989 203-43-18"),
    ("Моего кота зовут Барсик.", "кот", "Барсик"),
    ("Мы переехали в Самару.", "residence", "Самару"),
    ("Мой любимый цвет — зелёный.", "favorit цвет", "зелёный"),
])
def test_facts_in_english_and_russian(text: str, key: str, value: str) -> None:
    facts = extract_facts(text)
    assert [(fact.key, fact.value) for fact in facts] == [(key, value)]


def test_questions_state_no_facts_and_clauses_split() -> None:
    assert extract_facts("What is my dog's name?") == []
    for request in ("Write a SQL query that counts rows in table users.", "Please explain decorators with an example "
                    "from Django.", "Посчитай 15% от 2400 для моего отчёта.", "Напиши запрос к таблице Orders."):
        assert extract_facts(request) == [], request  # requests for work are not facts about the user
    assert [f.value for f in extract_facts("Write this down: my locker code is 4417.")] == ["4417"]
    facts = extract_facts("Меня зовут Оля, и я живу в Казани, а мой телефон +7 900 1234567.")
    assert [fact.key for fact in facts] == ["name", "residence", "phone"]


@pytest.mark.parametrize("text, key, value", [
    ("My best friend Tamsin is flying in on Friday.", "best friend", "Tamsin"),
    ("Anselm, my cousin on my mum's side, is staying with us.", "cousin", "Anselm"),
    ("Priya is my closest friend.", "best friend", "Priya"),
    ("I have a sister called Anna.", "sister", "Anna"),
    ("Dad sold his flat and moved to Bergamo.", "father residence", "Bergamo"),
    ("I'm on the Data Platform team at work.", "team", "Data Platform"),
    ("At work I'm on a project called Nightjar.", "project", "Nightjar"),
    ("I play the bassoon in an amateur orchestra.", "instrument", "bassoon"),
    ("I play handball twice a week.", "sport", "handball"),
    ("I'm halfway through Piranesi right now.", "reading", "Piranesi"),
    ("I'm a technical writer by trade.", "job", "technical writer"),
    ("The registration on my car is BW12 GFZ.", "car registr", "BW12 GFZ"),
    ("Моя двоюродная сестра Таисия выходит замуж в июне.", "двоюродн сестр", "Таисия"),
    ("Сегодня звонил Мирон, мой самый близкий друг.", "друг лучш", "Мирон"),
    ("Двоюродную сестру зовут Пелагея.", "двоюродн сестр", "Пелагея"),
    ("У меня есть брат Олег.", "брат", "Олег"),
    ("Папа переехал в город Кострома.", "отец residence", "Кострома"),
    ("Я работаю в команде «Аналитика рисков».", "team", "Аналитика рисков"),
    ("Сейчас я техлид проекта «Кристалл».", "project", "Кристалл"),
    ("Уже много лет играю на кларнете.", "instrument", "кларнете"),
    ("Дважды в неделю играю в регби.", "sport", "регби"),
    ("Сейчас читаю «Лавр», уже на середине.", "reading", "Лавр"),
    ("У меня новый номер — +7 999 442-30-40.", "phone", "+7 999 442-30-40"),
    ("По профессии я технический писатель.", "job", "технический писатель"),
])
def test_people_work_and_hobbies(text: str, key: str, value: str) -> None:
    assert [(fact.key, fact.value) for fact in extract_facts(text)] == [(key, value)]


@pytest.mark.parametrize("text", [
    "My cousin is allergic to wasp stings.",  # describes the cousin: no new name for them
    "My best friend is visiting until Friday.",
    "У подруги собаку зовут Найда.",  # someone else's dog, not "the dog"
    "В команде 12 человек в трёх часовых поясах.",  # no team named
    "Today, my boss left early.",
])
def test_what_names_no_one_keeps_the_name(text: str) -> None:
    assert all(fact.key not in {"cousin", "best friend", "собак", "team", "boss"} for fact in extract_facts(text))


def test_implied_first_person_and_inflected_relatives() -> None:
    assert extract_facts("Каждое утро беру двойной эспрессо в кофейне у дома.")  # Russian drops the "я"
    assert extract_facts("Dad lives in Aberdeen, so I only see him at Christmas.")
    assert THIRD_PARTY.findall("Как зовут мою двоюродную сестру?") == THIRD_PARTY.findall("Моя сестра Анна")
    assert THIRD_PARTY.findall("my friends") == ["friend"] and not THIRD_PARTY.search("Другой вариант")


def test_statements_no_pattern_knows_share_a_key_with_their_update() -> None:
    old = extract_facts("The policy number on my travel insurance is SVF-4332-17.")[0]
    new = extract_facts("I renewed the travel insurance; the new policy number is YFF-6608-77.")[0]
    assert new.key.startswith("~")
    assert similar_key(new.key, [old.key]) == old.key
    assert similar_key(extract_facts("My neighbour's dog is called Bruno.")[0].key, ["dog"]) is None
    named = extract_facts("My best friend Tamsin is flying in on Friday.")[0].key
    visiting = extract_facts("My best friend is visiting until Friday.")[0].key  # who, but nothing in common about them
    assert visiting.startswith("~") and similar_key(visiting, [named]) is None


def test_statements_told_in_passing_are_kept() -> None:
    """Broad cues, not subjects: a long first-person statement, a statement before a question, a valued statement
    about a relative without a pronoun; a question that states nothing keeps nothing."""
    assert extract_facts("I take levocetirizine every day during hay fever season, otherwise I'm a mess.")
    flight = extract_facts("I'm flying out on BA2490 on the 3rd, can you help me pack light?")
    assert [fact.text for fact in flight] == ["I'm flying out on BA2490 on the 3rd"]
    assert extract_facts("Сестру зовут Катя.")
    assert [fact.key for fact in extract_facts("Still Tesco Express, by the way.")] == ["~express tesco"]
    teacher = extract_facts("Could you help me write a note to Mrs Pemberton-Ayles? She's my son's teacher.")
    assert teacher[-1].text == ("Could you help me write a note to Mrs Pemberton-Ayles? She's my son's "
                                "teacher.")  # the sentence before names who "she" is
    assert extract_facts("Write a short birthday poem for my goddaughter Philippa, she turns seven on Saturday.")
    assert [fact.text for fact in extract_facts("Сына зовут Тимур, что ему подарить?")] == ["Сына зовут Тимур"]
    assert extract_facts("Can I bring my dog, Rex, on the train?")  # the question names the user's dog
    for question in ("Can I bring my dog on the train?", "Any ideas for a takeaway tonight?",
                     "Что посоветуешь, если я устал?"):
        assert extract_facts(question) == [], question


def test_first_person_without_a_pronoun_and_the_clauses_no_pattern_knows() -> None:
    """A parent in any case ("Маме нельзя…"), an English sentence that drops its "I" ("Been bouldering…"), a bare
    noun before "is" ("Title is…") speak of the user; "It's my favourite" continues the sentence before; a clause
    no pattern understood is kept beside the one a pattern did."""
    assert extract_facts("Маме нельзя ибупрофен, у неё желудок.")
    assert extract_facts("У мамы кот Пломбир опять сбежал к соседям.")
    assert extract_facts("Moved to Leeds last month, still unpacking.")
    assert extract_facts("Title is senior analytics lead now.")
    for idle in ("It is raining again.", "There's a storm coming tonight."):
        assert extract_facts(idle) == [], idle
    katsu = extract_facts("Is katsu curry hard to make at home? It's my absolute favourite.")
    assert "katsu curry" in katsu[-1].text  # the question before says what "it" is
    climbing = extract_facts("Been bouldering twice a week since spring and my fingers are the weak link.")
    assert any("bouldering" in fact.text for fact in climbing)
    assert THIRD_PARTY.findall("Как зовут моего кузена?") == ["кузен"]


def test_keys_are_content_words_about_the_same_people() -> None:
    """Keys are made of content words: "I've been ... for a while" and "I've been ... since" share only function
    words, so the second does not supersede the first; nor does a statement about someone else."""
    employer = extract_facts("I've been with Lumen Robotics for a while now.")[0].key
    chatter = extract_facts("I've been thinking about this since Saturday.")[0].key
    assert similar_key(chatter, [employer]) is None
    birthday = extract_facts("У меня день рождения 12 января, отмечаем на даче.")[0].key
    assert similar_key(extract_facts("У тёти день рождения 23 января, отмечаем на даче.")[0].key, [birthday]) is None
    friend = extract_facts("Ezekiel, my closest friend since school, just called me.")[0].key
    assert extract_facts("My best friend's number is +44 7874 323 461.")[0].key == f"{friend} phone"


def test_each_other_names_no_friend() -> None:
    assert THIRD_PARTY.findall("Начальник новый, пока присматриваемся друг к другу.") == ["Начальник"]  # no friend
    assert THIRD_PARTY.findall("Мой друг Петя") == ["друг"]


def test_a_role_asked_in_other_words_is_the_asker_s_own() -> None:
    """"Как зовут моего руководителя?" asks about the user's boss: a line naming "начальник" names no one else, so
    it is not pushed behind the lines about the user; a line about a neighbour still is."""
    asked = _asked_about("Как зовут моего руководителя?")
    assert not _others_named("Начальник у меня — Эдуард Львович, строгий, но справедливый.") - asked
    assert _others_named("Мой сосед Гена вечно сверлит по утрам.") - asked


def test_concepts_find_a_fact_told_in_other_words(tmp_path: Path, tokenizer_dir: Path) -> None:
    """Lexical search alone (no vectors): the fact is indexed with the words of its concepts (data/lexicon)."""
    assert "boy" in concept_stems(["son"]) and "терапевт" in concept_stems(["врач"])
    assert concept_stems(["weather"]) == [] and concept_stems(["in"]) == []  # no function word, no phrase
    with memory(tmp_path, tokenizer_dir, budget=400) as mem:
        mem.add_message("c", "user", "Thaddeus, my son, wants a dinosaur cake this year.", user_id="u1")
        mem.add_message("c", "user", "Наблюдаюсь у врача по фамилии Мельниченко.", user_id="u1")
        for number in range(60):
            mem.add_message("c", "assistant", filler(number))
        mem.flush()
        for question, value in (("What is my boy called?", "Thaddeus"), ("Кто мой терапевт?", "Мельниченко")):
            found = mem.store.facts(mem.store.search("c", "fact", query_stems(question), 5))
            assert value in found[0].text, (question, found)  # best first


def test_compression_keeps_facts_and_drops_duplicates() -> None:
    compressor = Compressor()
    rows = [MessageRow(i, "c", i, "user", filler(i) + " It was a nice day, really nice." * 2, 40, 0.0)
            for i in range(1, 9)]
    rows.append(MessageRow(9, "c", 9, "user", "Honestly, nothing much. My locker code is 4471-B.", 12, 0.0))
    pieces = compressor.messages(rows)
    text = "\n".join(piece.text for piece in pieces)
    assert "4471-B" in text
    assert text.count("It was a nice day") <= 1
    assert pieces[0].first_seq == 1 and pieces[-1].last_seq == 9
    assert all(piece.text for piece in pieces)


def test_bad_input_is_refused(tmp_path: Path, tokenizer_dir: Path) -> None:
    with memory(tmp_path, tokenizer_dir) as mem:
        for args in [("c", "robot", "hi"), ("c", "user", "  "), ("", "user", "hi")]:
            with pytest.raises(InvalidRequestError):
                mem.add_message(*args)
        with pytest.raises(InvalidRequestError):
            mem.build_context("c", "q", 10)
        with pytest.raises(InvalidRequestError):
            ThreeLevelMemory(tmp_path / "x", current_tokens=5, tokenizer=tokenizer_dir)
        assert mem.build_context("nobody", "anything", 500).text == ""


def integrity(db_path: Path) -> dict[str, int]:
    """Check the invariants a crash must not break; returns the conversation's last turn."""
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    result = {}
    for key, cid, seq, current, moving, obsolete, longterm in db.execute(
            "SELECT key, id, seq, current_tokens, moving_tokens, obsolete_tokens, longterm_tokens FROM conversations"):
        def total(sql: str, key: int = key) -> int:
            return db.execute(sql, (key,)).fetchone()[0] or 0

        assert current == total("SELECT sum(tokens) FROM messages WHERE conv_key = ? AND state = 'current'")
        assert moving == total("SELECT sum(tokens) FROM messages WHERE conv_key = ? AND state = 'moving'")
        assert obsolete == total("SELECT sum(tokens) FROM chunks WHERE conv_key = ? AND tier = 'obsolete'")
        assert longterm == total("SELECT sum(tokens) FROM chunks WHERE conv_key = ? AND tier = 'longterm'") + \
            total("SELECT sum(tokens) FROM facts WHERE conv_key = ?")
        present = {row[0] for row in db.execute("SELECT seq FROM messages WHERE conv_key = ?", (key,))}
        covered = set(present)
        for first, last in db.execute("SELECT first_seq, last_seq FROM chunks WHERE conv_key = ?", (key,)):
            covered |= set(range(first, last + 1))
        # every turn is stored or compressed, but for the oldest ones the long-term budget dropped (a prefix)
        assert covered == set(range(min(covered, default=1), seq + 1)), "a turn is neither stored nor compressed"
        result[cid] = seq
    return result


def test_tiers_stay_within_budgets_and_every_turn_is_kept(tmp_path: Path, tokenizer_dir: Path) -> None:
    with memory(tmp_path, tokenizer_dir, budget=2000) as mem:
        mem.add_message("c", "user", "Hi! I live in Oslo and my dog's name is Rex.", user_id="u")
        for number in range(300):
            mem.add_message("c", "user" if number % 2 == 0 else "assistant", filler(number), user_id="u")
        mem.add_message("c", "user", "Big news: we moved to Bergen last month.", user_id="u")
        mem.flush()
        stats = mem.stats("c")
        assert stats["messages"] == 302 and stats["moving_tokens"] == 0
        for tier in ("current_tokens", "obsolete_tokens"):
            assert 0 < stats[tier] <= 2000
        assert 0 < stats["longterm_tokens"] <= 2000
        context = mem.build_context("c", "Where do I live? What is my dog's name?", 400)
        facts = "\n".join(next(s for s in context.sections if s.name == "facts").lines)
        assert "Bergen" in facts and "Oslo" not in facts and "Rex" in facts
        assert [s.name for s in context.sections][-1] == "recent"
    assert integrity(tmp_path / "mem" / "memory.db") == {"c": 302}


def test_summarizer_rewrites_long_term_summaries_only_when_shorter(tmp_path: Path, tokenizer_dir: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The optional LLM summarizer's plumbing, with plain functions for the model (the embedded model's run is in
    tests/integration/test_memory_real.py): each long-term summary is offered once, newest first; a shorter rewrite
    replaces it under a `[#a–b summary]` label with the counters kept exact, a longer one is declined, and a
    summarizer that fails leaves the summaries extractive without stopping the compression."""
    from moe_system.memory.background import Compaction

    asked: list[int] = []

    def first_words(text: str, max_tokens: int) -> str:  # every other rewrite is longer than the summary
        asked.append(max_tokens)
        return " ".join(text.split()[2:5]) if len(asked) % 2 else text + " " + text

    with memory(tmp_path, tokenizer_dir, budget=1500) as mem:
        for number in range(160):
            mem.add_message("c", "user" if number % 2 == 0 else "assistant", filler(number), user_id="u")
        mem.flush()
        before = [c["text"] for c in mem.show("c")["longterm"]]
        assert len(before) >= 2
        Compaction(mem.store, mem.budgets, mem.count_tokens, None, first_words).run_until_idle()
        after = [c["text"] for c in mem.show("c")["longterm"]]
        assert mem.store.unrefined_summary() is None and len(asked) == len(before)
        rewritten = [text for text in after if "summary] " in text]
        assert rewritten and len(rewritten) < len(before)  # the longer rewrites were declined: text kept
        assert all(text.startswith("[#") and len(text) < max(map(len, before)) for text in rewritten)

        def broken(text: str, max_tokens: int) -> str:
            raise RuntimeError("no such expert")

        for number in range(160, 260):
            mem.add_message("c", "user", filler(number), user_id="u")
        Compaction(mem.store, mem.budgets, mem.count_tokens, None, broken).run_until_idle()
        assert "the summarizer failed (RuntimeError: no such expert)" in capsys.readouterr().err
        assert all(0 < mem.stats("c")[tier] <= 1500 for tier in ("current_tokens", "obsolete_tokens"))
    assert integrity(tmp_path / "mem" / "memory.db") == {"c": 260}


@pytest.mark.parametrize("max_tokens", [64, 150, 600, 3000])
def test_context_never_exceeds_its_budget(tmp_path: Path, tokenizer_dir: Path, max_tokens: int) -> None:
    with memory(tmp_path, tokenizer_dir, budget=1500) as mem:
        for number in range(120):
            mem.add_message("c", "user", filler(number) + " Я живу в Казани, мой номер +7 900 1234567.")
        mem.flush()
        context = mem.build_context("c", "Где я живу и какой у меня номер?", max_tokens)
        assert context.token_count <= max_tokens
        assert context.token_count == mem.count_tokens(context.text)
        assert context.token_count > 0 or max_tokens < 100  # a tiny budget may hold no whole line


LINES = ["Known facts about the user (the newest statement of each):", "- [#12] My name is Ann.", "", "a  b", "it's",
         "[#7 user] Привет, меня зовут Оля! Мой номер +7 913 555-21-08 🙂", "«цитата»", " leading", "trailing ",
         "[#44 assistant] Sure: 1) one; 2) two.", "tab\there", "'", "s", "x.", "\r", "Ünïcödé… ß"]


def punctuation_joins_line_breaks(folder: Path) -> Path:
    """A tokenizer whose pre-tokenizer joins punctuation with the line break after it (as Llama 3's regex does):
    its count of a text is not the sum of its lines' counts, so `TokenCounter.lines` must count the whole."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    raw.train_from_iterator(["done.\nnext", *CORPUS] * 20, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=raw).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("kind", ["byte-level", "punctuation-joins-line-breaks"])
def test_line_counts_add_up_to_the_count_of_the_whole(tmp_path: Path, tokenizer_dir: Path, kind: str) -> None:
    import random

    from moe_system.memory.tokens import TokenCounter

    folder = tokenizer_dir if kind == "byte-level" else punctuation_joins_line_breaks(tmp_path / "tokenizer")
    counter = TokenCounter(str(folder))
    whole, parts = counter("done.\nnext"), counter("done.") + counter("\n") + counter("next")
    assert counter.lines("done.\nnext") == whole and (whole < parts) == (kind != "byte-level")
    rng = random.Random(0)
    for _ in range(2000):
        text = "\n".join(rng.choice(LINES) for _ in range(rng.randint(1, 9)))
        assert counter.lines(text) == counter(text), repr(text)


def test_russian_updates_win(tmp_path: Path, tokenizer_dir: Path) -> None:
    with memory(tmp_path, tokenizer_dir) as mem:
        mem.add_message("c", "user", "Меня зовут Оля. Я живу в Казани.", user_id="u1")
        for number in range(40):
            mem.add_message("c", "assistant", filler(number))
        mem.add_message("c", "user", "Новости: мы переехали в Самару!", user_id="u1")
        mem.flush()
        context = mem.build_context("c", "В каком городе я живу?", 300)
        facts = next(s for s in context.sections if s.name == "facts").lines
        assert any("Самару" in line for line in facts) and not any("Казани" in line for line in facts)


def test_user_facts_span_conversations_and_other_users_never_see_them(tmp_path: Path, tokenizer_dir: Path) -> None:
    with memory(tmp_path, tokenizer_dir) as mem:
        mem.add_message("a1", "user", "My locker code is 5512-Q.", user_id="alice")
        mem.add_message("b1", "user", "My locker code is 9090-Z.", user_id="bob")
        mem.add_message("a2", "user", "Hello again.", user_id="alice")
        mem.flush()
        assert "5512-Q" in mem.build_context("a2", "What is my locker code?", 300).text
        assert "9090-Z" not in mem.build_context("a2", "What is my locker code?", 300).text
        assert "5512-Q" not in mem.build_context("b1", "What is my locker code?", 300).text
        with pytest.raises(Exception, match="another user"):
            mem.add_message("a1", "user", "hijack", user_id="bob")


def test_forget_user_leaves_no_row(tmp_path: Path, tokenizer_dir: Path) -> None:
    with memory(tmp_path, tokenizer_dir, budget=500) as mem:
        for number in range(60):
            mem.add_message(f"alice-{number % 2}", "user", f"ALICEMARK {filler(number)} My pin is {number}-A.",
                            user_id="alice")
            mem.add_message("bob-1", "user", f"BOBMARK {filler(number)}", user_id="bob")
        mem.flush()
        assert mem.store.rows_of_user("alice") > 0
        assert mem.forget_user("alice") > 0
        assert mem.store.rows_of_user("alice") == 0
        assert mem.stats("bob-1")["messages"] == 60
    db = sqlite3.connect(tmp_path / "mem" / "memory.db")
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    dump = "\n".join(line for line in db.iterdump())
    assert "ALICEMARK".casefold() not in dump.casefold() and "alice" not in dump
    assert "BOBMARK" in dump and tables
    raw = b"".join(path.read_bytes() for path in (tmp_path / "mem").glob("memory.db*")).lower()
    assert b"alicemark" not in raw and b"bobmark" in raw  # not even in the full-text index or freed pages


_WRITER = textwrap.dedent("""
    import sys
    from moe_system.memory import ThreeLevelMemory
    mem = ThreeLevelMemory(sys.argv[1], 600, 600, 600, tokenizer=sys.argv[2], vectors=False)
    number = 0
    while True:
        number += 1
        seq = mem.add_message("c", "user" if number % 2 else "assistant",
                              f"Turn {number}: my code today is {number}-X and the weather is fine in Oslo. "
                              f"We cooked {number} dumplings.", user_id="u")
        if number == 1:
            print("worker", mem._worker.pid, flush=True)
        print("ack", seq, flush=True)
""")


@pytest.mark.parametrize("kill_after", [40, 170, 333])
def test_kill_9_at_any_moment_loses_no_acknowledged_message(tmp_path: Path, tokenizer_dir: Path,
                                                           kill_after: int) -> None:
    folder = tmp_path / "mem"
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder), str(tokenizer_dir)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    worker, acked = None, 0
    deadline = time.monotonic() + 120
    for line in child.stdout:
        kind, value = line.split()
        if kind == "worker":
            worker = int(value)
        else:
            acked = int(value)
        if acked >= kill_after or time.monotonic() > deadline:
            break
    for pid in (child.pid, worker):
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
    child.wait()
    assert acked >= kill_after
    seqs = integrity(folder / "memory.db")
    assert seqs["c"] >= acked  # nothing acknowledged was lost (and no tier is half-moved: see `integrity`)
    with ThreeLevelMemory(folder, 600, 600, 600, tokenizer=tokenizer_dir, vectors=False, background=False) as mem:
        mem.flush()  # the interrupted work resumes
        stats = mem.stats("c")
        assert stats["moving_tokens"] == 0 and stats["current_tokens"] <= 600 and stats["obsolete_tokens"] <= 600
    integrity(folder / "memory.db")


def test_background_worker_compresses_while_the_caller_goes_on(tmp_path: Path, tokenizer_dir: Path) -> None:
    with memory(tmp_path, tokenizer_dir, budget=800, background=True) as mem:
        for number in range(150):
            mem.add_message("c", "user", filler(number), user_id="u")
        mem.flush(timeout=120)
        stats = mem.stats("c")
        assert stats["moving_tokens"] == 0 and stats["obsolete_tokens"] > 0
        assert json.dumps(stats)
    integrity(tmp_path / "mem" / "memory.db")


# ---- vector indexes held for the most recently used conversations only


def fake_embed(self: ThreeLevelMemory, texts: Sequence[str]) -> np.ndarray:
    """Deterministic bag-of-words vectors (hashed words, L2-normalised) instead of MiniLM: cheap, and texts that
    share words are near each other."""
    from moe_system.text.embeddings import DIM

    vectors = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.casefold().split():
            vectors[row, zlib.crc32(word.encode()) % DIM] += 1.0
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)


def test_vector_indexes_are_bounded_and_rebuilt_after_eviction(tmp_path: Path, tokenizer_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ThreeLevelMemory, "_embed", fake_embed)
    with memory(tmp_path, tokenizer_dir, budget=400, vectors=True, index_conversations=3) as mem:
        for number in range(30):
            mem.add_message(f"c{number % 6}", "user", f"{filler(number)} My locker code is {number}-Q.", user_id="u")
        mem.flush()
        first = mem.build_context("c0", "What is my locker code?", 300).text
        for conversation in ("c1", "c2", "c3", "c4", "c5"):
            mem.build_context(conversation, "the weather", 300)
            assert len(mem._indexes) <= 3
        assert "c0" not in mem._indexes and "c5" in mem._indexes
        assert mem.build_context("c0", "What is my locker code?", 300).text == first  # rebuilt from the store
        assert "c0" in mem._indexes and len(mem._indexes) == 3
        mem.build_context("c4", "the weather", 300)  # c4 used again: c5 is now the least recent after c0
        mem.build_context("c1", "the weather", 300)
        assert "c4" in mem._indexes and "c5" not in mem._indexes
    settings = Settings.model_validate({"memory": {"index_cache_conversations": 5}})
    with memory(tmp_path, tokenizer_dir, settings=settings) as mem:
        assert mem._indexes.conversations == 5


def test_concurrent_refreshes_give_the_serial_index(tmp_path: Path, tokenizer_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ThreeLevelMemory, "_embed", fake_embed)
    with memory(tmp_path, tokenizer_dir, budget=400, vectors=True) as mem:
        for number in range(40):
            mem.add_message("c", "user", f"{filler(number)} My locker code is {number}-Q.", user_id="u")
        mem.flush()
        serial = VectorIndex("chunk")
        serial.refresh(mem.store, "c")
        assert serial.ids

        class SlowStore:  # a store that answers slowly, so that unlocked refreshes would interleave
            def revision(self, conversation_id: str) -> int:
                return mem.store.revision(conversation_id)

            def vectors(self, *args: Any) -> list[tuple[int, bytes]]:
                time.sleep(0.002)
                return mem.store.vectors(*args)

        for _ in range(3):
            shared = VectorIndex("chunk")
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(shared.refresh, [SlowStore()] * 16, ["c"] * 16))  # type: ignore[arg-type]
            assert shared.ids == serial.ids and shared.last_id == serial.last_id
            np.testing.assert_array_equal(shared.matrix, serial.matrix)
        with ThreadPoolExecutor(8) as pool:  # many threads asking for contexts of more conversations than held
            texts = list(pool.map(lambda n: mem.build_context(f"c{n % 4}" if n % 4 else "c", "locker code", 300).text,
                                  range(32)))
        assert len(set(texts[::4])) == 1 and texts[0] == mem.build_context("c", "locker code", 300).text


MANUAL = """Pump PX-200 manual

The PX-200 pump moves up to 40 litres of water a minute. Its motor draws 350 watts.

Maintenance. Clean the intake filter every three months. Replace the rubber seal once a year; a worn seal drips.

Warranty. The warranty covers the motor for five years and every other part for two years, from the date of purchase.

Гарантия на двигатель — пять лет, на остальные детали — два года."""


def test_documents_are_cut_into_passages_and_retrieved_from_their_own_conversations(
        tmp_path: Path, tokenizer_dir: Path) -> None:
    """A document is kept as passages of its own conversation's long-term tier; a question finds its passage by
    stems and vectors (English and Russian), across the chat's documents, and nothing when it shares no word with
    them; forgetting the document's conversation removes it."""
    from moe_system.memory.documents import passages

    with memory(tmp_path, tokenizer_dir, budget=5000, vectors=True) as mem:
        count = mem.add_document("doc-manual", MANUAL, user_id="u1")
        assert count == len(passages(MANUAL, 160, mem.count_tokens)) >= 1
        mem.add_document("doc-recipe", "Borscht needs beetroot, cabbage and dill. Simmer it for two hours.", "u1")
        docs = ["doc-manual", "doc-recipe"]
        [best, *_] = mem.search_passages(docs, "How long is the warranty on the motor?")
        assert best.conversation_id == "doc-manual" and "five years" in best.text
        assert mem.search_passages(docs, "Сколько лет гарантия на двигатель?")[0].conversation_id == "doc-manual"
        assert mem.search_passages(docs, "What goes into borscht?")[0].conversation_id == "doc-recipe"
        assert mem.search_passages(docs, "Who won the chess match yesterday?") == []
        assert mem.stats("doc-manual")["longterm_tokens"] > 0
        with pytest.raises(InvalidRequestError, match="no text"):
            mem.add_document("doc-empty", " \n\n ", user_id="u1")
        mem.forget_conversation("doc-manual")
        assert all(p.conversation_id == "doc-recipe" for p in mem.search_passages(docs, "warranty motor borscht"))


def test_passages_pack_paragraphs_and_cut_long_ones() -> None:
    from moe_system.memory.documents import passages

    def words(text: str) -> int:
        return len(text.split())

    text = "One two.\n\nThree four.\n\n" + " ".join(f"w{i}" for i in range(25)) + ". Short end."
    pieces = passages(text, 10, words)
    assert pieces[0] == "One two. Three four."
    assert all(words(piece) <= 10 for piece in pieces)
    assert " ".join(pieces).split() == text.split()
    assert passages("  \n\n  ", 10, words) == []
