"""The families of math word problems: each draws its numbers, checks that the answer is exact, and writes the
question, the worked steps and the calculator program from `problems.yaml` (through `words.Wording`).

Families: shopping, percent of, discount, percent change, what percent, speed, work and rates, unit price,
fraction of, fraction arithmetic, linear equations, rectangles, triangles, circles, averages, ratios, simple
interest, expressions, durations. `FAMILIES` lists them in the order the generator draws from.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from moe_system.data.common import ru_plural
from moe_system.data.math.words import Num, Wording, person, word_lists

_PI = Fraction(157, 50)  # 3.14, the value every circle problem states


@dataclass(frozen=True)
class Problem:
    question: str
    steps: list[str]
    program: list[str]
    answer: Fraction


def exact(x: Num, places: int = 2) -> bool:
    """True when `x` has at most `places` decimals."""
    return (Fraction(x) * 10 ** places).denominator == 1


def _price(rng: random.Random, lang: str, lo: int = 1, hi: int = 20) -> Fraction:
    if lang == "ru":
        return Fraction(rng.randint(lo, hi) * 10)
    return Fraction(rng.randint(lo * 4, hi * 4), 4)


def _proper(rng: random.Random, den: int) -> int:
    """A numerator that makes num/den a proper fraction in lowest terms."""
    return rng.choice([k for k in range(1, den) if math.gcd(k, den) == 1])


def _ask(rng: random.Random, w: Wording, form: str, answer: Num) -> Problem:
    """The usual shape: one of the form's questions, its `<form>_steps`, its program."""
    return Problem(w.pick(rng, form), w.steps(f"{form}_steps"), w.code(form), Fraction(answer))


def _shopping(rng: random.Random, lang: str) -> Problem | None:
    first, second = rng.sample(word_lists()["goods"], 2)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    p, q = _price(rng, lang), _price(rng, lang)
    c1, c2 = a * p, b * q
    total = c1 + c2
    v1, v2 = first["en"].split()[0], second["en"].split()[0]
    if v1 == v2:
        return None
    w = Wording("shopping", lang, a=a, b=b, p=p, q=q, c1=c1, c2=c2, total=total, v1=v1, v2=v2, pl1=first["en"],
                pl2=second["en"], goods1=ru_plural(a, first["ru"]), goods2=ru_plural(b, second["ru"]),
                head1=first["ru_head"], head2=second["ru_head"], **person(rng, lang))
    question, steps = w.pick(rng, "ask"), w.steps()
    if rng.random() < 0.5:
        bill = next(x for x in word_lists()["bills"] if x > total)
        w.add(bill=bill, change=bill - total)
        return Problem(question + w.text("change"), [*steps, w.text("change_step")],
                       [*w.code("program"), *w.code("change")], bill - total)
    return Problem(question + w.pick(rng, "spend"), steps, [*w.code("program"), *w.code("spend")], total)


def _percent_of(rng: random.Random, lang: str) -> Problem | None:
    p = rng.choice((5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 80, 90))
    x = rng.randint(2, 120) * rng.choice((5, 10, 20))
    ans = Fraction(x * p, 100)
    if ans.denominator != 1:
        return None
    w = Wording("percent_of", lang, p=p, x=x, ans=ans)
    return Problem(w.pick(rng, "ask"), w.steps(), w.code(), ans)


def _discount(rng: random.Random, lang: str) -> Problem | None:
    item = rng.choice(word_lists()["items"])
    price = Fraction(rng.randint(4, 200) * 10)
    d = rng.choice((10, 15, 20, 25, 30, 40, 50))
    cut = price * d / 100
    sale = price - cut
    k = rng.choice((1, 1, 2, 3, 4, 5))
    w = Wording("discount", lang, item=item["en"], item_ru=item["ru"], item_gen=item["ru_gen"], price=price, d=d,
                cut=cut, sale=sale, k=k, total=k * sale)
    how_many = "many" if k > 1 else "one"
    steps = [*w.steps(), w.text("many_step")] if k > 1 else w.steps()
    return Problem(w.text("intro") + w.text(how_many), steps, [*w.code("program"), *w.code(how_many)], k * sale)


def _percent_change(rng: random.Random, lang: str) -> Problem | None:
    d = rng.choice((2, 3, 4, 5, 8, 10, 12, 15, 20, 25, 30))
    up = rng.random() < 0.6
    kind = rng.randrange(3)
    base = Fraction(rng.randint(10, 300) * (100 if kind == 0 else 10))
    delta = base * d / 100
    new = base + delta if up else base - delta
    if not exact(new) or (kind == 1 and new.denominator != 1):  # people are whole
        return None
    w = Wording("percent_change", lang, d=d, up=up, base=base, delta=delta, new=new, **person(rng, lang))
    return Problem(w.text(("salary", "town", "car")[kind]), w.steps(), w.code(), new)


def _what_percent(rng: random.Random, lang: str) -> Problem | None:
    b = rng.choice((20, 25, 40, 50, 80, 200, 250, 400, 500, 30, 60, 120))
    a = rng.randint(1, b - 1)
    ans = Fraction(100 * a, b)
    if not exact(ans, 1):
        return None
    w = Wording("what_percent", lang, a=a, b=b, ans=ans)
    return Problem(w.pick(rng, "ask"), w.steps(), w.code(), ans)


def _speed(rng: random.Random, lang: str) -> Problem | None:
    kind = rng.randrange(4)
    if kind == 0:
        t = rng.choice((2, 3, 4, 5, Fraction(3, 2), Fraction(5, 2)))
        v = rng.randint(8, 24) * 5
        return _ask(rng, Wording("speed", lang, t=t, v=v, d=v * t), "average", v)
    if kind == 1:
        v = rng.randint(10, 30)
        d = v * Fraction(rng.randint(2, 40), 4)
        if not exact(d, 1):
            return None
        return _ask(rng, Wording("speed", lang, v=v, d=d, t=d / v), "time", d / v)
    if kind == 2:
        t1, t2 = rng.randint(1, 4), rng.randint(1, 4)
        v1, v2 = rng.randint(8, 20) * 5, rng.randint(8, 20) * 5
        d1, d2 = v1 * t1, v2 * t2
        avg = Fraction(d1 + d2, t1 + t2)
        if not exact(avg):
            return None
        return _ask(rng, Wording("speed", lang, t1=t1, t2=t2, d1=d1, d2=d2, d=d1 + d2, t=t1 + t2, avg=avg), "trip",
                    avg)
    v1, v2, t = rng.randint(6, 20) * 5, rng.randint(6, 20) * 5, rng.choice((2, 3, 4, Fraction(1, 2), Fraction(3, 2)))
    gap = (v1 + v2) * t
    return _ask(rng, Wording("speed", lang, v1=v1, v2=v2, v=v1 + v2, t=t, gap=gap), "apart", gap)


def _work(rng: random.Random, lang: str) -> Problem | None:
    kind = rng.randrange(4)
    if kind == 0:
        r = rng.randint(5, 40)
        n = r * rng.randint(3, 60)
        return _ask(rng, Wording("work", lang, r=r, n=n, t=Fraction(n, r)), "printer", Fraction(n, r))
    if kind == 1:
        a, b = rng.randint(5, 40), rng.randint(5, 40)
        v = (a + b) * rng.randint(5, 60)
        t = Fraction(v, a + b)
        return _ask(rng, Wording("work", lang, a=a, b=b, ab=a + b, v=v, t=t), "pipes", t)
    if kind == 2:
        r, h, d = rng.randint(5, 60), rng.randint(4, 10), rng.randint(2, 10)
        return _ask(rng, Wording("work", lang, r=r, h=h, d=d, rh=r * h, total=r * h * d), "worker", r * h * d)
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    t = Fraction(a * b, a + b)
    if not exact(t, 1):
        return None
    return _ask(rng, Wording("work", lang, a=a, b=b, rate=Fraction(a + b, a * b), t=t), "together", t)


def _unit_price(rng: random.Random, lang: str) -> Problem | None:
    price = _price(rng, lang, 1, 12)
    a, b = rng.sample(range(2, 13), 2)
    what = rng.choice(word_lists()["measures"])[lang]
    w = Wording("unit_price", lang, a=a, b=b, price=price, cost=a * price, ans=b * price, what=what,
                unit=what.split()[0])
    return Problem(w.pick(rng, "ask"), w.steps(), w.code(), b * price)


def _fraction_of(rng: random.Random, lang: str) -> Problem | None:
    if rng.random() < 0.5:
        den = rng.choice((2, 3, 4, 5, 8, 10))
        num = _proper(rng, den)
        v = den * rng.randint(4, 60)
        filled = Fraction(v * num, den)
        used = rng.randint(1, int(filled))
        w = Wording("fraction_of", lang, den=den, num=num, v=v, filled=filled, used=used, left=filled - used)
        return _ask(rng, w, "tank", filled) if rng.random() < 0.5 else _ask(rng, w, "used", filled - used)
    d1, d2 = rng.choice((3, 4, 5)), rng.choice((2, 3, 4))
    n1, n2 = _proper(rng, d1), _proper(rng, d2)
    pages = d1 * d2 * rng.randint(3, 20)
    first = Fraction(pages * n1, d1)
    second = (pages - first) * Fraction(n2, d2)
    left = pages - first - second
    w = Wording("fraction_of", lang, d1=d1, d2=d2, n1=n1, n2=n2, pages=pages, first=first, rest=pages - first,
                second=second, unread=left, **person(rng, lang))
    if second.denominator != 1:
        return None
    return Problem(w.text("book"), w.steps("book_steps"), w.code("book"), left)


def _fraction_arith(rng: random.Random, lang: str) -> Problem | None:
    d1, d2 = rng.choice((2, 4, 5, 10, 20, 25)), rng.choice((2, 4, 5, 10, 20, 25))
    n1, n2 = _proper(rng, d1), _proper(rng, d2)
    op = rng.choice("+-*")
    x, y = Fraction(n1, d1), Fraction(n2, d2)
    ans = {"+": x + y, "-": x - y, "*": x * y}[op]
    if ans == 0 or x == y or not exact(ans):
        return None
    w = Wording("fraction_arith", lang, d1=d1, d2=d2, n1=n1, n2=n2, x=x, y=y, ans=ans, op=op,
                sign={"+": "+", "-": "-", "*": "×"}[op])
    return Problem(w.pick(rng, "ask"), w.steps(), w.code(), ans)


def _linear(rng: random.Random, lang: str) -> Problem | None:
    kind = rng.randrange(4)
    x = Fraction(rng.randint(-12, 25) if kind < 2 else rng.randint(2, 40) if kind == 2 else rng.randint(2, 400))
    if kind == 3:
        s = 2 * int(x) + 1
        return _ask(rng, Wording("linear", lang, s=s, s1=s - 1, x=x, larger=x + 1), "consecutive", x + 1)
    a, b = rng.randint(2, 9), rng.randint(1, 30)
    c = a * x + b
    w = Wording("linear", lang, a=a, b=b, c=c, nb=-b, cb=c - b, x=x)
    if kind == 2:
        w.add(someone=rng.choice(word_lists()["people"]["en"])[0])  # drawn in both languages
        return _ask(rng, w, "guess", x)
    if kind == 0:
        form, steps = "one_side", w.steps("one_side_steps")
    else:
        k = rng.randint(1, a - 1)
        d = c - k * x
        w.add(k=k, d=d, ak=a - k, db=d - b)
        form, steps = "both_sides", w.steps("both_sides_steps") + ([w.text("divide_step")] if a - k > 1 else [])
    w.add(equation=w.text(form))
    return Problem(w.pick(rng, "solve"), steps, w.code(form), x)


def _rectangle(rng: random.Random, lang: str) -> Problem | None:
    w_, h = rng.randint(3, 40), rng.randint(2, 30)
    place = rng.choice(word_lists()["places"])
    per = 2 * (w_ + h)
    w = Wording("rectangle", lang, w=w_, h=h, area=w_ * h, per=per, place=place["en"], place_ru=place["ru"],
                pronoun=place["ru_pronoun"], whole=place["ru_whole"])
    kind = rng.randrange(4)
    if kind == 0:
        return Problem(w.text("intro") + w.text("area"), w.steps("area_steps"), w.code("area"), Fraction(w_ * h))
    if kind == 1:
        return Problem(w.text("intro") + w.text("perimeter"), [w.text("perimeter_step")], w.code("perimeter"),
                       Fraction(per))
    if kind == 2:
        c = _price(rng, lang, 2, 15)
        w.add(c=c, cost=per * c)
        return Problem(w.text("intro") + w.text("fence"), [w.text("perimeter_step"), w.text("fence_step")],
                       w.code("fence"), per * c)
    side = rng.choice((20, 25, 50))
    a, b = rng.randint(2, 8), rng.randint(2, 8)
    metres = Fraction(side, 100)
    count = a * b / metres ** 2
    w.add(side=side, a=a, b=b, ab=a * b, metres=metres, tile=metres ** 2, count=count)
    return _ask(rng, w, "tiles", count)


def _triangle(rng: random.Random, lang: str) -> Problem | None:
    if rng.random() < 0.5:
        base, height = rng.randint(2, 40), rng.randint(2, 30)
        area = Fraction(base * height, 2)
        return _ask(rng, Wording("triangle", lang, base=base, height=height, area=area), "area", area)
    a, b, c = (k * rng.randint(1, 6) for k in rng.choice(((3, 4, 5), (5, 12, 13), (8, 15, 17), (6, 8, 10))))
    if rng.random() < 0.5:
        a, b = b, a
    w = Wording("triangle", lang, a=a, b=b, c=c, squares=a * a + b * b, per=a + b + c)
    return _ask(rng, w, "right", a + b + c)


def _circle(rng: random.Random, lang: str) -> Problem | None:
    r = rng.randint(1, 60)
    w = Wording("circle", lang, r=r, pi=_PI, area=_PI * r * r)
    kind = rng.randrange(4)
    if kind == 0:
        thing = rng.choice(word_lists()["round_things"])
        w.add(thing=thing["en"], thing_gen=thing["ru_gen"], pronoun=thing["ru_pronoun"], unit=thing[f"unit_{lang}"])
        problem = _ask(rng, w, "area", _PI * r * r)
    elif kind == 1:
        w.add(length=2 * _PI * r)
        problem = _ask(rng, w, "circumference", 2 * _PI * r)
    elif kind == 2:
        w.add(d=2 * r)
        problem = _ask(rng, w, "table", _PI * r * r)
    else:
        laps = rng.randint(2, 12)
        lap = 2 * _PI * r * 10
        w.add(laps=laps, radius=r * 10, lap=lap, distance=laps * lap)
        problem = _ask(rng, w, "track", laps * lap)
    return Problem(problem.question + w.text("pi"), problem.steps, problem.program, problem.answer)


def _average(rng: random.Random, lang: str) -> Problem | None:
    scores = [rng.randint(50, 100) for _ in range(rng.randint(3, 5))]
    mean = Fraction(sum(scores), len(scores))
    w = Wording("average", lang, listed=", ".join(map(str, scores)), count=len(scores), count1=len(scores) + 1,
                added=" + ".join(map(str, scores)), total=sum(scores), mean=mean)
    if rng.random() < 0.5:
        return _ask(rng, w, "mean", mean) if exact(mean) else None
    target = rng.randint(int(mean) + 1, int(mean) + 8)
    need = target * (len(scores) + 1) - sum(scores)
    if need > 100:
        return None
    w.add(target=target, needed=target * (len(scores) + 1), need=need)
    return _ask(rng, w, "next", need)


def _ratio(rng: random.Random, lang: str) -> Problem | None:
    a, b = rng.sample(range(1, 10), 2)
    unit = rng.randint(2, 60) * 10
    total = (a + b) * unit
    (name1, *_), (name2, *_) = rng.sample(word_lists()["people"][lang], 2)
    w = Wording("ratio", lang, a=a, b=b, parts=a + b, unit=unit, total=total, share=b * unit, name1=name1,
                name2=name2)
    return Problem(w.text("ask"), w.steps(), w.code(), Fraction(b * unit))


def _interest(rng: random.Random, lang: str) -> Problem | None:
    principal = rng.randint(2, 100) * 500
    rate = rng.choice((2, 3, 4, 5, 6, 7, 8, 10, 12))
    years = rng.randint(2, 6)
    yearly = Fraction(principal * rate, 100)
    interest = yearly * years
    total = rng.random() < 0.5
    ans = principal + interest if total else interest
    w = Wording("interest", lang, principal=principal, rate=rate, years=years, yearly=yearly, interest=interest,
                ans=ans)
    ask = "total" if total else "earned"
    steps = [*w.steps(), w.text("total_step")] if total else w.steps()
    return Problem(w.text("intro") + w.text(ask), steps, [*w.code("program"), *w.code(ask)], ans)


def _expression(rng: random.Random, lang: str) -> Problem | None:
    a, b, c, d = rng.randint(2, 60), rng.randint(2, 60), rng.randint(2, 12), rng.randint(1, 200)
    if rng.random() < 0.5:
        w = Wording("expression", lang, a=a, b=b, c=c, d=d, s=a + b, m=(a + b) * c, ans=(a + b) * c - d)
        return _ask(rng, w, "compute", (a + b) * c - d)
    boxes, per, missing = rng.randint(3, 60), rng.choice((6, 8, 10, 12, 20, 24, 36)), rng.randint(1, 9)
    w = Wording("expression", lang, boxes=boxes, per=per, missing=missing, all=boxes * per, ans=boxes * per - missing)
    return _ask(rng, w, "pencils", boxes * per - missing)


def _duration(rng: random.Random, lang: str) -> Problem | None:
    h, m = rng.randint(1, 9), rng.randint(1, 59)
    if rng.random() < 0.5:
        event = rng.choice(word_lists()["events"])[lang]
        return _ask(rng, Wording("duration", lang, h=h, m=m, event=event, total=h * 60 + m), "minutes", h * 60 + m)
    n = rng.randint(2, 6)
    w = Wording("duration", lang, h=h, m=m, n=n, one=h * 60 + m, total=n * (h * 60 + m))
    return _ask(rng, w, "episodes", n * (h * 60 + m))


FAMILIES: tuple[Callable[[random.Random, str], Problem | None], ...] = (
    _shopping, _percent_of, _discount, _percent_change, _what_percent, _speed, _work, _unit_price, _fraction_of,
    _fraction_arith, _linear, _rectangle, _triangle, _circle, _average, _ratio, _interest, _expression, _duration,
)
