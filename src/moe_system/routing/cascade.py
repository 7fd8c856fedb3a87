"""The default strategy: cheap rules first, the learned classifier when the rules are unsure, embeddings
when the classifier is unsure too, and the base model when nothing is confident.

Rules answer alone only with strong keyword evidence (`RULES_ACCEPT`, e.g. three keyword words of one expert
and no question-about phrasing); the classifier alone when its top probability reaches `LEARNED_ACCEPT`.
Otherwise the classifier's probabilities are averaged with the semantic scores turned into probabilities
(softmax at temperature `SEMANTIC_TEMPERATURE`), and an expert answers only when that average reaches
`COMBINED_ACCEPT`; below it the base model does. The thresholds were chosen on the bundled training split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from moe_system.routing.decision import Candidate, RoutingDecision
from moe_system.routing.learned import BASE, LinearRouter
from moe_system.routing.rules import RuleRouter
from moe_system.routing.semantic import SemanticRouter

RULES_ACCEPT = 0.9
LEARNED_ACCEPT = 0.8
COMBINED_ACCEPT = 0.5
SEMANTIC_TEMPERATURE = 0.05


class CascadeRouter:
    """rules -> learned -> learned + semantic -> base; `route(text)` returns a `RoutingDecision`."""

    name = "cascade"

    def __init__(self, rules: RuleRouter, learned: LinearRouter, semantic: Callable[[], SemanticRouter | None]) -> None:
        self.rules, self.learned = rules, learned
        self._semantic = semantic  # built on first need: fitting it embeds every example once

    def route(self, text: str) -> RoutingDecision:
        ruled = self.rules.route(text)
        if ruled.expert is not None and ruled.confidence >= RULES_ACCEPT:
            return replace(ruled, strategy=self.name, reason=f"rules: {ruled.reason}")
        learned = self.learned.route(text)
        if learned.confidence >= LEARNED_ACCEPT:
            return replace(learned, strategy=self.name, reason=learned.reason)
        semantic = self._semantic()
        if semantic is None:
            return self._base_unless_confident(self.learned.probabilities(text), "classifier unsure")
        from moe_system.routing.embeddings import encode

        similar = semantic.scores(encode([text])[0])
        exp = {label: float(np.exp((score - max(similar.values())) / SEMANTIC_TEMPERATURE))
               for label, score in similar.items()}  # fmt: skip
        total = sum(exp.values())
        probs = self.learned.probabilities(text)
        combined = {label: (probs.get(label, 0.0) + exp.get(label, 0.0) / total) / 2 for label in {*probs, *exp}}
        return self._base_unless_confident(combined, "classifier + embeddings")

    def _base_unless_confident(self, probs: dict[str, float], how: str) -> RoutingDecision:
        ranked = sorted(probs, key=lambda label: -probs[label])
        candidates = [Candidate(None if label == BASE else label, round(probs[label], 4)) for label in ranked]
        top = ranked[0]
        if top != BASE and probs[top] >= COMBINED_ACCEPT:
            return RoutingDecision(top, round(probs[top], 4), candidates, self.name, f"{how}: {top} {probs[top]:.2f}")
        reason = f"{how}: no expert is confident (best {top if top != BASE else 'base model'} {probs[top]:.2f})"
        return RoutingDecision(None, round(probs.get(BASE, 1 - probs[top]), 4), candidates, self.name, reason)
