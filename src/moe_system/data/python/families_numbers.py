"""Drawing code of the math-helper and algorithm task families (their wording is in `tasks.yaml`): each draws
test inputs and returns them with an independent implementation that computes the expected outputs.
"""

from __future__ import annotations

import calendar
import itertools
import math
import random
import re
from typing import Any

from moe_system.data.python.tasks import Drawn, catalog, draws, ints

_PRIMES = tuple(n for n in range(2, 200) if all(n % d for d in range(2, n)))
_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"),
          (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def _roman(n: int) -> str:
    out = ""
    for value, letters in _ROMAN:
        count, n = divmod(n, value)
        out += letters * count
    return out


@draws
def _factorial(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(math.factorial, [(v,) for v in rng.sample(range(1, 16), 4)])


@draws
def _fibonacci(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(n: int) -> int:  # Binet's formula: exact in floating point far beyond the n used here
        return round(((1 + 5 ** 0.5) / 2) ** n / 5 ** 0.5)

    return Drawn(ref, [(v,) for v in rng.sample(range(2, 40), 4)])


@draws
def _is_prime(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda n: n > 1 and all(n % d for d in range(2, n)),
                 [(v,) for v in rng.sample(_PRIMES, 3) + rng.sample(range(4, 200, 2), 2)])


@draws
def _gcd(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(math.gcd, [(rng.randint(1, 20) * k, rng.randint(1, 20) * k) for k in rng.sample(range(1, 13), 4)])


@draws
def _digit_sum(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda n: sum(map(int, str(n))), [(rng.randint(10, 10 ** rng.randint(2, 9)),) for _ in range(4)])


@draws
def _count_divisors(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda n: len([d for d in range(1, n + 1) if n % d == 0]),
                 [(v,) for v in rng.sample(range(2, 120), 4)])


@draws
def _celsius(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda c: round(c * 9 / 5 + 32, 1),
                 [(rng.randint(-40, 45),) for _ in range(3)] + [(rng.randint(-100, 400) / 10,)])


@draws
def _leap_year(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(calendar.isleap, [(rng.randint(1800, 2100),) for _ in range(3)])


@draws
def _sum_of_squares(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda n: n * (n + 1) * (2 * n + 1) // 6, [(rng.randint(1, 60),) for _ in range(4)])


@draws
def _collatz(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(n: int, steps: int = 0) -> int:
        return steps if n == 1 else ref(n // 2 if n % 2 == 0 else 3 * n + 1, steps + 1)

    return Drawn(ref, [(rng.randint(2, 100),) for _ in range(4)])


@draws
def _to_binary(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda n: bin(n)[2:], [(rng.randint(1, 1000),) for _ in range(4)])


@draws
def _clamp(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda x, lo, hi: sorted((lo, x, hi))[1],
                 [(rng.randint(-20, 40), rng.randint(-5, 5), rng.randint(10, 20)) for _ in range(4)])


@draws
def _lcm(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda x, y: next(m for m in range(max(x, y), x * y + 1) if m % x == 0 and m % y == 0),
                 [(rng.randint(1, 30), rng.randint(1, 30)) for _ in range(4)])


# ------------------------------------------------------------------------------------------------ algorithms


@draws
def _binary_search(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def case() -> tuple[list[int], int]:
        xs = sorted(rng.sample(range(0, 100), rng.randint(1, 10)))
        return xs, rng.choice(xs) if rng.random() < 0.7 else rng.randint(0, 100)

    return Drawn(lambda xs, t: xs.index(t) if t in xs else -1, [case() for _ in range(5)])


@draws
def _is_balanced(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(s: str) -> bool:
        s = re.sub(r"[^()\[\]{}]", "", s)
        while any(p in s for p in ("()", "[]", "{}")):
            s = s.replace("()", "").replace("[]", "").replace("{}", "")
        return not s

    return Drawn(ref, [(s,) for s in rng.sample(inputs["samples"], 6)])


@draws
def _transpose(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def matrix() -> list[list[int]]:
        cols = rng.randint(1, 4)
        return [[rng.randint(0, 9) for _ in range(cols)] for _ in range(rng.randint(1, 4))]

    return Drawn(lambda m: [list(col) for col in zip(*m, strict=True)], [(matrix(),) for _ in range(5)])


@draws
def _roman_to_int(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: next(n for n in range(1, 4000) if _roman(n) == s),
                 [(_roman(rng.randint(1, 3999)),) for _ in range(5)])


@draws
def _int_to_roman(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(_roman, [(rng.randint(1, 3999),) for _ in range(5)])


@draws
def _two_sum(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def case() -> tuple[list[int], int]:
        xs = ints(rng, 0, 20, (2, 7))
        return xs, rng.choice((xs[0] + xs[-1], rng.randint(0, 40)))

    return Drawn(lambda xs, t: next(((i, j) for i, j in itertools.combinations(range(len(xs)), 2)
                                     if xs[i] + xs[j] == t), None), [case() for _ in range(5)])


@draws
def _sort_by_second(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def case() -> list[tuple[str, int]]:
        return [(rng.choice(catalog().items), rng.randint(0, 9)) for _ in range(rng.randint(0, 5))]

    return Drawn(lambda ps: [p for _, _, p in sorted((p[1], i, p) for i, p in enumerate(ps))],
                 [(case(),) for _ in range(5)])


@draws
def _to_base(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(n: int, base: int) -> str:
        if n < 0:
            return "-" + ref(-n, base)
        return "0123456789ABCDEF"[n] if n < base else ref(n // base, base) + "0123456789ABCDEF"[n % base]

    return Drawn(ref, [(rng.randint(-300, 5000), rng.choice((2, 3, 8, 10, 12, 16))) for _ in range(4)])


@draws
def _square(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda n: n**2, [(rng.randint(-12, 25),) for _ in range(5)])


@draws
def _primes_up_to(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(n: int) -> list[int]:
        return [k for k in range(2, n + 1) if all(k % d for d in range(2, math.isqrt(k) + 1))]

    return Drawn(ref, [(rng.randint(3, 60),) for _ in range(4)])


@draws
def _is_power_of_two(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    cases = [(2 ** rng.randint(1, 12),) for _ in range(2)] + [(rng.randint(3, 500),) for _ in range(3)]
    return Drawn(lambda n: n > 0 and bin(n).count("1") == 1, cases)


@draws
def _reverse_number(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(n: int) -> int:
        digits = str(abs(n))[::-1].lstrip("0") or "0"
        return -int(digits) if n < 0 else int(digits)

    return Drawn(ref, [(rng.randint(-999, 99999),) for _ in range(3)] + [(rng.randint(1, 99) * 10,)])
