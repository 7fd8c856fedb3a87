"""Documents kept in the memory: a text cut into passages (`passages`) that a conversation's long-term tier holds as
refined chunks (`ThreeLevelMemory.add_document`), found again by the same hybrid retrieval as the rest of the
memory (`ThreeLevelMemory.search_passages`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from moe_system.memory.facts import sentences

PASSAGE_TOKENS = 160  # a passage: a few sentences, small enough that three fit a request beside the conversation
_PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Passage:
    """A retrieved passage: the conversation (document) it belongs to, its text and its fused rank score."""

    conversation_id: str
    text: str
    score: float


def passages(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """`text` cut into passages of at most about `max_tokens` tokens: whole paragraphs packed together while they
    fit, a longer paragraph by its sentences, a longer sentence by its words. Empty for a text of white space."""
    pieces: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if count_tokens(paragraph) <= max_tokens:
            pieces.append(paragraph)
            continue
        for sentence in sentences(paragraph):
            pieces.extend([sentence] if count_tokens(sentence) <= max_tokens else _by_words(sentence, max_tokens,
                                                                                               count_tokens))
    return _packed(pieces, max_tokens, count_tokens)


def _by_words(sentence: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    return _packed(sentence.split(), max_tokens, count_tokens)


def _packed(pieces: list[str], max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Consecutive `pieces` joined by spaces while the result fits `max_tokens` (a piece that alone does not fit
    stays alone)."""
    packed: list[str] = []
    for piece in pieces:
        joined = f"{packed[-1]} {piece}" if packed else piece
        if packed and count_tokens(joined) <= max_tokens:
            packed[-1] = joined
        else:
            packed.append(piece)
    return packed
