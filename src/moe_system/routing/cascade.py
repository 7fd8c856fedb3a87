"""The default strategy: cheap rules first, the learned classifier when the rules are unsure, the classifier and
the hierarchy together when the classifier is unsure too, and the base model when nothing is confident.

1. Rules answer alone when they are sure (`RULES_ACCEPT`): strong keyword evidence for one expert, or a
   request naming only programming languages no installed expert covers (the base model, by convention).
2. The flat classifier answers alone when its top probability reaches `LEARNED_ACCEPT`.
3. Otherwise the flat classifier's and the hierarchical classifier's probabilities are averaged; the best
   expert answers when its average reaches `COMBINED_ACCEPT` and beats the base model's, else the base model.

The semantic strategy is not a step: on this CPU one embedding costs about 30 ms (the whole cascade budget
is 10 ms) and, measured on the bundled data, it routes less accurately than the classifier (`moe bench
router`). The thresholds were chosen by cross-validation on the bundled training split.
"""

from __future__ import annotations

from dataclasses import replace

from moe_system.routing.decision import Candidate, RoutingDecision
from moe_system.routing.hierarchical import HierarchicalRouter
from moe_system.routing.learned import BASE, LinearRouter
from moe_system.routing.rules import RuleRouter

RULES_ACCEPT = 0.9
LEARNED_ACCEPT = 0.8
COMBINED_ACCEPT = 0.3


class CascadeRouter:
    """rules -> learned -> learned + hierarchical -> base; `route(text)` returns a `RoutingDecision`."""

    name = "cascade"

    def __init__(self, rules: RuleRouter, learned: LinearRouter, hierarchical: HierarchicalRouter) -> None:
        self.rules, self.learned, self.hierarchical = rules, learned, hierarchical

    def route(self, text: str) -> RoutingDecision:
        ruled = self.rules.route(text)
        if ruled.confidence >= RULES_ACCEPT:
            return replace(ruled, strategy=self.name, reason=f"rules: {ruled.reason}")
        learned = self.learned.route(text)
        if learned.confidence >= LEARNED_ACCEPT:
            return replace(learned, strategy=self.name)
        flat = {c.expert or BASE: c.score for c in learned.candidates}
        tree = {c.expert or BASE: c.score for c in self.hierarchical.route(text).candidates}
        combined = {label: (flat.get(label, 0.0) + tree.get(label, 0.0)) / 2 for label in {*flat, *tree}}
        ranked = sorted(combined, key=lambda label: -combined[label])
        candidates = [Candidate(None if label == BASE else label, round(combined[label], 4)) for label in ranked]
        best = next((label for label in ranked if label != BASE), None)
        base = combined.get(BASE, 0.0)
        if best is not None and combined[best] >= COMBINED_ACCEPT and combined[best] > base:
            return RoutingDecision(best, round(combined[best], 4), candidates, self.name,
                                   f"classifier + hierarchy: {best} {combined[best]:.2f}, base model {base:.2f}")
        top = f"{best} {combined[best]:.2f}" if best is not None else "none"
        return RoutingDecision(None, round(base, 4), candidates, self.name,
                               f"classifier + hierarchy: no expert is confident (best {top}, base model {base:.2f})")
