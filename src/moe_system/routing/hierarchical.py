"""The hierarchical strategy: first the category (the manifests' `routing.category`, e.g. code or math) or the
base model, then the expert inside the category (code -> python or sql). Each level is a `LinearRouter`
fitted on the same examples; a category with one expert needs no second level. With many experts the first
level stays small and each second level only separates close neighbours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from moe_system.routing.decision import Candidate, RoutingDecision
from moe_system.routing.learned import BASE, LinearRouter, TrainingSet
from moe_system.routing.profiles import ExpertProfile


def categories(profiles: Sequence[ExpertProfile]) -> dict[str, str]:
    """expert -> category (its own name when the manifest names none)."""
    return {p.name: p.category or p.name for p in profiles}


class HierarchicalRouter:
    """category -> expert; `route(text)` returns a `RoutingDecision` (strategy "hierarchical")."""

    name = "hierarchical"

    def __init__(self, top: LinearRouter, inner: Mapping[str, LinearRouter], members: Mapping[str, list[str]]) -> None:
        self.top, self.inner, self.members = top, dict(inner), {k: list(v) for k, v in members.items()}

    @classmethod
    def fit(cls, data: TrainingSet, category_of: Mapping[str, str]) -> HierarchicalRouter:
        cats = [BASE if label == BASE else category_of.get(label, label) for label in data.labels]
        members: dict[str, list[str]] = {}
        for name, category in sorted(category_of.items()):
            members.setdefault(category, []).append(name)
        inner = {}
        for category, names in members.items():
            if len(names) > 1:
                rows = [i for i, label in enumerate(data.labels) if label in names]
                inner[category] = LinearRouter.fit([data.texts[i] for i in rows], [data.labels[i] for i in rows],
                                                   [data.weights[i] for i in rows])
        return cls(LinearRouter.fit(data.texts, cats, data.weights), inner, members)

    def route(self, text: str) -> RoutingDecision:
        cats = self.top.probabilities(text)
        category = max(cats, key=lambda label: cats[label])
        candidates: list[Candidate] = []
        for cat, p_cat in sorted(cats.items(), key=lambda kv: -kv[1]):
            if cat == BASE:
                candidates.append(Candidate(None, round(p_cat, 4)))
                continue
            inner = self.inner.get(cat)
            shares = inner.probabilities(text) if inner else {self.members[cat][0]: 1.0}
            candidates.extend(Candidate(name, round(p_cat * p, 4)) for name, p in shares.items())
        candidates.sort(key=lambda c: -c.score)
        if category == BASE:
            return RoutingDecision(None, round(cats[BASE], 4), candidates, self.name,
                                   f"category: base model {cats[BASE]:.2f}")
        best = next(c for c in candidates if c.expert is not None and c.expert in self.members[category])
        return RoutingDecision(best.expert, best.score, candidates, self.name,
                               f"category {category} {cats[category]:.2f} -> {best.expert}")

    def save(self, folder: Path) -> None:
        self.top.save(folder / "top")
        index = {category: f"inner-{i}" for i, category in enumerate(sorted(self.inner))}
        for category, sub in index.items():
            self.inner[category].save(folder / sub)
        (folder / "members.json").write_text(json.dumps({"members": self.members, "inner": index}, ensure_ascii=False),
                                             encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> HierarchicalRouter:
        meta = json.loads((folder / "members.json").read_text(encoding="utf-8"))
        inner = {c: LinearRouter.load(folder / sub) for c, sub in meta["inner"].items()}
        return cls(LinearRouter.load(folder / "top"), inner, meta["members"])
