"""The problem shapes of the math grammar: each draws its numbers (exact answers, at most two decimals; prices in
the language's currency) and names the values its templates in `problems.yaml` use; the wording itself lives only
in the data files.

Shapes: multi-step rates, unit price, percent of, percentage change (by), percentage difference (from -> to),
reverse percentage, what percent, fraction of, fractions of the rest, ratio shares, ratio scaling, averages, an
average with a missing value, linear equations in words and in symbols, consecutive numbers, ages (sum and
difference, "k times as old"), squares from their area, rectangles from area and difference, two numbers from sum
and product, Pythagoras (hypotenuse, leg), rectangles, triangles, circles, trapezoids, change from a purchase,
discount then tax, unit conversion, laps, work together, distance from speed and minutes, average speed, meeting
time, simple interest, groups rounded up (buses), remainders and whole parts, successive percentages, compound
interest. `SHAPES` maps each name (its entry in `problems.yaml`) to its draw.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from moe_system.data.common import ru_plural
from moe_system.data.math.words import Num, word_lists


@dataclass(frozen=True)
class Draw:
    """A shape's numbers: the template values (both languages), the answer, and the program variant (the key of
    `code` in `problems.yaml` when it has several)."""

    values: dict[str, Any]
    answer: Fraction
    code: str | None = None
    names: list[str] = field(default_factory=list)


def exact(x: Num, places: int = 2) -> bool:
    """True when `x` has at most `places` decimals."""
    return (Fraction(x) * 10**places).denominator == 1


def _price(rng: random.Random, lang: str, lo: int = 1, hi: int = 20) -> Fraction:
    """A unit price: quarters of a dollar in English, tens of roubles in Russian."""
    if lang == "ru":
        return Fraction(rng.randint(lo, hi) * 10)
    return Fraction(rng.randint(lo * 4, hi * 4), 4)


def _proper(rng: random.Random, den: int) -> int:
    """A numerator that makes num/den a proper fraction in lowest terms."""
    return rng.choice([k for k in range(1, den) if math.gcd(k, den) == 1])


def _item(rng: random.Random) -> dict[str, str]:
    item = rng.choice(word_lists()["items"])
    return {"item": item["en"], "item_ru": item["ru"], "item_gen": item["ru_gen"], "item_lower": item["ru"].lower()}


def _yes(rng: random.Random) -> bool:
    return rng.random() < 0.5


# ---------------------------------------------------------------------------------------------------- rates


def _rate_shifts(rng: random.Random, lang: str) -> Draw:
    r, h, s = rng.randint(12, 90), rng.randint(4, 12), rng.randint(2, 7)
    return Draw({"r": r, "h": h, "s": s}, Fraction(r * h * s))


def _unit_price(rng: random.Random, lang: str) -> Draw:
    price = _price(rng, lang, 1, 12)
    a, b = rng.sample(range(2, 13), 2)
    what = rng.choice(word_lists()["measures"])
    return Draw({"a": a, "b": b, "cost": a * price, "what": what["en"], "what_ru": what["ru"]}, b * price)


# ---------------------------------------------------------------------------------------------------- percent


def _percent_of(rng: random.Random, lang: str) -> Draw | None:
    p = rng.choice((5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 80, 90))
    x = rng.randint(2, 120) * rng.choice((5, 10, 20))
    ans = Fraction(x * p, 100)
    return Draw({"p": p, "x": x}, ans) if ans.denominator == 1 else None


def _percent_change(rng: random.Random, lang: str) -> Draw | None:
    d = rng.choice((2, 3, 4, 5, 8, 10, 12, 15, 20, 25, 30))
    up = _yes(rng)
    base = Fraction(rng.randint(10, 300) * rng.choice((10, 100)))
    new = base * (100 + (d if up else -d)) / 100
    return Draw({"d": d, "up": up, "base": base, **_item(rng)}, new) if exact(new) else None


def _percent_diff(rng: random.Random, lang: str) -> Draw | None:
    d = rng.choice((5, 10, 15, 20, 25, 30, 40, 50))
    up = _yes(rng)
    a = rng.randint(2, 60) * 20
    b = Fraction(a * (100 + (d if up else -d)), 100)
    if b.denominator != 1:
        return None
    return Draw({"a": a, "b": b, "up": up, **_item(rng)}, Fraction(d))


def _percent_reverse(rng: random.Random, lang: str) -> Draw | None:
    d = rng.choice((5, 10, 15, 20, 25, 30, 40, 50))
    up = _yes(rng)
    old = Fraction(rng.randint(2, 100) * 10)
    b = old * (100 + (d if up else -d)) / 100
    return Draw({"d": d, "up": up, "b": b, **_item(rng)}, old) if exact(b) else None


def _what_percent(rng: random.Random, lang: str) -> Draw | None:
    b = rng.choice((20, 25, 40, 50, 80, 200, 250, 400, 500, 30, 60, 120))
    a = rng.randint(1, b - 1)
    ans = Fraction(100 * a, b)
    return Draw({"a": a, "b": b}, ans) if exact(ans, 1) else None


# ---------------------------------------------------------------------------------------------- fractions, ratios


def _fraction_of(rng: random.Random, lang: str) -> Draw:
    den = rng.choice((2, 3, 4, 5, 6, 8, 10))
    f = Fraction(_proper(rng, den), den)
    v = den * rng.randint(2, 40)
    return Draw({"v": v, "f": f, "f_num": f.numerator, "f_den": f.denominator}, f * v)


def _fraction_rest(rng: random.Random, lang: str) -> Draw | None:
    d1, d2 = rng.choice((3, 4, 5)), rng.choice((2, 3, 4, 5))
    f1, f2 = Fraction(_proper(rng, d1), d1), Fraction(_proper(rng, d2), d2)
    m = d1 * d2 * rng.randint(2, 20) * rng.choice((1, 5, 10))
    rest = m - m * f1
    values = {"m": m, "f1": f1, "f2": f2, "f1_num": f1.numerator, "f1_den": d1, "f2_num": f2.numerator, "f2_den": d2}
    return Draw(values, rest - rest * f2) if (rest * f2).denominator == 1 else None


def _ratio(rng: random.Random, lang: str) -> Draw:
    a, b = rng.sample(range(1, 10), 2)
    unit = rng.randint(2, 60) * 10
    return Draw({"a": a, "b": b, "total": (a + b) * unit}, Fraction(b * unit), names=["name1", "name2"])


def _ratio_scale(rng: random.Random, lang: str) -> Draw:
    a, b = rng.sample(range(1, 10), 2)
    g = b * rng.randint(2, 15)
    return Draw({"a": a, "b": b, "g": g}, Fraction(g, b) * a)


def _average(rng: random.Random, lang: str) -> Draw | None:
    values = [rng.randint(50, 100) for _ in range(rng.randint(3, 6))]
    mean = Fraction(sum(values), len(values))
    listed = ", ".join(map(str, values))
    return Draw({"listed": listed, "listed_ru": listed, "count": len(values)}, mean) if exact(mean) else None


def _average_missing(rng: random.Random, lang: str) -> Draw | None:
    count = rng.randint(3, 6)
    known = [rng.randint(40, 100) for _ in range(count - 1)]
    mean = rng.randint(50, 95)
    missing = mean * count - sum(known)
    if not 0 < missing <= 100:
        return None
    listed = ", ".join(map(str, known))
    return Draw({"count": count, "known_count": count - 1, "mean": mean, "listed": listed, "listed_ru": listed},
                Fraction(missing))


# ---------------------------------------------------------------------------------------------------- equations


def _linear_number(rng: random.Random, lang: str) -> Draw:
    n, a, babs = rng.randint(2, 40), rng.randint(2, 9), rng.randint(1, 30)
    bs = _yes(rng) or babs >= a * n
    a_text = {2: "double it", 3: "triple it"}.get(a, f"multiply it by {a}")
    return Draw({"a": a, "a_text": a_text, "bs": bs, "babs": babs, "c": a * n + (babs if bs else -babs)},
                Fraction(n))


def _linear_equation(rng: random.Random, lang: str) -> Draw | None:
    x, a, k = rng.randint(-12, 25), rng.randint(2, 9), rng.randint(1, 8)
    b = rng.choice([v for v in range(-30, 31) if v != 0])
    if k == a:
        return None
    d = a * x + b - k * x
    return Draw({"a": a, "b": b, "k": k, "d": d}, Fraction(x)) if d != 0 else None


def _consecutive(rng: random.Random, lang: str) -> Draw:
    n, large = rng.randint(1, 300), _yes(rng)
    return Draw({"s": 3 * n + 3, "large": large}, Fraction(n + 2 if large else n), "largest" if large else "smallest")


def _ages(rng: random.Random, lang: str) -> Draw:
    younger, diff = rng.randint(2, 40), rng.randint(1, 30)
    return Draw({"diff": diff, "total": 2 * younger + diff}, Fraction(younger))


def _ages_times(rng: random.Random, lang: str) -> Draw | None:
    k = rng.randint(3, 7)
    m, y = rng.randint(2, k - 1), rng.randint(2, 30)
    son = Fraction(y * (m - 1), k - m)
    return Draw({"k": k, "m": m, "y": y}, son) if son.denominator == 1 and 2 <= son <= 20 else None


def _square_side(rng: random.Random, lang: str) -> Draw:
    side, per = rng.randint(2, 40), _yes(rng)
    return Draw({"area": side * side, "per": per}, Fraction(4 * side if per else side), "perimeter" if per else "side")


def _rect_quadratic(rng: random.Random, lang: str) -> Draw:
    width, d, long = rng.randint(2, 30), rng.randint(1, 15), _yes(rng)
    return Draw({"d": d, "area": width * (width + d), "long": long}, Fraction(width + d if long else width),
                "length" if long else "width")


def _product_sum(rng: random.Random, lang: str) -> Draw:
    a, b = sorted(rng.sample(range(1, 40), 2))
    large = _yes(rng)
    return Draw({"s": a + b, "p": a * b, "large": large}, Fraction(b if large else a), "larger" if large else "smaller")


# ---------------------------------------------------------------------------------------------------- geometry

_TRIPLES = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (6, 8, 10), (9, 12, 15), (20, 21, 29))


def _pythagoras(rng: random.Random, lang: str) -> Draw:
    k = rng.randint(1, 5)
    a, b, c = (side * k for side in rng.choice(_TRIPLES))
    a, b = (b, a) if _yes(rng) else (a, b)
    return Draw({"a": a, "b": b}, Fraction(c))


def _pythagoras_leg(rng: random.Random, lang: str) -> Draw:
    k = rng.randint(1, 5)
    a, b, c = (side * k for side in rng.choice(_TRIPLES))
    a, b = (b, a) if _yes(rng) else (a, b)
    return Draw({"a": a, "c": c}, Fraction(b))


def _rectangle(rng: random.Random, lang: str) -> Draw:
    w, h, per = rng.randint(3, 60), rng.randint(2, 40), _yes(rng)
    place = rng.choice(word_lists()["places"])
    return Draw({"w": w, "h": h, "per": per, "place": place["en"], "place_ru": place["ru"]},
                Fraction(2 * (w + h) if per else w * h), "perimeter" if per else "area")


def _triangle_area(rng: random.Random, lang: str) -> Draw:
    base, height = rng.randint(2, 40), rng.randint(2, 30)
    return Draw({"base": base, "height": height}, Fraction(base * height, 2))


def _circle(rng: random.Random, lang: str) -> Draw:
    r, area = rng.randint(1, 40), _yes(rng)
    pi = Fraction(314, 100)
    return Draw({"r": r, "area": area}, pi * r * r if area else 2 * pi * r, "area" if area else "circumference")


def _trapezoid(rng: random.Random, lang: str) -> Draw:
    a, b, h = rng.randint(2, 30), rng.randint(2, 30), rng.randint(2, 20)
    return Draw({"a": a, "b": b, "h": h}, Fraction((a + b) * h, 2)) if a != b else _trapezoid(rng, lang)


# ---------------------------------------------------------------------------------------------------- money


def _money_change(rng: random.Random, lang: str) -> Draw | None:
    first, second = rng.sample(word_lists()["goods"], 2)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    p, q = _price(rng, lang), _price(rng, lang)
    total = a * p + b * q
    bill = next(x for x in word_lists()["bills"] if x > total)
    return Draw({"a": a, "b": b, "p": p, "q": q, "bill": bill, "pl1": first["en"], "pl2": second["en"],
                 "goods1": ru_plural(a, first["ru"]), "goods2": ru_plural(b, second["ru"])}, bill - total)


def _discount_tax(rng: random.Random, lang: str) -> Draw | None:
    price = Fraction(rng.randint(4, 200) * 10)
    d, t = rng.choice((10, 15, 20, 25, 30, 40, 50)), rng.choice((5, 8, 10, 12, 15, 20))
    final = price * (100 - d) / 100 * (100 + t) / 100
    return Draw({"price": price, "d": d, "t": t, **_item(rng)}, final) if exact(final) else None


def _interest(rng: random.Random, lang: str) -> Draw:
    principal, rate, years = rng.randint(2, 100) * 500, rng.choice((2, 3, 4, 5, 6, 7, 8, 10, 12)), rng.randint(2, 6)
    return Draw({"principal": principal, "rate": rate, "years": years},
                principal + Fraction(principal * rate * years, 100))


# ------------------------------------------------------------------------------------------- units, motion, work


def _convert_units(rng: random.Random, lang: str) -> Draw | None:
    unit = rng.choice(word_lists()["units"])
    factor, mul = unit["factor"], _yes(rng)
    if mul:  # big -> small: 2.5 km -> 2500 m
        x = Fraction(rng.randint(1, 80), rng.choice((1, 2, 4, 10)))
        answer = x * factor
    else:  # small -> big: 2500 m -> 2.5 km
        x = Fraction(rng.randint(1, 400) * factor, rng.choice((1, 2, 4, 10, 100)))
        answer = x / factor
    if not (exact(x) and exact(answer)):
        return None
    big, small = ("big", "small") if mul else ("small", "big")
    values = {
        "x": x, "mul": mul, "factor": factor, "var": unit[f"{big}_var"],
        "from_en": unit[f"{big}_abbr"][0], "from_ru": unit[f"{big}_abbr"][1],
        "to_en": unit[f"{small}_en"], "to_ru": unit[f"{small}_ru"],
        "to_abbr_en": unit[f"{small}_abbr"][0], "to_abbr_ru": unit[f"{small}_abbr"][1],
        "small_en": unit["small_en"], "small_ru": unit["small_ru"], "big_en": unit["one_en"], "big_ru": unit["one_ru"],
    }  # fmt: skip
    return Draw(values, answer, "mul" if mul else "div")


def _laps(rng: random.Random, lang: str) -> Draw | None:
    lap = rng.choice((25, 50, 100, 200, 250, 400, 500))
    km = Fraction(rng.randint(1, 40), rng.choice((1, 2, 4, 10)))
    laps = km * 1000 / lap
    return Draw({"lap": lap, "km": km}, laps) if laps.denominator == 1 and exact(km) else None


def _work_together(rng: random.Random, lang: str) -> Draw | None:
    a, b = rng.sample(range(2, 30), 2)
    t = Fraction(a * b, a + b)
    return Draw({"a": a, "b": b}, t) if exact(t) else None


def _speed_distance(rng: random.Random, lang: str) -> Draw | None:
    v, mins = rng.randint(4, 120), rng.choice((10, 12, 15, 20, 30, 40, 45, 50, 90, 100, 150))
    d = Fraction(v * mins, 60)
    return Draw({"v": v, "mins": mins}, d) if exact(d) else None


def _average_speed(rng: random.Random, lang: str) -> Draw | None:
    t1, t2 = rng.randint(1, 5), rng.randint(1, 5)
    v1, v2 = rng.randint(8, 24) * 5, rng.randint(8, 24) * 5
    avg = Fraction(v1 * t1 + v2 * t2, t1 + t2)
    return Draw({"d1": v1 * t1, "t1": t1, "d2": v2 * t2, "t2": t2}, avg) if exact(avg) and v1 != v2 else None


def _meeting(rng: random.Random, lang: str) -> Draw | None:
    v1, v2 = rng.randint(6, 24) * 5, rng.randint(6, 24) * 5
    t = rng.choice((Fraction(1, 2), Fraction(3, 2), Fraction(5, 2), Fraction(1), Fraction(2), Fraction(3),
                    Fraction(4)))
    d = (v1 + v2) * t
    return Draw({"d": d, "v1": v1, "v2": v2}, t) if d.denominator == 1 else None


def _ceil_groups(rng: random.Random, lang: str) -> Draw:
    k = rng.randint(4, 60)
    n = k * rng.randint(2, 20) + rng.randint(0, k - 1)
    return Draw({"n": n, "k": k}, Fraction(-(-n // k)))


def _remainder(rng: random.Random, lang: str) -> Draw:
    k, left = rng.randint(3, 12), _yes(rng)
    n = k * rng.randint(2, 30) + rng.randint(1, k - 1)
    return Draw({"n": n, "k": k, "left": left}, Fraction(n % k if left else n // k), "left" if left else "each")


def _successive_percent(rng: random.Random, lang: str) -> Draw | None:
    base = Fraction(rng.randint(2, 100) * 100)
    p1, p2, first_up = rng.choice((5, 10, 20, 25, 50)), rng.choice((5, 10, 20, 25, 40)), _yes(rng)
    final = base * (100 + (p1 if first_up else -p1)) / 100 * (100 + (-p2 if first_up else p2)) / 100
    return Draw({"base": base, "p1": p1, "p2": p2, "first_up": first_up, **_item(rng)}, final) if exact(final) else None


def _compound_interest(rng: random.Random, lang: str) -> Draw | None:
    principal, rate, years = rng.randint(1, 20) * 10000, rng.choice((2, 3, 4, 5, 6, 8, 10)), rng.randint(2, 3)
    total = principal * (1 + Fraction(rate, 100)) ** years
    return Draw({"principal": principal, "rate": rate, "years": years}, total) if exact(total) else None


SHAPES: dict[str, Callable[[random.Random, str], Draw | None]] = {
    "rate_shifts": _rate_shifts, "unit_price": _unit_price, "percent_of": _percent_of,
    "percent_change": _percent_change, "percent_diff": _percent_diff, "percent_reverse": _percent_reverse,
    "what_percent": _what_percent, "fraction_of": _fraction_of, "fraction_rest": _fraction_rest, "ratio": _ratio,
    "ratio_scale": _ratio_scale, "average": _average, "average_missing": _average_missing,
    "linear_number": _linear_number, "linear_equation": _linear_equation, "consecutive": _consecutive,
    "ages": _ages, "ages_times": _ages_times, "square_side": _square_side, "rect_quadratic": _rect_quadratic,
    "product_sum": _product_sum, "pythagoras": _pythagoras, "pythagoras_leg": _pythagoras_leg,
    "rectangle": _rectangle, "triangle_area": _triangle_area, "circle": _circle, "trapezoid": _trapezoid,
    "money_change": _money_change, "discount_tax": _discount_tax, "convert_units": _convert_units, "laps": _laps,
    "work_together": _work_together, "speed_distance": _speed_distance, "average_speed": _average_speed,
    "meeting": _meeting, "interest": _interest, "ceil_groups": _ceil_groups, "remainder": _remainder,
    "successive_percent": _successive_percent, "compound_interest": _compound_interest,
}  # fmt: skip
