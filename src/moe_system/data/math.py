"""Math word-problem data in English and Russian: arithmetic, percentages, rates (speed, work, price per unit),
fractions, linear equations, areas and perimeters (π = 3.14, stated in the problem), averages, ratios and
interest, 1 to 4 steps, with exact answers (integers or at most two decimals).

The answer the math expert is taught to give: a short worked solution in the user's language, a ```python block
with a tiny program of assignments and arithmetic that ends with `answer = ...` (the expert's calculator tool
runs it), and a final `Answer: <number>` / `Ответ: <number>` line (always with a decimal point, so it parses the
same in both languages). Every item is checked: the calculator tool (`tools.calculator.safe_eval_program`) run
on its program gives its answer.

    moe data generate math --n 3000 --seed 0 -o math-train.jsonl
    moe data generate math --n 500 --seed 1000 --format eval -o math-eval.jsonl
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from moe_system.data.common import chat_example, collect, difficulty, item_id, ru_plural
from moe_system.tools.calculator import safe_eval_program

TASK = "math"
Num = Fraction | int

_EN_PEOPLE = (("Anna", "she"), ("Tom", "he"), ("Maria", "she"), ("David", "he"), ("Emma", "she"), ("Leo", "he"),
              ("Sophie", "she"), ("Jack", "he"), ("Olivia", "she"), ("Sam", "he"))
_RU_PEOPLE = (("Аня", "f", "Ани"), ("Миша", "m", "Миши"), ("Катя", "f", "Кати"), ("Дима", "m", "Димы"),
              ("Оля", "f", "Оли"), ("Саша", "m", "Саши"), ("Лена", "f", "Лены"), ("Петя", "m", "Пети"),
              ("Маша", "f", "Маши"), ("Игорь", "m", "Игоря"))  # name, gender, genitive
# en plural, ru accusative after a number (1, 2-4, 5+), ru heading for the worked solution
_GOODS = (("notebooks", ("тетрадь", "тетради", "тетрадей"), "Тетради"),
          ("pens", ("ручку", "ручки", "ручек"), "Ручки"),
          ("pencils", ("карандаш", "карандаша", "карандашей"), "Карандаши"),
          ("tickets", ("билет", "билета", "билетов"), "Билеты"),
          ("books", ("книгу", "книги", "книг"), "Книги"),
          ("bottles of juice", ("бутылку сока", "бутылки сока", "бутылок сока"), "Сок"),
          ("sandwiches", ("бутерброд", "бутерброда", "бутербродов"), "Бутерброды"),
          ("cups of coffee", ("чашку кофе", "чашки кофе", "чашек кофе"), "Кофе"),
          ("bags of apples", ("пакет яблок", "пакета яблок", "пакетов яблок"), "Яблоки"),
          ("chocolate bars", ("шоколадку", "шоколадки", "шоколадок"), "Шоколадки"))
# en, ru nominative, ru genitive ("цену куртки"), for discounts
_ITEMS = (("jacket", "Куртка", "куртки"), ("bicycle", "Велосипед", "велосипеда"), ("phone", "Телефон", "телефона"),
          ("backpack", "Рюкзак", "рюкзака"), ("lamp", "Лампа", "лампы"),
          ("pair of boots", "Пара ботинок", "пары ботинок"),
          ("coffee maker", "Кофеварка", "кофеварки"), ("tent", "Палатка", "палатки"))


@dataclass(frozen=True)
class _Problem:
    question: str
    steps: list[str]
    program: list[str]
    answer: Fraction


def _exact(x: Num, places: int = 2) -> bool:
    """True when `x` has at most `places` decimals."""
    return (Fraction(x) * 10 ** places).denominator == 1


def _dec(x: Num) -> str:
    """A short decimal: 12, 12.5, 0.25 (x must be a terminating decimal)."""
    x = Fraction(x)
    return format((Decimal(x.numerator) / Decimal(x.denominator)).normalize(), "f")


def _n(x: Num, lang: str) -> str:
    """A number as written in the text: a decimal comma in Russian."""
    return _dec(x) if lang == "en" else _dec(x).replace(".", ",")


def _money(x: Num, lang: str) -> str:
    """Russian "12,5 руб.", English "$12" or "$12.50"."""
    if lang == "ru":
        return f"{_n(x, lang)} руб."
    return f"${_dec(x)}" if Fraction(x).denominator == 1 else f"${float(x):.2f}"


def _g(gender: str, m: str, f: str) -> str:
    return f if gender in ("f", "she") else m


def _say(rng: random.Random, lang: str, en: tuple[str, ...], ru: tuple[str, ...]) -> str:
    return rng.choice(en if lang == "en" else ru)


def _price(rng: random.Random, lang: str, lo: int = 1, hi: int = 20) -> Fraction:
    if lang == "ru":
        return Fraction(rng.randint(lo, hi) * 10)
    return Fraction(rng.randint(lo * 4, hi * 4), 4)


# ----------------------------------------------------------------------------------------------- families


def _shopping(rng: random.Random, lang: str) -> _Problem | None:
    (pl1, ru1, head1), (pl2, ru2, head2) = rng.sample(_GOODS, 2)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    p, q = _price(rng, lang), _price(rng, lang)
    c1, c2 = a * p, b * q
    total = c1 + c2
    v1, v2 = pl1.split()[0], pl2.split()[0]
    if v1 == v2:
        return None
    if lang == "en":
        name, he = rng.choice(_EN_PEOPLE)
        g = he
        q_text = rng.choice((f"{name} buys {a} {pl1} at {_money(p, lang)} each and {b} {pl2} at "
                             f"{_money(q, lang)} each.",
                             f"At the store, {name} gets {a} {pl1} for {_money(p, lang)} each and {b} {pl2} for "
                             f"{_money(q, lang)} each."))
        steps = [f"{pl1.capitalize()}: {a} × {_n(p, lang)} = {_n(c1, lang)}.",
                 f"{pl2.capitalize()}: {b} × {_n(q, lang)} = {_n(c2, lang)}.",
                 f"Total: {_n(c1, lang)} + {_n(c2, lang)} = {_n(total, lang)}."]
    else:
        name, g, _ = rng.choice(_RU_PEOPLE)
        he = _g(g, "он", "она")
        q_text = rng.choice((f"{name} {_g(g, 'купил', 'купила')} {a} {ru_plural(a, ru1)} по {_money(p, lang)} и "
                             f"{b} {ru_plural(b, ru2)} по {_money(q, lang)}",
                             f"В магазине {name} {_g(g, 'взял', 'взяла')} {a} {ru_plural(a, ru1)} по {_money(p, lang)}"
                             f" и {b} {ru_plural(b, ru2)} по {_money(q, lang)}"))  # ends with "руб."
        steps = [f"{head1}: {a} × {_n(p, lang)} = {_n(c1, lang)} руб.",
                 f"{head2}: {b} × {_n(q, lang)} = {_n(c2, lang)} руб.",
                 f"Всего: {_n(c1, lang)} + {_n(c2, lang)} = {_n(total, lang)} руб."]
    program = [f"{v1} = {a} * {_dec(p)}", f"{v2} = {b} * {_dec(q)}", f"total = {v1} + {v2}"]
    if rng.random() < 0.5:
        bill = next(x for x in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if x > total)
        if lang == "en":
            q_text += f" {he.capitalize()} pays with a {_money(bill, lang)} bill. How much change does {he} get?"
            steps.append(f"Change: {bill} - {_n(total, lang)} = {_n(bill - total, lang)}.")
        else:
            q_text += (f" {he.capitalize()} {_g(g, 'дал', 'дала')} продавцу {bill} руб. Сколько сдачи "
                       f"{_g(g, 'он получил', 'она получила')}?")
            steps.append(f"Сдача: {bill} - {_n(total, lang)} = {_n(bill - total, lang)} руб.")
        return _Problem(q_text, steps, [*program, f"answer = {bill} - total"], bill - total)
    q_text += _say(rng, lang, (f" How much does {he} spend in total?", " What is the total cost?"),
                   (f" Сколько рублей {_g(g, 'он потратил', 'она потратила')}?", " Сколько стоила вся покупка?"))
    return _Problem(q_text, steps, [*program, "answer = total"], total)


def _percent_of(rng: random.Random, lang: str) -> _Problem | None:
    p = rng.choice((5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 80, 90))
    x = rng.randint(2, 120) * rng.choice((5, 10, 20))
    ans = Fraction(x * p, 100)
    if ans.denominator != 1:
        return None
    en = (f"What is {p}% of {x}?", f"A school has {x} students, and {p}% of them play a sport. How many students play "
          f"a sport?", f"A shop had {x} items in stock and sold {p}% of them. How many items were sold?",
          f"A survey asked {x} people and {p}% answered yes. How many people answered yes?")
    ru = (f"Найдите {p}% от числа {x}.", f"В школе {x} {ru_plural(x, ('ученик', 'ученика', 'учеников'))}, {p}% из "
          f"них занимаются спортом. Сколько учеников занимаются спортом?",
          f"На складе было {x} {ru_plural(x, ('товар', 'товара', 'товаров'))}, продали {p}% из них. Сколько товаров "
          "продали?", f"В опросе {ru_plural(x, ('участвовал', 'участвовали', 'участвовали'))} {x} "
          f"{ru_plural(x, ('человек', 'человека', 'человек'))}, {p}% ответили «да». Сколько человек ответили «да»?")
    step = {"en": f"{p}% of {x} = {x} × {p} / 100 = {_n(ans, lang)}.",
            "ru": f"{p}% от {x} = {x} × {p} / 100 = {_n(ans, lang)}."}[lang]
    return _Problem(_say(rng, lang, en, ru), [step], [f"answer = {x} * {p} / 100"], ans)




def _discount(rng: random.Random, lang: str) -> _Problem | None:
    en_item, ru_item, ru_gen = rng.choice(_ITEMS)
    price = Fraction(rng.randint(4, 200) * 10)
    d = rng.choice((10, 15, 20, 25, 30, 40, 50))
    cut = price * d / 100
    sale = price - cut
    k = rng.choice((1, 1, 2, 3, 4, 5))
    if lang == "en":
        q = f"A {en_item} costs {_money(price, lang)}. In a sale its price is reduced by {d}%. "
        q += "What is the sale price?" if k == 1 else f"How much do {k} of them cost at the sale price?"
        steps = [f"Discount: {_n(price, lang)} × {d} / 100 = {_n(cut, lang)}.",
                 f"Sale price: {_n(price, lang)} - {_n(cut, lang)} = {_n(sale, lang)}."]
        if k > 1:
            steps.append(f"{k} items: {k} × {_n(sale, lang)} = {_n(k * sale, lang)}.")
    else:
        q = f"{ru_item} стоит {_money(price, lang)} На распродаже цену {ru_gen} снизили на {d}%. "
        q += f"Какой стала цена {ru_gen}?" if k == 1 else f"Сколько заплатят за {k} шт. по новой цене?"
        steps = [f"Скидка: {_n(price, lang)} × {d} / 100 = {_n(cut, lang)} руб.",
                 f"Новая цена: {_n(price, lang)} - {_n(cut, lang)} = {_n(sale, lang)} руб."]
        if k > 1:
            steps.append(f"За {k} шт.: {k} × {_n(sale, lang)} = {_n(k * sale, lang)} руб.")
    program = [f"discount = {_dec(price)} * {d} / 100", f"sale_price = {_dec(price)} - discount",
               "answer = sale_price" if k == 1 else f"answer = {k} * sale_price"]
    return _Problem(q, steps, program, k * sale)


def _percent_change(rng: random.Random, lang: str) -> _Problem | None:
    d = rng.choice((2, 3, 4, 5, 8, 10, 12, 15, 20, 25, 30))
    up = rng.random() < 0.6
    kind = rng.randrange(3)
    base = Fraction(rng.randint(10, 300) * (100 if kind == 0 else 10))
    delta = base * d / 100
    new = base + delta if up else base - delta
    if not _exact(new) or (kind == 1 and new.denominator != 1):  # people are whole
        return None
    if lang == "en":
        name, _ = rng.choice(_EN_PEOPLE)
        q = (f"{name}'s monthly salary was {_money(base, lang)}. It was {'raised' if up else 'cut'} by {d}%. "
             "What is the new salary?",
             f"A town had {_dec(base)} inhabitants. Over a year the population {'grew' if up else 'fell'} by {d}%. "
             "What is the population now?",
             f"A used car cost {_money(base, lang)}. Its price {'went up' if up else 'went down'} by {d}%. "
             "What is the new price?")[kind]
        steps = [f"{'Increase' if up else 'Decrease'}: {_n(base, lang)} × {d} / 100 = {_n(delta, lang)}.",
                 f"New value: {_n(base, lang)} {'+' if up else '-'} {_n(delta, lang)} = {_n(new, lang)}."]
    else:
        name_gen = rng.choice(_RU_PEOPLE)[2]
        q = (f"Зарплата {name_gen} составляла {_money(base, lang)} в месяц. Её "
             f"{'повысили' if up else 'понизили'} на {d}%. Какой стала зарплата?",
             f"В городе жили {_dec(base)} человек. За год население {'выросло' if up else 'уменьшилось'} на {d}%. "
             "Сколько человек живёт в городе теперь?",
             f"Подержанный автомобиль стоил {_money(base, lang)} Его цена {'выросла' if up else 'снизилась'} на {d}%. "
             "Какой стала цена?")[kind]
        steps = [f"{'Прибавка' if up else 'Снижение'}: {_n(base, lang)} × {d} / 100 = {_n(delta, lang)}.",
                 f"Новое значение: {_n(base, lang)} {'+' if up else '-'} {_n(delta, lang)} = {_n(new, lang)}."]
    program = [f"change = {_dec(base)} * {d} / 100", f"answer = {_dec(base)} {'+' if up else '-'} change"]
    return _Problem(q, steps, program, new)


def _what_percent(rng: random.Random, lang: str) -> _Problem | None:
    b = rng.choice((20, 25, 40, 50, 80, 200, 250, 400, 500, 30, 60, 120))
    a = rng.randint(1, b - 1)
    ans = Fraction(100 * a, b)
    if not _exact(ans, 1):
        return None
    q = _say(rng, lang, (f"{a} of the {b} students in a school passed the exam. What percentage of the students "
                         "passed?",
                         f"A basketball player took {b} shots and scored {a}. What percent of the shots did he score?",
                         f"Out of {b} seedlings, {a} sprouted. What percentage sprouted?"),
             (f"Из {b} учеников школы экзамен сдали {a}. Какой процент учеников сдал экзамен?",
              f"Баскетболист сделал {b} бросков и попал {a} {ru_plural(a, ('раз', 'раза', 'раз'))}. Какой процент "
              "бросков оказался точным?",
              f"Из {b} семян взошли {a}. Какой процент семян взошёл?"))
    step = f"{a} / {b} × 100 = {_n(ans, lang)}%."
    return _Problem(q, [step], [f"answer = {a} / {b} * 100"], ans)


def _speed(rng: random.Random, lang: str) -> _Problem | None:
    kind = rng.randrange(4)
    if kind == 0:
        t = rng.choice((2, 3, 4, 5, Fraction(3, 2), Fraction(5, 2)))
        v = rng.randint(8, 24) * 5
        d = v * t
        q = _say(rng, lang, (f"A car travels {_n(d, lang)} km in {_n(t, lang)} hours. What is its average speed "
                             "in km/h?",
                             f"A train covered {_n(d, lang)} km in {_n(t, lang)} hours. Find its average speed "
                             "in km/h."),
                 (f"Автомобиль проехал {_n(d, lang)} км за {_n(t, lang)} ч. Какова его средняя скорость в км/ч?",
                  f"Поезд прошёл {_n(d, lang)} км за {_n(t, lang)} ч. Найдите его среднюю скорость в км/ч."))
        step = {"en": f"Speed = distance / time = {_n(d, lang)} / {_n(t, lang)} = {v} km/h.",
                "ru": f"Скорость = расстояние / время = {_n(d, lang)} / {_n(t, lang)} = {v} км/ч."}[lang]
        return _Problem(q, [step], [f"answer = {_dec(d)} / {_dec(t)}"], Fraction(v))
    if kind == 1:
        v = rng.randint(10, 30)
        d = v * Fraction(rng.randint(2, 40), 4)
        t = d / v
        if not _exact(d, 1):
            return None
        q = _say(rng, lang, (f"A cyclist rides at {v} km/h. How many hours does it take to ride {_n(d, lang)} km?",),
                 (f"Велосипедист едет со скоростью {v} км/ч. За сколько часов он проедет {_n(d, lang)} км?",))
        step = {"en": f"Time = distance / speed = {_n(d, lang)} / {v} = {_n(t, lang)} h.",
                "ru": f"Время = расстояние / скорость = {_n(d, lang)} / {v} = {_n(t, lang)} ч."}[lang]
        return _Problem(q, [step], [f"answer = {_dec(d)} / {v}"], t)
    if kind == 2:
        t1, t2 = rng.randint(1, 4), rng.randint(1, 4)
        v1, v2 = rng.randint(8, 20) * 5, rng.randint(8, 20) * 5
        d1, d2 = v1 * t1, v2 * t2
        avg = Fraction(d1 + d2, t1 + t2)
        if not _exact(avg):
            return None
        q = _say(rng, lang, (f"A bus travels {d1} km in {t1} h, then another {d2} km in {t2} h. What is its average "
                             "speed for the whole trip in km/h?",),
                 (f"Автобус проехал {d1} км за {t1} ч, а затем ещё {d2} км за {t2} ч. Какова его средняя скорость на "
                  "всём пути в км/ч?",))
        steps = {"en": [f"Total distance: {d1} + {d2} = {d1 + d2} km.", f"Total time: {t1} + {t2} = {t1 + t2} h.",
                        f"Average speed: {d1 + d2} / {t1 + t2} = {_n(avg, lang)} km/h."],
                 "ru": [f"Весь путь: {d1} + {d2} = {d1 + d2} км.", f"Всё время: {t1} + {t2} = {t1 + t2} ч.",
                        f"Средняя скорость: {d1 + d2} / {t1 + t2} = {_n(avg, lang)} км/ч."]}[lang]
        return _Problem(q, steps, [f"distance = {d1} + {d2}", f"time = {t1} + {t2}", "answer = distance / time"], avg)
    v1, v2, t = rng.randint(6, 20) * 5, rng.randint(6, 20) * 5, rng.choice((2, 3, 4, Fraction(1, 2), Fraction(3, 2)))
    gap = (v1 + v2) * t
    q = _say(rng, lang, (f"Two cars leave the same town at the same time in opposite directions, at {v1} km/h and "
                         f"{v2} km/h. How far apart are they after {_n(t, lang)} hours (in km)?",),
             (f"Два автомобиля одновременно выехали из одного города в противоположных направлениях со скоростями "
              f"{v1} км/ч и {v2} км/ч. Какое расстояние (в км) будет между ними через {_n(t, lang)} ч?",))
    steps = {"en": [f"They move apart at {v1} + {v2} = {v1 + v2} km/h.",
                    f"Distance: {v1 + v2} × {_n(t, lang)} = {_n(gap, lang)} km."],
             "ru": [f"Скорость удаления: {v1} + {v2} = {v1 + v2} км/ч.",
                    f"Расстояние: {v1 + v2} × {_n(t, lang)} = {_n(gap, lang)} км."]}[lang]
    return _Problem(q, steps, [f"speed = {v1} + {v2}", f"answer = speed * {_dec(t)}"], gap)


def _work(rng: random.Random, lang: str) -> _Problem | None:
    kind = rng.randrange(4)
    if kind == 0:
        r = rng.randint(5, 40)
        n = r * rng.randint(3, 60)
        t = Fraction(n, r)
        q = _say(rng, lang, (f"A printer prints {r} pages per minute. How many minutes does it need to print {n} "
                             "pages?",),
                 (f"Принтер печатает {r} {ru_plural(r, ('страницу', 'страницы', 'страниц'))} в минуту. Сколько минут "
                  f"ему нужно, чтобы напечатать {n} {ru_plural(n, ('страницу', 'страницы', 'страниц'))}?",))
        step = {"en": f"Time: {n} / {r} = {_n(t, lang)} min.", "ru": f"Время: {n} / {r} = {_n(t, lang)} мин."}[lang]
        return _Problem(q, [step], [f"answer = {n} / {r}"], t)
    if kind == 1:
        a, b = rng.randint(5, 40), rng.randint(5, 40)
        v = (a + b) * rng.randint(5, 60)
        t = Fraction(v, a + b)
        q = _say(rng, lang, (f"Two pipes fill a pool: the first gives {a} liters per minute and the second {b} "
                             "liters per "
                             f"minute. How many minutes will it take to fill a {v}-liter pool with both pipes open?",),
                 (f"Бассейн наполняют две трубы: первая даёт {a} л в минуту, вторая — {b} л в минуту. За сколько "
                  f"минут наполнится бассейн объёмом {v} л, если открыть обе трубы?",))
        steps = {"en": [f"Together: {a} + {b} = {a + b} liters per minute.", f"Time: {v} / {a + b} = {t} min."],
                 "ru": [f"Вместе: {a} + {b} = {a + b} л в минуту.", f"Время: {v} / {a + b} = {t} мин."]}[lang]
        return _Problem(q, steps, [f"rate = {a} + {b}", f"answer = {v} / rate"], t)
    if kind == 2:
        r, h, d = rng.randint(5, 60), rng.randint(4, 10), rng.randint(2, 10)
        total = r * h * d
        q = _say(rng, lang, (f"A worker makes {r} parts per hour and works {h} hours a day. How many parts does "
                             "he make "
                             f"in {d} days?",),
                 (f"Рабочий делает {r} {ru_plural(r, ('деталь', 'детали', 'деталей'))} в час и работает {h} "
                  f"{ru_plural(h, ('час', 'часа', 'часов'))} в день. Сколько деталей он сделает за {d} "
                  f"{ru_plural(d, ('день', 'дня', 'дней'))}?",))
        steps = {"en": [f"Per day: {r} × {h} = {r * h} parts.", f"In {d} days: {r * h} × {d} = {total} parts."],
                 "ru": [f"За день: {r} × {h} = {r * h}.", f"За {d} дн.: {r * h} × {d} = {total}."]}[lang]
        return _Problem(q, steps, [f"per_day = {r} * {h}", f"answer = per_day * {d}"], Fraction(total))
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    t = Fraction(a * b, a + b)
    if not _exact(t, 1):
        return None
    q = _say(rng, lang, (f"One worker can paint a fence in {a} hours, and another can paint it in {b} hours. How many "
                         "hours will it take them working together?",),
             (f"Один маляр может покрасить забор за {a} ч, а другой — за {b} ч. За сколько часов они покрасят забор, "
              "работая вместе?",))
    steps = {"en": [f"Together they paint 1/{a} + 1/{b} = {Fraction(a + b, a * b)} of the fence per hour.",
                    f"Time: 1 / ({Fraction(a + b, a * b)}) = {_n(t, lang)} h."],
             "ru": [f"Вместе за час они красят 1/{a} + 1/{b} = {Fraction(a + b, a * b)} забора.",
                    f"Время: 1 / ({Fraction(a + b, a * b)}) = {_n(t, lang)} ч."]}[lang]
    return _Problem(q, steps, [f"rate = 1 / {a} + 1 / {b}", "answer = 1 / rate"], t)


def _unit_price(rng: random.Random, lang: str) -> _Problem | None:
    unit = _price(rng, lang, 1, 12)
    a, b = rng.sample(range(2, 13), 2)
    cost, ans = a * unit, b * unit
    what_en, what_ru = rng.choice((("kg of apples", "кг яблок"), ("kg of cheese", "кг сыра"),
                                   ("m of fabric", "м ткани"),
                                   ("liters of paint", "л краски"), ("kg of rice", "кг риса")))
    q = _say(rng, lang, (f"{a} {what_en} cost {_money(cost, lang)}. How much do {b} {what_en} cost?",
                         f"If {a} {what_en} cost {_money(cost, lang)}, what is the price of {b} {what_en}?"),
             (f"{a} {what_ru} стоят {_money(cost, lang)} Сколько стоят {b} {what_ru}?",
              f"За {a} {what_ru} заплатили {_money(cost, lang)} Сколько нужно заплатить за {b} {what_ru}?"))
    first = what_en.split()[0]
    steps = {"en": [f"Price of 1 {first}: {_n(cost, lang)} / {a} = {_n(unit, lang)}.",
                    f"{b} {first}: {b} × {_n(unit, lang)} = {_n(ans, lang)}."],
             "ru": [f"Цена за 1 {what_ru.split()[0]}: {_n(cost, lang)} / {a} = {_n(unit, lang)} руб.",
                    f"За {b} {what_ru.split()[0]}: {b} × {_n(unit, lang)} = {_n(ans, lang)} руб."]}[lang]
    return _Problem(q, steps, [f"unit_price = {_dec(cost)} / {a}", f"answer = {b} * unit_price"], ans)


def _proper(rng: random.Random, den: int) -> int:
    """A numerator that makes num/den a proper fraction in lowest terms."""
    return rng.choice([k for k in range(1, den) if math.gcd(k, den) == 1])


def _fraction_of(rng: random.Random, lang: str) -> _Problem | None:
    if rng.random() < 0.5:
        den = rng.choice((2, 3, 4, 5, 8, 10))
        num = _proper(rng, den)
        v = den * rng.randint(4, 60)
        filled = Fraction(v * num, den)
        used = rng.randint(1, int(filled))
        if rng.random() < 0.5:
            q = _say(rng, lang, (f"A tank holds {v} liters and is {num}/{den} full. How many liters of water are "
                                 "in it?",),
                     (f"Бак вмещает {v} л и заполнен на {num}/{den}. Сколько литров воды в баке?",))
            step = f"{v} × {num}/{den} = {filled}" + (" L." if lang == "en" else " л.")
            return _Problem(q, [step], [f"answer = {v} * {num} / {den}"], filled)
        q = _say(rng, lang, (f"A tank holds {v} liters and is {num}/{den} full. Then {used} liters are used. How many "
                             "liters are left?",),
                 (f"Бак вмещает {v} л и заполнен на {num}/{den}. Потом израсходовали {used} л. Сколько литров "
                  "осталось?",))
        steps = [f"{v} × {num}/{den} = {filled}" + (" L." if lang == "en" else " л."),
                 f"{filled} - {used} = {filled - used}" + (" L." if lang == "en" else " л.")]
        return _Problem(q, steps, [f"water = {v} * {num} / {den}", f"answer = water - {used}"], filled - used)
    d1, d2 = rng.choice((3, 4, 5)), rng.choice((2, 3, 4))
    n1, n2 = _proper(rng, d1), _proper(rng, d2)
    pages = d1 * d2 * rng.randint(3, 20)
    first = Fraction(pages * n1, d1)
    second = (pages - first) * Fraction(n2, d2)
    left = pages - first - second
    if lang == "en":
        name, _ = rng.choice(_EN_PEOPLE)
        q = (f"A book has {pages} pages. On Monday {name} read {n1}/{d1} of the book, and on Tuesday {n2}/{d2} of the "
             "remaining pages. How many pages are still unread?")
        steps = [f"Monday: {pages} × {n1}/{d1} = {first} pages.", f"Left: {pages} - {first} = {pages - first}.",
                 f"Tuesday: {pages - first} × {n2}/{d2} = {second}.", f"Unread: {pages - first} - {second} = {left}."]
    else:
        name, g, _ = rng.choice(_RU_PEOPLE)
        q = (f"В книге {pages} {ru_plural(pages, ('страница', 'страницы', 'страниц'))}. В понедельник {name} "
             f"{_g(g, 'прочитал', 'прочитала')} {n1}/{d1} книги, а во вторник — {n2}/{d2} оставшихся страниц. "
             "Сколько страниц осталось прочитать?")
        steps = [f"Понедельник: {pages} × {n1}/{d1} = {first} стр.", f"Осталось: {pages} - {first} = {pages - first}.",
                 f"Вторник: {pages - first} × {n2}/{d2} = {second}.",
                 f"Не прочитано: {pages - first} - {second} = {left}."]
    if second.denominator != 1:
        return None
    program = [f"monday = {pages} * {n1} / {d1}", f"rest = {pages} - monday", f"tuesday = rest * {n2} / {d2}",
               "answer = rest - tuesday"]
    return _Problem(q, steps, program, left)


def _fraction_arith(rng: random.Random, lang: str) -> _Problem | None:
    d1, d2 = rng.choice((2, 4, 5, 10, 20, 25)), rng.choice((2, 4, 5, 10, 20, 25))
    n1, n2 = _proper(rng, d1), _proper(rng, d2)
    op = rng.choice("+-*")
    x, y = Fraction(n1, d1), Fraction(n2, d2)
    ans = {"+": x + y, "-": x - y, "*": x * y}[op]
    if ans == 0 or x == y:
        return None
    if not _exact(ans):
        return None
    sign = {"+": "+", "-": "-", "*": "×"}[op]
    q = _say(rng, lang, (f"Compute {n1}/{d1} {sign} {n2}/{d2}. Give the answer as a decimal.",
                         f"What is {n1}/{d1} {sign} {n2}/{d2}? Write the result as a decimal number."),
             (f"Вычислите {n1}/{d1} {sign} {n2}/{d2}. Ответ запишите десятичной дробью.",
              f"Найдите значение выражения {n1}/{d1} {sign} {n2}/{d2} и запишите его десятичной дробью."))
    steps = [f"{n1}/{d1} = {_n(x, lang)}, {n2}/{d2} = {_n(y, lang)}.", f"{_n(x, lang)} {sign} {_n(y, lang)} = "
             f"{_n(ans, lang)}."]
    return _Problem(q, steps, [f"answer = {n1} / {d1} {op} {n2} / {d2}"], ans)


def _signed(x: Num, lang: str) -> str:
    return f"- {_n(-x, lang)}" if x < 0 else f"+ {_n(x, lang)}"


def _times_x(k: int) -> str:
    return "x" if k == 1 else f"{k}x"


def _linear(rng: random.Random, lang: str) -> _Problem | None:
    kind = rng.randrange(4)
    x = Fraction(rng.randint(-12, 25) if kind < 2 else rng.randint(2, 40) if kind == 2 else rng.randint(2, 400))
    if kind == 3:
        s = 2 * int(x) + 1
        q = _say(rng, lang, (f"The sum of two consecutive integers is {s}. What is the larger of them?",),
                 (f"Сумма двух последовательных целых чисел равна {s}. Найдите большее из них.",))
        steps = {"en": [f"If the smaller is n, then n + (n + 1) = {s}, so 2n = {s - 1} and n = {x}.",
                        f"The larger is {x} + 1 = {x + 1}."],
                 "ru": [f"Если меньшее n, то n + (n + 1) = {s}, значит 2n = {s - 1} и n = {x}.",
                        f"Большее: {x} + 1 = {x + 1}."]}[lang]
        return _Problem(q, steps, [f"smaller = ({s} - 1) / 2", "answer = smaller + 1"], x + 1)
    a, b = rng.randint(2, 9), rng.randint(1, 30)
    c = a * x + b
    if kind == 2:
        q = _say(rng, lang, (f"I think of a number, multiply it by {a} and add {b}. The result is {c}. What is my "
                             "number?",
                             f"{rng.choice(_EN_PEOPLE)[0]} multiplied a number by {a} and then added {b}, getting {c}. "
                             "What was the number?"),
                 (f"Я задумал число, умножил его на {a} и прибавил {b}, получилось {c}. Какое число я задумал?",
                  f"Задуманное число умножили на {a}, затем прибавили {b} и получили {c}. Найдите задуманное число."))
        steps = {"en": [f"Undo the addition: {c} - {b} = {c - b}.", f"Undo the multiplication: {c - b} / {a} = {x}."],
                 "ru": [f"Убираем прибавление: {c} - {b} = {c - b}.", f"Убираем умножение: {c - b} / {a} = {x}."]}[lang]
        return _Problem(q, steps, [f"answer = ({c} - {b}) / {a}"], x)
    if kind == 0:
        eq = f"{a}x {_signed(b, lang)} = {_n(c, lang)}"
        steps = [f"{a}x = {_n(c, lang)} {_signed(-b, lang)} = {_n(c - b, lang)}.", f"x = {_n(c - b, lang)} / {a} = "
                 f"{_n(x, lang)}."]
        program = [f"answer = ({_dec(c)} - {b}) / {a}"]
    else:
        k = rng.randint(1, a - 1)
        d = c - k * x
        eq = f"{_times_x(a)} {_signed(b, lang)} = {_times_x(k)} {_signed(d, lang)}"
        so = {"en": "so", "ru": "значит"}[lang]
        steps = [f"{_times_x(a)} - {_times_x(k)} = {_n(d, lang)} {_signed(-b, lang)}, {so} {_times_x(a - k)} = "
                 f"{_n(d - b, lang)}."]
        if a - k > 1:
            steps.append(f"x = {_n(d - b, lang)} / {a - k} = {_n(x, lang)}.")
        program = [f"answer = ({_dec(d)} - {b}) / ({a} - {k})"]
    q = _say(rng, lang, (f"Solve for x: {eq}.", f"Find x if {eq}."), (f"Решите уравнение: {eq}.", f"Найдите x: {eq}."))
    return _Problem(q, steps, program, x)


_PI = Fraction(157, 50)  # 3.14, the value every circle problem states


# en place, ru "rectangular place", ru pronoun, ru "the whole place" (accusative)
_PLACES = (("garden", "Прямоугольный сад", "его", "весь сад"), ("field", "Прямоугольное поле", "его", "всё поле"),
           ("yard", "Прямоугольный двор", "его", "весь двор"), ("plot of land", "Прямоугольный участок", "его",
                                                                  "весь участок"),
           ("playground", "Прямоугольная площадка", "её", "всю площадку"))


def _rectangle(rng: random.Random, lang: str) -> _Problem | None:
    w, h = rng.randint(3, 40), rng.randint(2, 30)
    place, ru_place, pronoun, whole = rng.choice(_PLACES)
    intro = {"en": f"A rectangular {place} is {w} m long and {h} m wide.",
             "ru": f"{ru_place} имеет длину {w} м и ширину {h} м."}[lang]
    area, per = w * h, 2 * (w + h)
    perimeter_step = {"en": f"Perimeter: 2 × ({w} + {h}) = {per} m.", "ru": f"Периметр: 2 × ({w} + {h}) = {per} м."}
    kind = rng.randrange(4)
    if kind == 0:
        q = intro + {"en": " What is its area in square meters?", "ru": f" Найдите {pronoun} площадь в м²."}[lang]
        step = {"en": f"Area: {w} × {h} = {area} m².", "ru": f"Площадь: {w} × {h} = {area} м²."}[lang]
        return _Problem(q, [step], [f"answer = {w} * {h}"], Fraction(area))
    if kind == 1:
        q = intro + {"en": " What is its perimeter in meters?", "ru": f" Найдите {pronoun} периметр в метрах."}[lang]
        return _Problem(q, [perimeter_step[lang]], [f"answer = 2 * ({w} + {h})"], Fraction(per))
    if kind == 2:
        c = _price(rng, lang, 2, 15)
        q = intro + {"en": f" A fence costs {_money(c, lang)} per meter. How much does it cost to fence the whole "
                           f"{place}?",
                     "ru": f" Метр забора стоит {_money(c, lang)} Сколько стоит огородить {whole}?"}[lang]
        cost_step = {"en": f"Cost: {per} × {_n(c, lang)} = {_n(per * c, lang)}.",
                     "ru": f"Стоимость: {per} × {_n(c, lang)} = {_n(per * c, lang)} руб."}[lang]
        return _Problem(q, [perimeter_step[lang], cost_step],
                        [f"perimeter = 2 * ({w} + {h})", f"answer = perimeter * {_dec(c)}"], per * c)
    side = rng.choice((20, 25, 50))
    a, b = rng.randint(2, 8), rng.randint(2, 8)
    metres = Fraction(side, 100)
    tile = metres ** 2
    count = a * b / tile
    q = _say(rng, lang, (f"A room is {a} m long and {b} m wide. How many square tiles with a side of {side} cm are "
                         "needed to cover the floor?",),
             (f"Комната имеет длину {a} м и ширину {b} м. Сколько квадратных плиток со стороной {side} см нужно, "
              "чтобы покрыть пол?",))
    m2 = {"en": "m²", "ru": "м²"}[lang]
    steps = [{"en": "Floor area", "ru": "Площадь пола"}[lang] + f": {a} × {b} = {a * b} {m2}.",
             {"en": "One tile", "ru": "Одна плитка"}[lang] + f": {_n(metres, lang)} × {_n(metres, lang)} = "
             f"{_n(tile, lang)} {m2}.",
             {"en": "Tiles", "ru": "Плиток"}[lang] + f": {a * b} / {_n(tile, lang)} = {count}."]
    program = [f"room = {a} * {b}", f"tile = {_dec(metres)} * {_dec(metres)}", "answer = room / tile"]
    return _Problem(q, steps, program, count)


def _triangle(rng: random.Random, lang: str) -> _Problem | None:
    if rng.random() < 0.5:
        base, height = rng.randint(2, 40), rng.randint(2, 30)
        area = Fraction(base * height, 2)
        q = _say(rng, lang, (f"A triangle has a base of {base} cm and a height of {height} cm. What is its area "
                             "in cm²?",
                             f"Find the area of a triangle with base {base} cm and height {height} cm (in cm²)."),
                 (f"Основание треугольника {base} см, высота {height} см. Найдите его площадь в см².",
                  f"Найдите площадь треугольника с основанием {base} см и высотой {height} см (в см²)."))
        step = {"en": "Area", "ru": "Площадь"}[lang] + f" = {base} × {height} / 2 = {_n(area, lang)}."
        return _Problem(q, [step], [f"answer = {base} * {height} / 2"], area)
    a, b, c = (k * rng.randint(1, 6) for k in rng.choice(((3, 4, 5), (5, 12, 13), (8, 15, 17), (6, 8, 10))))
    if rng.random() < 0.5:
        a, b = b, a
    q = _say(rng, lang, (f"The legs of a right triangle are {a} cm and {b} cm. What is its perimeter in cm?",),
             (f"Катеты прямоугольного треугольника равны {a} см и {b} см. Найдите его периметр в см.",))
    steps = {"en": [f"Hypotenuse: √({a}² + {b}²) = √{a * a + b * b} = {c} cm.", f"Perimeter: {a} + {b} + {c} = "
                    f"{a + b + c} cm."],
             "ru": [f"Гипотенуза: √({a}² + {b}²) = √{a * a + b * b} = {c} см.", f"Периметр: {a} + {b} + {c} = "
                    f"{a + b + c} см."]}[lang]
    return _Problem(q, steps, [f"hypotenuse = ({a} ** 2 + {b} ** 2) ** 0.5", f"answer = {a} + {b} + hypotenuse"],
                    Fraction(a + b + c))


# en noun, ru genitive, ru pronoun, unit (en, ru)
_ROUND = (("circle", "круга", "его", "cm", "см"), ("round flower bed", "круглой клумбы", "её", "m", "м"),
          ("circular pond", "круглого пруда", "его", "m", "м"), ("round rug", "круглого ковра", "его", "dm", "дм"),
          ("round pizza", "круглой пиццы", "её", "cm", "см"))


def _circle(rng: random.Random, lang: str) -> _Problem | None:
    r = rng.randint(1, 60)
    pi = {"en": " Use π = 3.14.", "ru": " Считайте π = 3,14."}[lang]
    kind = rng.randrange(4)
    if kind == 0:
        area = _PI * r * r
        thing, ru_gen, pronoun, unit_en, unit_ru = rng.choice(_ROUND)
        q = _say(rng, lang, (f"A {thing} has a radius of {r} {unit_en}. What is its area in {unit_en}²?",),
                 (f"Радиус {ru_gen} {r} {unit_ru}. Найдите {pronoun} площадь в {unit_ru}².",)) + pi
        step = {"en": "Area", "ru": "Площадь"}[lang] + f" = {_n(_PI, lang)} × {r}² = {_n(area, lang)}."
        return _Problem(q, [step], [f"answer = 3.14 * {r} ** 2"], area)
    if kind == 1:
        length = 2 * _PI * r
        q = _say(rng, lang, (f"What is the circumference of a circle with a radius of {r} m?",),
                 (f"Найдите длину окружности радиусом {r} м.",)) + pi
        step = {"en": "Circumference", "ru": "Длина"}[lang] + f" = 2 × {_n(_PI, lang)} × {r} = {_n(length, lang)}."
        return _Problem(q, [step], [f"answer = 2 * 3.14 * {r}"], length)
    if kind == 2:
        d = 2 * r
        area = _PI * r * r
        q = _say(rng, lang, (f"A round table has a diameter of {d} dm. What is the area of the tabletop in dm²?",),
                 (f"Диаметр круглого стола {d} дм. Найдите площадь столешницы в дм².",)) + pi
        steps = [{"en": "Radius", "ru": "Радиус"}[lang] + f": {d} / 2 = {r}.",
                 {"en": "Area", "ru": "Площадь"}[lang] + f" = {_n(_PI, lang)} × {r}² = {_n(area, lang)}."]
        return _Problem(q, steps, [f"radius = {d} / 2", "answer = 3.14 * radius ** 2"], area)
    laps = rng.randint(2, 12)
    lap = 2 * _PI * r * 10
    q = _say(rng, lang, (f"A runner runs {laps} laps around a circular track with a radius of {r * 10} m. How many "
                         "meters does the runner cover?",),
             (f"Бегун пробежал {laps} {ru_plural(laps, ('круг', 'круга', 'кругов'))} по круговой дорожке радиусом "
              f"{r * 10} м. Сколько метров он пробежал?",)) + pi
    steps = [{"en": "One lap", "ru": "Один круг"}[lang] + f": 2 × {_n(_PI, lang)} × {r * 10} = {_n(lap, lang)}.",
             {"en": "All laps", "ru": "Все круги"}[lang] + f": {laps} × {_n(lap, lang)} = {_n(laps * lap, lang)}."]
    return _Problem(q, steps, [f"lap = 2 * 3.14 * {r * 10}", f"answer = {laps} * lap"], laps * lap)


def _average(rng: random.Random, lang: str) -> _Problem | None:
    scores = [rng.randint(50, 100) for _ in range(rng.randint(3, 5))]
    mean = Fraction(sum(scores), len(scores))
    listed = ", ".join(map(str, scores))
    if rng.random() < 0.5:
        if not _exact(mean):
            return None
        q = _say(rng, lang, (f"A student scored {listed} on {len(scores)} tests. What is the average score?",),
                 (f"Ученик получил за {len(scores)} теста баллы {listed}. Найдите средний балл." if len(scores) < 5
                  else f"Ученик получил за {len(scores)} тестов баллы {listed}. Найдите средний балл.",))
        steps = [{"en": "Sum", "ru": "Сумма"}[lang] + f": {' + '.join(map(str, scores))} = {sum(scores)}.",
                 {"en": "Average", "ru": "Среднее"}[lang] + f": {sum(scores)} / {len(scores)} = {_n(mean, lang)}."]
        return _Problem(q, steps, [f"total = {' + '.join(map(str, scores))}", f"answer = total / {len(scores)}"], mean)
    target = rng.randint(int(mean) + 1, int(mean) + 8)
    need = target * (len(scores) + 1) - sum(scores)
    if need > 100:
        return None
    q = _say(rng, lang, (f"A student scored {listed} on the first {len(scores)} tests. What score does the "
                         "student need "
                         f"on the next test to have an average of {target}?",),
             (f"За первые тесты ученик получил баллы {listed}. Сколько баллов ему нужно набрать на следующем тесте, "
              f"чтобы средний балл стал {target}?",))
    steps = {"en": [f"Needed total: {target} × {len(scores) + 1} = {target * (len(scores) + 1)}.",
                    f"Current total: {' + '.join(map(str, scores))} = {sum(scores)}.",
                    f"Next score: {target * (len(scores) + 1)} - {sum(scores)} = {need}."],
             "ru": [f"Нужная сумма: {target} × {len(scores) + 1} = {target * (len(scores) + 1)}.",
                    f"Сейчас: {' + '.join(map(str, scores))} = {sum(scores)}.",
                    f"Следующий тест: {target * (len(scores) + 1)} - {sum(scores)} = {need}."]}[lang]
    program = [f"needed = {target} * {len(scores) + 1}", f"current = {' + '.join(map(str, scores))}",
               "answer = needed - current"]
    return _Problem(q, steps, program, Fraction(need))


def _ratio(rng: random.Random, lang: str) -> _Problem | None:
    a, b = rng.sample(range(1, 10), 2)
    unit = rng.randint(2, 60) * 10
    total = (a + b) * unit
    if lang == "en":
        (n1, _), (n2, _) = rng.sample(_EN_PEOPLE, 2)
        q = f"{n1} and {n2} share {_money(total, lang)} in the ratio {a}:{b}. How much does {n2} get?"
        steps = [f"Parts: {a} + {b} = {a + b}.", f"One part: {total} / {a + b} = {unit}.", f"{n2}: {b} × {unit} = "
                 f"{b * unit}."]
    else:
        (n1, _, _), (n2, _, _) = rng.sample(_RU_PEOPLE, 2)
        q = f"{n1} и {n2} делят {total} руб. в отношении {a}:{b}. Сколько рублей получит {n2}?"
        steps = [f"Всего частей: {a} + {b} = {a + b}.", f"Одна часть: {total} / {a + b} = {unit} руб.",
                 f"{n2}: {b} × {unit} = {b * unit} руб."]
    return _Problem(q, steps, [f"part = {total} / ({a} + {b})", f"answer = {b} * part"], Fraction(b * unit))


def _interest(rng: random.Random, lang: str) -> _Problem | None:
    principal = rng.randint(2, 100) * 500
    rate = rng.choice((2, 3, 4, 5, 6, 7, 8, 10, 12))
    years = rng.randint(2, 6)
    yearly = Fraction(principal * rate, 100)
    interest = yearly * years
    total = rng.random() < 0.5
    ans = principal + interest if total else interest
    if lang == "en":
        q = (f"{_money(principal, lang)} is put into a savings account with simple interest of {rate}% per year. "
             + (f"How much money is in the account after {years} years?" if total
                else f"How much interest is earned in {years} years?"))
        steps = [f"Interest per year: {principal} × {rate} / 100 = {_n(yearly, lang)}.",
                 f"Interest for {years} years: {_n(yearly, lang)} × {years} = {_n(interest, lang)}."]
        if total:
            steps.append(f"Total: {principal} + {_n(interest, lang)} = {_n(ans, lang)}.")
    else:
        q = (f"На вклад положили {principal} руб. под {rate}% годовых (простые проценты). "
             + (f"Сколько денег будет на вкладе через {years} {ru_plural(years, ('год', 'года', 'лет'))}?" if total
                else f"Какой доход принесёт вклад за {years} {ru_plural(years, ('год', 'года', 'лет'))}?"))
        steps = [f"Доход за год: {principal} × {rate} / 100 = {_n(yearly, lang)} руб.",
                 f"За {years} {ru_plural(years, ('год', 'года', 'лет'))}: {_n(yearly, lang)} × {years} = "
                 f"{_n(interest, lang)} руб."]
        if total:
            steps.append(f"Итого: {principal} + {_n(interest, lang)} = {_n(ans, lang)} руб.")
    program = [f"per_year = {principal} * {rate} / 100", f"interest = per_year * {years}",
               f"answer = {principal} + interest" if total else "answer = interest"]
    return _Problem(q, steps, program, ans)


def _expression(rng: random.Random, lang: str) -> _Problem | None:
    a, b, c, d = rng.randint(2, 60), rng.randint(2, 60), rng.randint(2, 12), rng.randint(1, 200)
    s, m = a + b, (a + b) * c
    if rng.random() < 0.5:
        ans = m - d
        q = _say(rng, lang, (f"Compute ({a} + {b}) × {c} - {d}.", f"What is ({a} + {b}) × {c} - {d}?"),
                 (f"Вычислите ({a} + {b}) × {c} - {d}.", f"Найдите значение выражения ({a} + {b}) × {c} - {d}."))
        steps = [f"{a} + {b} = {s}.", f"{s} × {c} = {m}.", f"{m} - {d} = {ans}."]
        return _Problem(q, steps, [f"answer = ({a} + {b}) * {c} - {d}"], Fraction(ans))
    boxes, per, missing = rng.randint(3, 60), rng.choice((6, 8, 10, 12, 20, 24, 36)), rng.randint(1, 9)
    ans = boxes * per - missing
    q = _say(rng, lang, (f"A box holds {per} pencils. There are {boxes} full boxes, but {missing} pencils were "
                         "taken out. "
                         "How many pencils are left?",),
             (f"В коробке {per} карандашей. Есть {boxes} полных коробок, но из них взяли {missing} "
              f"{ru_plural(missing, ('карандаш', 'карандаша', 'карандашей'))}. Сколько карандашей осталось?",))
    steps = [f"{boxes} × {per} = {boxes * per}.", f"{boxes * per} - {missing} = {ans}."]
    return _Problem(q, steps, [f"pencils = {boxes} * {per}", f"answer = pencils - {missing}"], Fraction(ans))


def _duration(rng: random.Random, lang: str) -> _Problem | None:
    h, m = rng.randint(1, 9), rng.randint(1, 59)
    if rng.random() < 0.5:
        total = h * 60 + m
        thing_en, thing_ru = rng.choice((("film", "Фильм"), ("flight", "Перелёт"), ("concert", "Концерт"),
                                         ("train journey", "Поездка на поезде"), ("hike", "Поход")))
        q = _say(rng, lang, (f"A {thing_en} lasts {h} h {m} min. How long is it in minutes?",),
                 (f"{thing_ru} длится {h} ч {m} мин. Сколько это минут?",))
        steps = [f"{h} × 60 + {m} = {total}."]
        return _Problem(q, steps, [f"answer = {h} * 60 + {m}"], Fraction(total))
    n = rng.randint(2, 6)
    total = n * (h * 60 + m)
    q = _say(rng, lang, (f"One episode of a series lasts {h} h {m} min. How many minutes do {n} episodes last?",),
             (f"Одна серия длится {h} ч {m} мин. Сколько минут длятся {n} "
              f"{ru_plural(n, ('серия', 'серии', 'серий'))}?",))
    steps = [f"{h} × 60 + {m} = {h * 60 + m}.", f"{n} × {h * 60 + m} = {total}."]
    return _Problem(q, steps, [f"episode = {h} * 60 + {m}", f"answer = {n} * episode"], Fraction(total))


_FAMILIES: tuple[Callable[[random.Random, str], _Problem | None], ...] = (
    _shopping, _percent_of, _discount, _percent_change, _what_percent, _speed, _work, _unit_price, _fraction_of,
    _fraction_arith, _linear, _rectangle, _triangle, _circle, _average, _ratio, _interest, _expression, _duration,
)

# ------------------------------------------------------------------------------------------- program and items

def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    problem = rng.choice(_FAMILIES)(rng, lang)
    if problem is None or not _exact(problem.answer) or len(problem.steps) > 4:
        return None
    program = "\n".join(problem.program)
    result = safe_eval_program(program)  # the calculator tool the math expert answers with
    if abs(result - float(problem.answer)) > 1e-9 * max(1.0, abs(float(problem.answer))):
        return None
    answer: int | float = int(problem.answer) if problem.answer.denominator == 1 else float(problem.answer)
    final = f"{'Answer' if lang == 'en' else 'Ответ'}: {_dec(problem.answer)}"
    solution = "\n".join(problem.steps) + f"\n\n```python\n{program}\n```\n\n{final}"
    steps = len(problem.steps)
    return {
        "id": item_id(TASK, problem.question, _dec(problem.answer)),
        "lang": lang,
        "difficulty": difficulty(0.1 + 0.22 * (steps - 1) + (0.05 if problem.answer.denominator != 1 else 0)),
        "question": problem.question,
        "answer": answer,
        "solution": solution,
    }


def generate(n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]:
    """`n` distinct checked word problems (keys: id, lang, difficulty, question, answer, and `solution`, the
    assistant text `to_chat` uses). Training seeds < 1000, evaluation seeds >= 1000."""
    return collect(TASK, n, seed, lang, _draft, key="question")


def to_chat(item: dict[str, Any]) -> dict[str, Any]:
    """The training example: the problem -> worked steps, a calculator program, and the final answer line."""
    return chat_example(TASK, item, item["question"], item["solution"])

