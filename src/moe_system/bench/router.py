"""Routing accuracy and latency per strategy, against aurelio's semantic-router on the same encoder and data.

    moe bench router --json          # or: python benchmarks/router.py --json

On the installed experts (their profiles, as `Router` sees them) and the bundled routing data:

- **accuracy** of every strategy on the held-out split (`data/routing/test.jsonl`, rows whose expert is
  not installed are left out), English and Russian separately;
- **latency** p50/p99 of one `route(text)` call per strategy, over every held-out request, cold: the
  feature, language and stem caches are cleared before each pass, so repeated texts do not flatter the numbers;
- the same latencies with synthesized experts added up to `total_experts` (64 by default): pseudo-word
  keywords and templated example requests in English and Russian, as many examples per expert as a real
  package ships, so the vocabulary, the classes and the semantic index grow as they would;
- the **peer**: semantic-router's `IndexedRouter` (defaults: top 5 neighbours, mean per route) on the same
  all-MiniLM-L6-v2, fitted and calibrated on exactly what our strategies fit and calibrate on: its routes hold
  every example of `learned.training_set` (the experts' own requests and the bundled training split,
  `data/routing/train.jsonl`), with one route more, the **base route**, for the requests the base model answers
  (labelled null), so it can say "base model" by choice as well as by missing its threshold. Our semantic
  strategy calibrates leave-one-out on the bundled training requests; the peer, whose `fit` wants queries that
  are not stored utterances, gets the same requests cross-fitted: in each of `PEER_FOLDS` folds a router without
  that fold's requests scores them, semantic-router's own Platt `Calibrator` is fitted on all the out-of-fold
  top-1 scores, and the confidence threshold that routes those requests best is kept. The held-out split
  (`data/routing/test.jsonl`) only scores, both sides on the same requests, in the same process.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from moe_system.bench.common import cpu_model, percentile
from moe_system.routing.decision import RoutingDecision
from moe_system.routing.evaluation import RoutingExample, evaluate
from moe_system.routing.profiles import ExpertProfile

STRATEGY_ORDER = ("rules", "learned", "hierarchical", "semantic", "cascade")
SYNTHETIC_EXAMPLES = 200  # per synthesized expert: what a trained package ships in examples/prompts.jsonl
PEER_FOLDS = 5  # cross-fitting folds of the peer's calibration
_PEER_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(20))
_EN_TEMPLATES = (
    "set up the {a} for the {b}", "how do I configure {a} with {b} in production", "{a} keeps failing on {b}, fix it",
    "write a {a} plan for the {b} team", "check my {a} against the {b} rules", "convert this {a} into {b} format",
    "generate a {a} report for {b}", "optimise the {a} pipeline, {b} is slow", "review the {a} and the {b}",
)
_RU_TEMPLATES = (
    "настрой {a} для {b}", "как подключить {a} к {b} на сервере", "{a} падает на {b}, исправь",
    "составь план {a} для команды {b}", "проверь {a} по правилам {b}", "переведи {a} в формат {b}",
    "сделай отчет по {a} для {b}", "ускорь {a}, {b} тормозит", "посмотри {a} и {b}",
)
_EN_SYLLABLES = ("zor", "quen", "blat", "vex", "mir", "dal", "trof", "nix", "pel", "gra", "sul", "kov", "tam", "rid")
_RU_SYLLABLES = ("зор", "квен", "блат", "векс", "мир", "дал", "троф", "никс", "пел", "гра", "сул", "ков", "там", "рид")


def synthetic_profiles(count: int, seed: int = 0) -> list[ExpertProfile]:
    """`count` made-up experts named `synthetic-NN`, each with six pseudo-word keywords (four Latin, two
    Cyrillic) and `SYNTHETIC_EXAMPLES` templated requests using them, in one of eight categories."""
    rng = random.Random(seed)

    def word(syllables: Sequence[str]) -> str:
        return "".join(rng.choice(syllables) for _ in range(3))

    profiles = []
    for number in range(count):
        english, russian = [word(_EN_SYLLABLES) for _ in range(4)], [word(_RU_SYLLABLES) for _ in range(2)]
        examples = []
        for i in range(SYNTHETIC_EXAMPLES):
            keywords, templates = (russian, _RU_TEMPLATES) if i % 3 == 2 else (english, _EN_TEMPLATES)
            examples.append(rng.choice(templates).format(a=rng.choice(keywords), b=word(_EN_SYLLABLES)) + f" #{i}")
        profiles.append(ExpertProfile(name=f"synthetic-{number:02d}", keywords=(*english, *russian),
                                      examples=tuple(examples), category=f"synthetic-{number % 8}"))
    return profiles


def run(profiles: Sequence[ExpertProfile], examples: Sequence[RoutingExample], train: Sequence[RoutingExample],
        total_experts: int = 64, passes: int = 2, peer: bool = True,
        progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Measure (see the module doc). `examples` is the held-out split (scored only); both our strategies and the
    peer fit and calibrate on `train` (the bundled training split) and the experts' examples."""
    from moe_system.routing.router import Strategies

    names = {p.name for p in profiles}
    held_out = [e for e in examples if e.expert is None or e.expert in names]
    texts = [e.text for e in held_out]
    bundled = [(e.text, e.expert) for e in train]
    progress(f"fitting the strategies on {len(profiles)} experts")
    started = time.perf_counter()
    strategies = Strategies(profiles, None, bundled)
    strategies.semantic()
    result: dict[str, Any] = {"cpu": cpu_model(), "experts": sorted(names), "held_out": len(held_out),
                              "fitted_on": len(strategies.data.texts), "calibrated_on": sum(strategies.data.varied),
                              "fit_s": round(time.perf_counter() - started, 2), "strategies": {}}
    for name in STRATEGY_ORDER:
        progress(f"{name}: accuracy and latency")
        route = strategies.get(name).route
        report = evaluate(route, held_out)
        result["strategies"][name] = {"accuracy": report.accuracy, "by_language": report.by_language,
                                      **_latency(route, texts, passes)}
    synthetic = synthetic_profiles(max(0, total_experts - len(profiles)))
    if synthetic:
        progress(f"fitting the strategies on {len(profiles) + len(synthetic)} experts")
        started = time.perf_counter()
        many = Strategies([*profiles, *synthetic], None, bundled)
        many.semantic()
        scaled: dict[str, Any] = {"experts": len(profiles) + len(synthetic),
                                  "fit_s": round(time.perf_counter() - started, 2), "strategies": {}}
        for name in STRATEGY_ORDER:
            progress(f"{name} with {scaled['experts']} experts")
            route = many.get(name).route
            report = evaluate(route, held_out)
            scaled["strategies"][name] = {"accuracy": report.accuracy, **_latency(route, texts, passes)}
        result["scaled"] = scaled
    if peer:
        progress("semantic-router (aurelio) on the same encoder and data")
        result["peer"] = _peer(strategies, held_out, texts, passes)
    return result


def _latency(route: Callable[[str], RoutingDecision], texts: Sequence[str], passes: int) -> dict[str, float]:
    """p50 / p99 / mean milliseconds of one call, caches cleared before each pass, after one warm-up call."""
    from moe_system.routing.features import features
    from moe_system.text.languages import named_languages
    from moe_system.text.words import stem

    route("warm-up: load whatever loads on first use")
    times = []
    for _ in range(passes):
        for cache in (features, named_languages, stem):
            cache.cache_clear()
        for text in texts:
            started = time.perf_counter()
            route(text)
            times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(times, 0.5), 3), "p99_ms": round(percentile(times, 0.99), 3),
            "mean_ms": round(statistics.fmean(times), 3)}


def _peer(strategies: Any, held_out: Sequence[RoutingExample], texts: Sequence[str], passes: int) -> dict[str, Any]:
    """semantic-router's IndexedRouter on `strategies.data`, with a base route, cross-fitted (see the module doc)."""
    import numpy as np
    from pydantic import Field
    from semantic_router import Route
    from semantic_router.calibration import Calibrator
    from semantic_router.encoders import DenseEncoder
    from semantic_router.routers import IndexedRouter
    from semantic_router.schema import RouteChoice

    from moe_system.routing.learned import BASE
    from moe_system.text.embeddings import encode

    class MiniLM(DenseEncoder):
        """The same all-MiniLM-L6-v2 our semantic strategy uses. `known` holds the training texts' vectors while
        the fold routers are built (each text is embedded once); it is emptied before anything is timed."""

        known: dict[str, list[float]] = Field(default_factory=dict)

        def __call__(self, docs: list[Any]) -> list[list[float]]:
            texts = [str(d) for d in docs]
            new = [t for t in texts if t not in self.known]
            fresh = dict(zip(new, encode(new).tolist(), strict=True)) if new else {}
            return [self.known[t] if t in self.known else fresh[t] for t in texts]

    data = strategies.data

    def first(router: IndexedRouter, text: str, threshold: float | None = None) -> RouteChoice:
        choice = router(text, threshold=threshold)  # limit=1: one choice, its name None when no route passed
        assert isinstance(choice, RouteChoice)
        return choice

    def router_without(held: set[str]) -> IndexedRouter:
        return IndexedRouter(encoder=encoder, routes=[
            Route(name=label, utterances=[t for t, lab in zip(data.texts, data.labels, strict=True)
                                          if lab == label and t not in held])
            for label in sorted(set(data.labels))])  # BASE is a route too: the base route

    started = time.perf_counter()
    encoder = MiniLM(name="all-MiniLM-L6-v2")
    encoder.known = dict(zip(data.texts, encode(data.texts).tolist(), strict=True))
    requests = [(t, lab) for t, lab, varied in zip(data.texts, data.labels, data.varied, strict=True) if varied]
    top: list[str | None] = []
    raw: list[float] = []
    truth: list[str] = []
    for fold in range(PEER_FOLDS):
        part = requests[fold::PEER_FOLDS]
        scorer = router_without({t for t, _ in part})
        for text, label in part:
            choice = first(scorer, text, threshold=0.0)  # no calibrator yet: the raw top-1 score
            top.append(choice.name)
            raw.append(float(choice.confidence or 0.0))
            truth.append(label)
    router = router_without(set())
    correct = np.array([t == y for t, y in zip(top, truth, strict=True)])
    if 0 < correct.sum() < len(correct):  # Platt needs right and wrong answers; otherwise raw scores stay
        router.calibrator = Calibrator.fit(np.array(raw), correct)
    confidence = router.calibrator(np.array(raw)) if router.calibrator is not None else np.array(raw)

    def accuracy(bar: float) -> float:
        picked = [t if c >= bar else BASE for t, c in zip(top, confidence, strict=True)]
        return sum(p == y for p, y in zip(picked, truth, strict=True)) / len(truth)

    best = max(_PEER_THRESHOLDS, key=lambda bar: (accuracy(bar), -bar))
    router.confidence_threshold = best
    encoder.known.clear()  # from here on every query is embedded, as our semantic strategy does
    fit_s = time.perf_counter() - started

    def route(text: str) -> RoutingDecision:
        choice = first(router, text)
        expert = None if choice.name in (None, BASE) else choice.name
        return RoutingDecision(expert, float(choice.confidence or 0.0), strategy="semantic-router")

    report = evaluate(route, held_out)
    return {"name": "semantic-router (aurelio) IndexedRouter", "routes": len(set(data.labels)), "base_route": True,
            "utterances": len(data.texts), "calibrated_on": len(requests), "folds": PEER_FOLDS, "threshold": best,
            "fit_s": round(fit_s, 2), "accuracy": report.accuracy, "by_language": report.by_language,
            **_latency(route, texts, passes)}
