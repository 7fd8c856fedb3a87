"""The context `build_context` returns: labelled sections assembled within a token budget.

Sections, in the order the model reads them: the facts in force (newest statement of each subject), relevant
older material (retrieved chunks, summaries and messages, in conversation order), and the recent messages
verbatim. Shares of the budget: recent messages first (up to `RECENT_SHARE`), facts (up to `FACTS_SHARE`), older
material the rest; whatever a part leaves unused goes to the others. Every line carries its turn number
(`[#412 user]`), so the order of statements is visible. The final text is counted with the base tokenizer and
never exceeds `max_tokens`: the lowest-ranked lines are dropped until it fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from moe_system.memory.tokens import TokenCounter

RECENT_SHARE = 0.25
FACTS_SHARE = 0.3
LINE_OVERHEAD = 8  # tokens of a line's label and newline, over the stored count of its text
TITLES_TOKENS = 48  # the three titles and the blank lines between sections (about 36 tokens in SmolLM2's)

TITLES = {
    "facts": "Known facts about the user (the newest statement of each):",
    "older": "Relevant earlier conversation:",
    "recent": "Recent messages:",
}


@dataclass(frozen=True, eq=False)  # identity: lines are picked from pools by membership
class Line:
    """One line of a section; `rank` orders the lines by relevance (0 = best), `seq` by time; `tokens` may be an
    estimate (the assembled text is counted exactly)."""

    text: str
    tokens: int
    seq: int
    rank: int


@dataclass(frozen=True)
class Section:
    name: str  # "facts" | "older" | "recent"
    title: str
    lines: list[str]
    tokens: int  # estimated from the lines' stored counts; `Context.token_count` is exact


@dataclass(frozen=True)
class Context:
    text: str
    token_count: int
    sections: list[Section] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "token_count": self.token_count,
                "sections": [{"name": s.name, "title": s.title, "lines": s.lines, "tokens": s.tokens}
                             for s in self.sections]}


def _take(lines: Sequence[Line], budget: float, order: Callable[[Line], Any]) -> list[Line]:
    taken, used = [], 0
    for line in sorted(lines, key=order):
        cost = line.tokens + LINE_OVERHEAD
        if used + cost <= budget:
            taken.append(line)
            used += cost
    return taken


def _cost(lines: Sequence[Line]) -> int:
    return sum(line.tokens + LINE_OVERHEAD for line in lines)


def assemble(facts: Sequence[Line], older: Sequence[Line], recent: Sequence[Line], max_tokens: int,
             count_tokens: TokenCounter) -> Context:
    """Fill the sections within `max_tokens` (see the module docstring)."""
    room = max_tokens - TITLES_TOKENS
    newest_first = lambda line: -line.seq  # noqa: E731
    best_first = lambda line: line.rank  # noqa: E731
    chosen = {"recent": _take(recent, room * RECENT_SHARE, newest_first)}
    shown = {line.seq for line in chosen["recent"]}
    older = [line for line in older if line.seq not in shown]  # a retrieved message already shown as recent
    chosen["facts"] = _take(facts, room * FACTS_SHARE, best_first)
    chosen["older"] = _take(older, room - _cost(chosen["recent"]) - _cost(chosen["facts"]), best_first)
    for name, pool, order in (("facts", facts, best_first), ("recent", recent, newest_first)):
        spare = room - sum(_cost(lines) for lines in chosen.values())
        extra = [line for line in pool if line not in chosen[name]]
        chosen[name] += _take(extra, spare, order)
    shown = {line.seq for line in chosen["recent"]}
    chosen["older"] = [line for line in chosen["older"] if line.seq not in shown]  # recent after the spare pass
    while True:
        context = _render(chosen, count_tokens)
        if context.token_count <= max_tokens or not any(chosen.values()):
            return context
        for name in ("older", "facts", "recent"):  # drop the least relevant (recent: the oldest) line
            if chosen[name]:
                chosen[name].remove(max(chosen[name], key=best_first if name != "recent" else newest_first))
                break


def _render(chosen: dict[str, list[Line]], count_tokens: TokenCounter) -> Context:
    names = [name for name in ("facts", "older", "recent") if chosen[name]]
    lines = {name: [line.text for line in sorted(chosen[name], key=lambda line: line.seq)] for name in names}
    text = "\n\n".join(TITLES[name] + "\n" + "\n".join(lines[name]) for name in names)
    sections = [Section(name, TITLES[name], lines[name], _cost(chosen[name])) for name in names]
    return Context(text, count_tokens.lines(text) if text else 0, sections)
