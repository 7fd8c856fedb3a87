"""Drawing code of the list and dict task families (their wording is in `tasks.yaml`): each draws test inputs
and returns them with an independent implementation that computes the expected outputs.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import Counter
from typing import Any

from moe_system.data.python.tasks import Drawn, catalog, draws, ints, scores, text


@draws
def _sum_multiples(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    k = rng.choice(inputs["divisors"])
    return Drawn(lambda xs: sum(filter(lambda v: v % k == 0, xs)), [(ints(rng),) for _ in range(4)], {"k": k})


@draws
def _filter_greater(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs, t: list(filter(lambda v: v > t, xs)), [(ints(rng), rng.randint(0, 20)) for _ in range(4)])


@draws
def _second_largest(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(xs: list[int]) -> int | None:
        top = [v for v in xs if v != max(xs)] if xs else []
        return max(top) if top else None

    return Drawn(ref, [(ints(rng),) for _ in range(4)])


@draws
def _running_sum(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: list(itertools.accumulate(xs)), [(ints(rng),) for _ in range(4)])


@draws
def _chunk(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs, n: [xs[i * n:(i + 1) * n] for i in range(math.ceil(len(xs) / n))],
                 [(ints(rng, 0, 9, (2, 9)), rng.randint(1, 4)) for _ in range(4)])


@draws
def _flatten(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def nested() -> list[list[int]]:
        return [ints(rng, 0, 9, (0, 3)) for _ in range(rng.randint(1, 4))]

    return Drawn(lambda xs: list(itertools.chain.from_iterable(xs)), [(nested(),) for _ in range(4)])


@draws
def _unique(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: list(dict.fromkeys(xs)),
                 [(ints(rng, 0, 6, (4, 10)),) for _ in range(3)] + [([rng.choice(catalog().words) for _ in range(5)],)])


@draws
def _rotate(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs, k: [xs[(i + k) % len(xs)] for i in range(len(xs))],
                 [(ints(rng, 0, 9), rng.randint(0, 12)) for _ in range(4)])


@draws
def _diffs(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: [xs[i + 1] - xs[i] for i in range(len(xs) - 1)], [(ints(rng),) for _ in range(4)])


@draws
def _value_range(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: (sorted(xs)[-1] - sorted(xs)[0]) if xs else 0, [(ints(rng),) for _ in range(4)])


@draws
def _count_in_range(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs, lo, hi: len([v for v in xs if v >= lo and v <= hi]),
                 [(ints(rng), *sorted((rng.randint(-5, 15), rng.randint(0, 25)))) for _ in range(4)])


@draws
def _moving_average(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    k = rng.randint(2, 4)
    return Drawn(lambda xs: [round(sum(xs[i:i + k]) / k, 2) for i in range(max(0, len(xs) - k + 1))],
                 [(ints(rng, 0, 50, (k, 8)),) for _ in range(4)], {"k": k})


@draws
def _merge_sorted(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda x, y: sorted(x + y),
                 [(sorted(ints(rng, 0, 30, (0, 6))), sorted(ints(rng, 0, 30, (0, 6)))) for _ in range(4)])


@draws
def _first_index_above(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs, t: next((i for i in range(len(xs)) if xs[i] > t), -1),
                 [(ints(rng), rng.randint(5, 35)) for _ in range(4)])


@draws
def _product(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: math.prod(xs), [(ints(rng, -5, 9, (1, 5)),) for _ in range(4)])


@draws
def _interleave(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(x: list[Any], y: list[Any]) -> list[Any]:
        gap = object()
        return [v for pair in itertools.zip_longest(x, y, fillvalue=gap) for v in pair if v is not gap]

    return Drawn(ref, [(ints(rng, 0, 9, (0, 5)), ints(rng, 0, 9, (0, 5))) for _ in range(4)])


@draws
def _pairs_to_dict(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda ks, vs: {ks[i]: vs[i] for i in range(min(len(ks), len(vs)))},
                 [(rng.sample(catalog().items, rng.randint(1, 5)), ints(rng, 1, 20, (1, 5))) for _ in range(4)])


@draws
def _max_subarray(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: max(sum(xs[i:j]) for i in range(len(xs)) for j in range(i + 1, len(xs) + 1)),
                 [(ints(rng, -10, 10, (1, 9)),) for _ in range(5)])


@draws
def _count_pairs(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs, t: sum(1 for x, y in itertools.combinations(xs, 2) if x + y == t),
                 [(ints(rng, 0, 8, (3, 8)), rng.randint(4, 12)) for _ in range(4)])


@draws
def _evens_first(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: sorted(xs, key=lambda v: v % 2), [(ints(rng),) for _ in range(4)])


@draws
def _top_n(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs, n: heapq.nlargest(n, xs), [(ints(rng), rng.randint(1, 4)) for _ in range(4)])


# ----------------------------------------------------------------------------------------------------- dicts


@draws
def _invert_dict(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def unique_values() -> dict[str, int]:
        keys = rng.sample(catalog().items, rng.randint(1, 5))
        return dict(zip(keys, rng.sample(range(1, 50), len(keys)), strict=True))

    return Drawn(lambda d: dict(zip(d.values(), d.keys(), strict=True)), [(unique_values(),) for _ in range(4)])


@draws
def _group_by_length(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda ws: {n: [w for w in ws if len(w) == n] for n in sorted({len(w) for w in ws})},
                 [([rng.choice(catalog().words) for _ in range(rng.randint(2, 6))],) for _ in range(4)])


@draws
def _word_count(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: dict(Counter(s.lower().split())), [(text(rng, 3, 9),) for _ in range(4)])


@draws
def _merge_counts(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda x, y: {k: x.get(k, 0) + y.get(k, 0) for k in [*x, *y]},
                 [(scores(rng), scores(rng)) for _ in range(4)])


@draws
def _keys_above(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda d, t: sorted(filter(lambda k: d[k] > t, d)),
                 [(scores(rng), rng.randint(3, 15)) for _ in range(4)])


@draws
def _sort_keys_by_value(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda d: [k for _, k in sorted((-v, k) for k, v in d.items())],
                 [({k: rng.randint(0, 4) for k in rng.sample(catalog().items, rng.randint(2, 6))},) for _ in range(4)])


@draws
def _cart_total(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def case() -> tuple[dict[str, int], dict[str, float]]:
        items = rng.sample(catalog().items, rng.randint(1, 4))
        prices = {name: rng.randint(50, 999) / 100 for name in catalog().items}
        return {name: rng.randint(1, 5) for name in items}, {k: prices[k] for k in sorted(prices)[:6] + items}

    return Drawn(lambda c, p: round(math.fsum(p[k] * q for k, q in c.items()), 2), [case() for _ in range(4)])


@draws
def _top_k_by_value(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(d: dict[str, int], k: int) -> list[str]:
        return [key for key, _ in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))][:k]

    return Drawn(ref, [(scores(rng), rng.randint(1, 4)) for _ in range(4)])


@draws
def _pairs_with_sum(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(xs: list[int], k: int) -> list[tuple[int, int]]:
        return sorted({(min(x, y), max(x, y)) for x, y in itertools.combinations(xs, 2) if x + y == k})

    return Drawn(ref, [(ints(rng, -3, 9, (3, 8)), rng.randint(2, 12)) for _ in range(4)])


@draws
def _is_sorted(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    cases = [(sorted(ints(rng)),) for _ in range(2)] + [(ints(rng),) for _ in range(3)]
    return Drawn(lambda xs: xs == sorted(xs), cases)


@draws
def _remove_value(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    cases = []
    for _ in range(4):
        xs = ints(rng, 0, 5, (3, 9))
        cases.append((xs, rng.choice(xs) if rng.random() < 0.8 else 9))
    return Drawn(lambda xs, v: list(filter(lambda x: x != v, xs)), cases)


@draws
def _sum_evens(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: sum(filter(lambda x: not x % 2, xs)), [(ints(rng),) for _ in range(5)])


@draws
def _average(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: math.fsum(xs) / len(xs) if xs else 0.0, [(ints(rng, 0, 20, (1, 6)),) for _ in range(4)])


@draws
def _find_max(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda xs: sorted(xs)[-1] if xs else None, [(ints(rng, -30, 30, (1, 8)),) for _ in range(4)])


@draws
def _common_elements(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda x, y: sorted(v for v in set(x) if v in y),
                 [(ints(rng, 0, 9, (2, 7)), ints(rng, 0, 9, (2, 7))) for _ in range(4)])


@draws
def _find_duplicates(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(xs: list[Any]) -> list[Any]:
        return sorted(value for value, count in Counter(xs).items() if count > 1)

    words = [rng.choice(catalog().items) for _ in range(6)]
    return Drawn(ref, [(ints(rng, 0, 8, (3, 9)),) for _ in range(3)] + [(words,)])


@draws
def _count_item(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    cases = []
    for _ in range(4):
        xs = ints(rng, 0, 4, (2, 9)) if rng.random() < 0.7 else [rng.choice(catalog().items) for _ in range(5)]
        cases.append((xs, rng.choice(xs)))
    return Drawn(lambda xs, x: sum(1 for v in xs if v == x), cases)
