"""The rule strategy: manifest keywords matched as whole stemmed words and phrases.

Each expert's `routing.keywords` and `exclude_keywords` are stemmed once into word sequences ("group by" ->
("group", "by"), "запросы" -> ("запрос",)); a request matches a keyword when its stemmed words contain the
sequence contiguously, so "queries" matches "query", "выборку" matches "выборка", and "tablet" does not match
"table". An expert scores the number of words of the distinct keywords it matched (a two-word phrase is
stronger evidence than one word); a matched exclude keyword rules it out. Phrases that mark a question *about*
a topic ("what is", "explain", "что такое") lower the confidence, since those go to the base model by the
routing convention. A request that names programming languages, none of which an installed expert covers
("a JavaScript function", "скрипт на bash"; see `text/languages.py`), goes to the base model outright. Matching
walks the request once, looking keywords up by their first stem, so it costs microseconds whatever the number
of experts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from moe_system.routing.decision import Candidate, RoutingDecision
from moe_system.routing.profiles import ExpertProfile
from moe_system.text.languages import covered_languages, uncovered
from moe_system.text.words import stems

# Openings of questions about a topic, explanations and small talk (the base model's side of the convention).
ABOUT_PHRASES = (
    "what is", "what are", "what does", "explain", "why", "who", "history of", "difference between",
    "tell me about", "how does", "meaning of", "definition of", "hello", "thanks",
    "что такое", "что значит", "объясни", "объясните", "почему", "зачем", "кто", "расскажи", "расскажите",
    "в чем разница", "чем отличается", "история", "привет", "спасибо",
)  # fmt: skip
CONFIDENT_WORDS = 3  # matched keyword words at which rules are sure enough to answer alone (confidence 0.9)
_ABOUT_PENALTY = 0.6
LANGUAGE_CONFIDENCE = 0.95  # naming only languages no expert covers: the base model, as the convention says


@dataclass(frozen=True)
class _Phrase:
    expert: str
    words: tuple[str, ...]
    text: str
    exclude: bool


class RuleRouter:
    """Keyword rules over expert profiles; `route(text)` returns a `RoutingDecision` (strategy "rules")."""

    name = "rules"

    def __init__(self, profiles: Sequence[ExpertProfile]) -> None:
        self.priority = {p.name: p.priority for p in profiles}
        self._index: dict[str, list[_Phrase]] = defaultdict(list)
        for profile in profiles:
            for keywords, exclude in ((profile.keywords, False), (profile.exclude_keywords, True)):
                for keyword in keywords:
                    words = tuple(stems(keyword))
                    if words:
                        self._index[words[0]].append(_Phrase(profile.name, words, keyword, exclude))
        self.covered = covered_languages(k for p in profiles for k in p.keywords)
        self._about = {tuple(stems(phrase)) for phrase in ABOUT_PHRASES}
        self._about_first = {words[0] for words in self._about}

    def route(self, text: str) -> RoutingDecision:
        if foreign := uncovered(text, self.covered):
            reason = f"asks for {', '.join(sorted(foreign))}, which no installed expert covers"
            return RoutingDecision(None, LANGUAGE_CONFIDENCE, [], self.name, reason)
        words = stems(text)
        matched: dict[str, dict[str, int]] = defaultdict(dict)
        excluded: set[str] = set()
        about = False
        for i, word in enumerate(words):
            for phrase in self._index.get(word, ()):
                if tuple(words[i: i + len(phrase.words)]) == phrase.words:
                    if phrase.exclude:
                        excluded.add(phrase.expert)
                    else:
                        matched[phrase.expert][phrase.text] = len(phrase.words)
            if not about and word in self._about_first:
                about = any(tuple(words[i: i + len(a)]) == a for a in self._about if a[0] == word)
        scores = {name: sum(found.values()) for name, found in matched.items() if name not in excluded}
        ranked = sorted(scores, key=lambda name: (-scores[name], -self.priority.get(name, 0.5), name))
        candidates = [Candidate(name, float(scores[name])) for name in ranked]
        if not ranked:
            reason = "no expert keyword matched" + (f"; excluded: {', '.join(sorted(excluded))}" if excluded else "")
            return RoutingDecision(None, 0.6 if about else 0.4, candidates, self.name, reason)
        top = ranked[0]
        runner_up = scores[ranked[1]] if len(ranked) > 1 else 0
        margin = (scores[top] - runner_up) / scores[top]
        confidence = min(0.95, 0.45 + 0.15 * scores[top]) * (0.5 + 0.5 * margin)
        if about:
            confidence *= _ABOUT_PENALTY
        reason = f"keywords of {top}: {', '.join(sorted(matched[top]))}" + ("; phrased as a question about it"
                                                                            if about else "")
        return RoutingDecision(top, round(confidence, 4), candidates, self.name, reason)
