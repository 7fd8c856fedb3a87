"""Extractive compression: what is kept when material moves down a tier.

current -> obsolete: consecutive messages are grouped into windows of about `WINDOW_TOKENS`; each window keeps
its best sentences (up to `OBSOLETE_RATIO` of its tokens), in their order, labelled with turn and role.
obsolete -> long-term: a group of chunks keeps its best sentences again (up to `LONGTERM_RATIO`): a short summary.

A sentence scores for what a later question is likely to need: numbers, codes and dates, names (capitalized
words inside a sentence), statements in the first person, the user's own words, and words not seen in the
window so far. Near-duplicates are dropped: within a window, sentences whose stems overlap (Jaccard >=
`DUPLICATE`); across windows, sentences with the same set of stems as one of the last `REMEMBERED` kept (a hash
lookup, so repeated boilerplate costs nothing twice and the check stays O(1) a sentence). No model runs here: on a
CPU an LLM could not summarize hundreds of thousands of tokens in time, and these scores cost microseconds a
sentence.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from moe_system.memory.facts import FIRST_PERSON, sentences
from moe_system.memory.store import ChunkRow, MessageRow
from moe_system.text.words import stems as text_stems

WINDOW_TOKENS = 360  # source tokens per obsolete chunk (the kept part stays under MiniLM's 256-token window)
OBSOLETE_RATIO = 0.5
LONGTERM_RATIO = 0.35
DUPLICATE = 0.8
REMEMBERED = 2000  # kept sentences remembered for duplicate checks

_NUMBER = re.compile(r"\d")
_NAME = re.compile(r"(?<=\s)[A-ZА-ЯЁ][\w-]+")
_LABEL = re.compile(r"^\[#\d+(?:[–-]\d+)? \w+\] ")


@dataclass(frozen=True)
class Piece:
    """A compressed text and the turns it covers."""

    text: str
    first_seq: int
    last_seq: int


@dataclass
class _Sentence:
    text: str
    seq: int
    role: str
    stems: frozenset[str]
    tokens: int
    score: float = 0.0


class Compressor:
    """Extractive compression with a memory of recently kept sentences (for near-duplicate removal)."""

    def __init__(self) -> None:
        self._order: deque[frozenset[str]] = deque()
        self._kept: Counter[frozenset[str]] = Counter()

    def messages(self, rows: Sequence[MessageRow]) -> list[Piece]:
        """current -> obsolete: windows of consecutive messages, each reduced to its best sentences."""
        pieces, window, size = [], [], 0
        for row in rows:
            window.append(row)
            size += row.tokens
            if size >= WINDOW_TOKENS:
                pieces.append(self._window(window, OBSOLETE_RATIO))
                window, size = [], 0
        if window:
            pieces.append(self._window(window, OBSOLETE_RATIO))
        return pieces

    def chunks(self, rows: Sequence[ChunkRow]) -> Piece:
        """obsolete -> long-term: a group of chunks reduced to one short summary."""
        units = []
        for row in rows:
            for line in row.text.split("\n"):
                label = _LABEL.match(line)
                seq = int(re.findall(r"\d+", label.group(0))[0]) if label else row.first_seq
                role = label.group(0).split()[-1].rstrip("]") if label else "user"
                units.extend(self._split(line[label.end():] if label else line, seq, role))
        piece = self._select(units, LONGTERM_RATIO)
        return Piece(piece, rows[0].first_seq, rows[-1].last_seq)

    def _window(self, rows: Sequence[MessageRow], ratio: float) -> Piece:
        units = [unit for row in rows for unit in self._split(row.text, row.seq, row.role)]
        return Piece(self._select(units, ratio), rows[0].seq, rows[-1].seq)

    def _split(self, text: str, seq: int, role: str) -> list[_Sentence]:
        return [_Sentence(s, seq, role, frozenset(text_stems(s)), 0) for s in sentences(text)]

    def _select(self, units: list[_Sentence], ratio: float) -> str:
        """Keep the best-scoring sentences up to `ratio` of the tokens; print them in order, grouped by turn."""
        if not units:
            return ""
        for unit in units:
            unit.tokens = max(1, len(unit.text) // 4)  # a cheap estimate for ranking; the piece is counted exactly
        budget = max(ratio * sum(u.tokens for u in units), min(u.tokens for u in units))
        seen: set[str] = set()
        for unit in units:
            unit.score = _score(unit, seen)
            seen |= unit.stems
        chosen: list[_Sentence] = []
        used = 0
        for unit in sorted(units, key=lambda u: -u.score):
            if used + unit.tokens > budget and chosen:
                continue
            if unit.stems in self._kept or any(_jaccard(unit.stems, other.stems) >= DUPLICATE for other in chosen):
                continue
            chosen.append(unit)
            used += unit.tokens
        if not chosen:  # all repeats: keep the best one, so every turn stays covered by some chunk
            chosen.append(max(units, key=lambda u: u.score))
        chosen.sort(key=lambda u: (u.seq, units.index(u)))
        self._remember([unit.stems for unit in chosen])
        lines: list[str] = []
        for unit in chosen:
            label = f"[#{unit.seq} {unit.role}] "
            if lines and lines[-1].startswith(label):
                lines[-1] += " " + unit.text
            else:
                lines.append(label + unit.text)
        return "\n".join(lines)


    def _remember(self, kept: list[frozenset[str]]) -> None:
        for stems in kept:
            self._order.append(stems)
            self._kept[stems] += 1
        while len(self._order) > REMEMBERED:
            old = self._order.popleft()
            self._kept[old] -= 1
            if not self._kept[old]:
                del self._kept[old]


def _score(unit: _Sentence, seen: set[str]) -> float:
    novelty = len(unit.stems - seen) / max(1, len(unit.stems))
    return (1.0 * bool(_NUMBER.search(unit.text)) + 0.8 * bool(_NAME.search(unit.text))
            + 1.0 * bool(FIRST_PERSON.search(unit.text)) * (unit.role == "user")
            + 0.4 * (unit.role == "user") + 0.8 * novelty + 0.2 * min(len(unit.stems), 20) / 20)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
