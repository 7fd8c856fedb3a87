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
- the **peer**: semantic-router's `IndexedRouter` with one route per expert whose utterances are exactly
  the examples our strategies fit on (base-model requests have no route, as semantic-router intends),
  encoded by the same all-MiniLM-L6-v2. As semantic-router asks, it is calibrated (its own `fit`) on
  queries that are not utterances: every other request of the bundled training split is held back from
  the routes for that, and the confidence threshold that scores best on them is kept. Same process.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from moe_system.routing.decision import RoutingDecision
from moe_system.routing.evaluation import RoutingExample, evaluate
from moe_system.routing.profiles import ExpertProfile

STRATEGY_ORDER = ("rules", "learned", "hierarchical", "semantic", "cascade")
SYNTHETIC_EXAMPLES = 200  # per synthesized expert: what a trained package ships in examples/prompts.jsonl
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
    """Measure (see the module doc). `examples` is the held-out split; both our strategies and the peer fit on
    `train` (the bundled training split)."""
    from moe_system.routing.router import Strategies

    names = {p.name for p in profiles}
    held_out = [e for e in examples if e.expert is None or e.expert in names]
    texts = [e.text for e in held_out]
    bundled = [(e.text, e.expert) for e in train]
    progress(f"fitting the strategies on {len(profiles)} experts")
    started = time.perf_counter()
    strategies = Strategies(profiles, None, bundled)
    strategies.semantic()
    result: dict[str, Any] = {"experts": sorted(names), "held_out": len(held_out),
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
        result["peer"] = _peer(strategies, held_out, [e for e in train if e.expert is None or e.expert in names],
                               texts, passes)
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
    times.sort()
    return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(times[int(0.99 * (len(times) - 1))], 3),
            "mean_ms": round(statistics.fmean(times), 3)}


def _peer(strategies: Any, held_out: Sequence[RoutingExample], train: Sequence[RoutingExample],
          texts: Sequence[str], passes: int) -> dict[str, Any]:
    """semantic-router's IndexedRouter over the same examples, calibrated and thresholded on `train`."""
    from semantic_router import Route
    from semantic_router.encoders import DenseEncoder
    from semantic_router.routers import IndexedRouter

    from moe_system.routing.learned import BASE
    from moe_system.text.embeddings import encode

    class MiniLM(DenseEncoder):  # type: ignore[misc]
        """The same all-MiniLM-L6-v2 our semantic strategy uses."""

        def __call__(self, docs: list[Any]) -> list[list[float]]:
            return encode([str(d) for d in docs]).tolist()

    calibration = list(train)[1::2]  # semantic-router asks for queries that are not utterances to fit on
    held = {e.text for e in calibration}
    data = strategies.data
    routes = [Route(name=label, utterances=[t for t, lab in zip(data.texts, data.labels, strict=True)
                                            if lab == label and t not in held])
              for label in sorted(set(data.labels) - {BASE})]  # fmt: skip
    started = time.perf_counter()
    router = IndexedRouter(encoder=MiniLM(name="all-MiniLM-L6-v2"), routes=routes)
    x, y = [e.text for e in calibration], [e.expert for e in calibration]
    router.fit(x, y)
    top = [router(text, threshold=0.0) for text in x]  # calibrated confidences fall with the raw score,
    best = max(_PEER_THRESHOLDS, key=lambda bar: (_peer_accuracy(top, y, bar), -bar))  # so top-1 decides
    router.confidence_threshold = best
    fit_s = time.perf_counter() - started

    def route(text: str) -> RoutingDecision:
        choice = router(text)
        return RoutingDecision(choice.name, float(choice.confidence or 0.0), strategy="semantic-router")

    report = evaluate(route, held_out)
    return {"name": "semantic-router (aurelio) IndexedRouter", "threshold": best, "fit_s": round(fit_s, 2),
            "accuracy": report.accuracy, "by_language": report.by_language, **_latency(route, texts, passes)}


def _peer_accuracy(top: Sequence[Any], y: Sequence[str | None], bar: float) -> float:
    """Accuracy of semantic-router's top-1 choices `top` (made with no threshold) under threshold `bar`."""
    picked = [c.name if c.confidence is not None and c.confidence >= bar else None for c in top]
    return sum(p == t for p, t in zip(picked, y, strict=True)) / len(y)
