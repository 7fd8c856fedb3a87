"""Incremental detokenisation never emits half a character; stop strings are cut exactly, even when
they arrive split over several deltas."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from moe_system.engine.text import IncrementalDetokenizer, StopStringMatcher

MIXED = "Hello, мир! Съешь же ещё этих мягких булок 🍞🥐 — and a flag 🇺🇦, family 👨‍👩‍👧 done. ёЁ 😀!"


def byte_decode(ids: Sequence[int]) -> str:
    return bytes(ids).decode("utf-8", errors="replace")


def stream(detok: IncrementalDetokenizer, ids: Sequence[int]) -> list[str]:
    return [detok.push(i) for i in ids]


# ---- IncrementalDetokenizer


def test_byte_tokens_round_trip_without_replacement_chars() -> None:
    """One byte per token over Latin, Cyrillic, emoji and ZWJ sequences: the deltas plus flush rebuild the
    text exactly and no delta ever carries U+FFFD (incomplete characters are held back)."""
    detok = IncrementalDetokenizer(byte_decode)
    deltas = stream(detok, list(MIXED.encode("utf-8")))
    tail = detok.flush()
    assert "".join(deltas) + tail == MIXED
    assert tail == ""
    assert all("\ufffd" not in d for d in deltas)


def test_character_is_emitted_as_soon_as_it_is_complete() -> None:
    """'a' (1 byte), 'П' (2 bytes), '😀' (4 bytes): a delta appears exactly on a character's last byte."""
    detok = IncrementalDetokenizer(byte_decode)
    assert stream(detok, list("aП😀".encode())) == ["a", "", "П", "", "", "", "😀"]


@pytest.mark.parametrize("seed", range(5))
def test_multibyte_tokens_split_anywhere(seed: int) -> None:
    """BPE-like tokens of 1-5 bytes cut the text at arbitrary byte offsets (often inside a character);
    the stream still rebuilds the text without U+FFFD."""
    rng = random.Random(seed)
    data = MIXED.encode("utf-8")
    vocab: list[bytes] = []
    at = 0
    while at < len(data):
        size = rng.randint(1, 5)
        vocab.append(data[at : at + size])
        at += size

    def decode(ids: Sequence[int]) -> str:
        return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")

    detok = IncrementalDetokenizer(decode)
    deltas = stream(detok, range(len(vocab)))
    assert "".join(deltas) + detok.flush() == MIXED
    assert all("\ufffd" not in d for d in deltas)


def test_decoder_that_strips_leading_space_keeps_word_boundaries() -> None:
    """With a SentencePiece-style decoder ('▁' = space, a leading space dropped), the left context the
    detokenizer keeps makes later words come out with their space."""
    pieces = ["▁Hello", "▁мир", "!", "▁how", "▁are", "▁you", "?"]

    def decode(ids: Sequence[int]) -> str:
        return "".join(pieces[i] for i in ids).replace("▁", " ").lstrip(" ")

    detok = IncrementalDetokenizer(decode)
    deltas = stream(detok, range(len(pieces)))
    assert deltas == ["Hello", " мир", "!", " how", " are", " you", "?"]
    assert "".join(deltas) + detok.flush() == decode(range(len(pieces)))


def test_decode_window_stays_short() -> None:
    """Each push decodes only a short window of recent ids, not the whole history (which would make a
    long generation quadratic), and the output is still exact."""
    longest = 0

    def decode(ids: Sequence[int]) -> str:
        nonlocal longest
        longest = max(longest, len(ids))
        return byte_decode(ids)

    text = MIXED * 20
    detok = IncrementalDetokenizer(decode)
    assert "".join(stream(detok, list(text.encode()))) + detok.flush() == text
    assert longest <= 8  # a 4-byte character plus the previous one, at most


def test_flush_releases_an_incomplete_character() -> None:
    """A generation that stops in the middle of a character gets the held bytes back from `flush` (as
    U+FFFD, the honest rendering), and a second flush is empty."""
    detok = IncrementalDetokenizer(byte_decode)
    ids = list(b"ok") + list("😀".encode())[:2]
    assert stream(detok, ids) == ["o", "k", "", ""]
    assert detok.flush() == "\ufffd"
    assert detok.flush() == ""


# ---- StopStringMatcher


def feed_all(matcher: StopStringMatcher, deltas: Sequence[str]) -> list[str]:
    return [matcher.feed(d) for d in deltas]


def test_stop_string_split_over_deltas() -> None:
    """'END' arriving as 'abcE' + 'N' + 'Dxyz': 'abc' is emitted, the partial 'E'/'EN' is held back, the
    match cuts everything from the stop string on."""
    matcher = StopStringMatcher(["END"])
    assert feed_all(matcher, ["abcE", "N", "Dxyz"]) == ["abc", "", ""]
    assert matcher.matched
    assert matcher.flush() == ""


def test_held_prefix_is_released_when_it_does_not_complete() -> None:
    """A tail that looked like the start of a stop string is emitted once it can no longer become one."""
    matcher = StopStringMatcher(["END"])
    assert feed_all(matcher, ["abcE", "Nx", "yz"]) == ["abc", "ENx", "yz"]
    assert not matcher.matched


def test_flush_returns_held_text_without_match() -> None:
    """At the end of generation a held partial stop string is ordinary text."""
    matcher = StopStringMatcher(["END"])
    assert matcher.feed("the EN") == "the "
    assert matcher.flush() == "EN"
    assert not matcher.matched
    assert matcher.flush() == ""


def test_stop_string_inside_one_delta_and_at_start() -> None:
    """A stop string inside a single delta cuts mid-delta; one at the very start yields nothing."""
    matcher = StopStringMatcher(["###"])
    assert matcher.feed("answer: 42### trailing") == "answer: 42"
    assert matcher.matched
    matcher = StopStringMatcher(["###"])
    assert matcher.feed("###") == ""
    assert matcher.matched


def test_earliest_of_several_stop_strings_wins() -> None:
    """With several stop strings the text is cut at the first occurrence of any of them."""
    matcher = StopStringMatcher(["STOP", "\n\n"])
    assert feed_all(matcher, ["line one\n", "\nline two STOP"]) == ["line one", ""]
    assert matcher.matched


def test_self_overlapping_stop_string() -> None:
    """'aab' fed one character at a time over 'aaab': only the first 'a' is text."""
    matcher = StopStringMatcher(["aab"])
    assert "".join(feed_all(matcher, list("aaab"))) == "a"
    assert matcher.matched


def test_no_stop_strings_is_pass_through() -> None:
    """Without stop strings every delta is emitted unchanged, even one that looks like a prefix."""
    matcher = StopStringMatcher([])
    assert feed_all(matcher, ["EN", "D"]) == ["EN", "D"]
    assert not matcher.matched


@pytest.mark.parametrize("seed", range(20))
def test_random_splits_agree_with_str_find(seed: int) -> None:
    """For any split of a text into deltas, emitted text + flush equals the text cut at the earliest
    stop string (or the whole text), and nothing is emitted past a stop."""
    rng = random.Random(seed)
    alphabet = "abEND мё😀\n"
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
    stops = rng.sample(["END", "ab", "ё😀", "\n\n", "EE", "aaa"], k=rng.randint(1, 3))
    cuts = sorted(rng.sample(range(len(text) + 1), k=min(len(text) + 1, rng.randint(1, 10))))
    deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    matcher = StopStringMatcher(stops)
    out = ""
    for delta in deltas:
        out += matcher.feed(delta)
        if matcher.matched:
            break
    if not matcher.matched:
        out += matcher.flush()

    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    expected: str = text[: min(found)] if found else text
    assert matcher.matched == bool(found)
    assert out == expected

