"""The named value generators of the memory benchmark's templates: phone numbers, dates, codes and other values
that are drawn by code rather than picked from a word list.

A template file names one with `{generator: NAME}` (`data/memory_bench/*.yaml`, read by
`data/conversation_templates.py`); the word lists they draw from (month names, Wi-Fi words) come from
`data/memory_bench/common.yaml`. Every generator takes the conversation's `random.Random` and returns a string.

    .venv/bin/python -c "import random; from moe_system.data.conversation_templates import values; \
print(values().get('phone_ru')(random.Random(0)))"
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

Generator = Callable[[random.Random], str]

_LATIN = "ABCDEFGHJKLMNPRSTUVWXYZ"
_PLATE_RU = "АВЕКМНОРСТУХ"


def _letters(rng: random.Random, n: int, alphabet: str = _LATIN) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


class ValueGenerators:
    """The generators, by name (`get`), over the month names and Wi-Fi words of `common.yaml`."""

    def __init__(self, months_en: Sequence[str], months_ru: Sequence[str], wifi_words: Sequence[str]) -> None:
        self.months_en = tuple(months_en)
        self.months_ru = tuple(months_ru)
        self.wifi_words = tuple(wifi_words)

    def get(self, name: str) -> Generator:
        """The generator called `name`; ValueError for an unknown one."""
        if name.startswith("_") or name == "get" or not callable(getattr(self, name, None)):
            raise ValueError(f"unknown value generator {name!r}")
        generator: Generator = getattr(self, name)
        return generator

    # ------------------------------------------------------------------------------------ planted values

    def phone_en(self, rng: random.Random) -> str:
        return f"+44 7{rng.randint(300, 999)} {rng.randint(100, 999)} {rng.randint(100, 999)}"

    def phone_ru(self, rng: random.Random) -> str:
        return f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"

    def day_en(self, rng: random.Random) -> str:
        return f"{rng.randint(1, 28)} {rng.choice(self.months_en)}"

    def day_ru(self, rng: random.Random) -> str:
        return f"{rng.randint(1, 28)} {rng.choice(self.months_ru)}"

    def expiry_en(self, rng: random.Random) -> str:
        return f"{self.day_en(rng)} {rng.randint(2029, 2036)}"

    def expiry_ru(self, rng: random.Random) -> str:
        return f"{self.day_ru(rng)} {rng.randint(2029, 2036)}"

    def wifi(self, rng: random.Random) -> str:
        first, second = rng.sample(self.wifi_words, 2)
        return f"{first}{second}{rng.randint(10, 99)}{rng.choice('!#$%*?')}"

    def locker(self, rng: random.Random) -> str:
        return f"{_letters(rng, 2)}-{rng.randint(1000, 9999)}"

    def flight_en(self, rng: random.Random) -> str:
        return f"{rng.choice(('LX', 'SK', 'AY', 'TP', 'OS', 'KL', 'IB', 'EI'))} {rng.randint(100, 1999)}"

    def flight_ru(self, rng: random.Random) -> str:
        return f"{rng.choice(('SU', 'S7', 'U6', 'DP', 'UT', 'FV'))} {rng.randint(1000, 6999)}"

    def plate_en(self, rng: random.Random) -> str:
        return f"{_letters(rng, 2)}{rng.randint(10, 74)} {_letters(rng, 3)}"

    def plate_ru(self, rng: random.Random) -> str:
        region = rng.choice(("77", "97", "177", "50", "78", "154", "66", "116", "163", "38"))
        return f"{rng.choice(_PLATE_RU)}{rng.randint(100, 999)}{_letters(rng, 2, _PLATE_RU)} {region}"

    def apartment_en(self, rng: random.Random) -> str:
        return f"{rng.randint(101, 999)}{rng.choice('ABCDEF')}"

    def apartment_ru(self, rng: random.Random) -> str:
        return f"{rng.randint(101, 999)}{rng.choice('АБВ')}"

    def parking_en(self, rng: random.Random) -> str:
        return f"P{rng.randint(1, 4)}-{rng.randint(101, 399)}"

    def parking_ru(self, rng: random.Random) -> str:
        return f"П{rng.randint(1, 4)}-{rng.randint(101, 399)}"

    def policy(self, rng: random.Random) -> str:
        return f"{_letters(rng, 3)}-{rng.randint(1000, 9999)}-{rng.randint(10, 99)}"

    # ------------------------------------------------------------------------------------- filler values

    def month_en(self, rng: random.Random) -> str:
        return rng.choice(self.months_en)

    def big(self, rng: random.Random) -> str:
        return f"{rng.randint(1, 90) * 1000 + rng.randint(0, 9) * 100:,}"

    def big_ru(self, rng: random.Random) -> str:
        return self.big(rng).replace(",", " ")

    def code(self, rng: random.Random) -> str:
        if rng.random() < 0.5:
            return f"#{rng.randint(10000, 999999)}"
        return f"ORD-{rng.randint(100000, 999999)}"

    def ticket(self, rng: random.Random) -> str:
        return f"{rng.choice(('OPS', 'WEB', 'DATA', 'INFRA', 'MOB'))}-{rng.randint(100, 9999)}"

    def parcel(self, rng: random.Random) -> str:
        return f"{_letters(rng, 2)}{rng.randint(100000000, 999999999)}{rng.choice(('GB', 'DE', 'NL', 'RU'))}"

    def hash(self, rng: random.Random) -> str:
        return "".join(rng.choice("0123456789abcdef") for _ in range(7))

    def version(self, rng: random.Random) -> str:
        return f"v{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"

    def time(self, rng: random.Random) -> str:
        return f"{rng.randint(6, 22)}:{rng.choice(('00', '05', '15', '20', '30', '40', '45', '50'))}"

    def temp(self, rng: random.Random) -> str:
        return f"{rng.randint(-15, 34)} °C"

    def temp_oven(self, rng: random.Random) -> str:
        return f"{rng.randint(16, 23) * 10} °C"

    def runtime(self, rng: random.Random) -> str:
        return f"{rng.randint(19, 39)}:{rng.randint(0, 59):02d}"

    def date_en(self, rng: random.Random) -> str:
        day, month = rng.randint(1, 30), rng.choice(self.months_en)
        return f"{month} {day}" if rng.random() < 0.5 else f"{day} {month} {rng.randint(2019, 2027)}"

    def date_ru(self, rng: random.Random) -> str:
        day, month = rng.randint(1, 30), rng.choice(self.months_ru)
        return f"{day} {month}" if rng.random() < 0.6 else f"{day} {month} {rng.randint(2019, 2027)} года"

    def price_en(self, rng: random.Random) -> str:
        return f"{rng.choice(('€', '$', '£'))}{rng.randint(5, 900)}"

    def price_ru(self, rng: random.Random) -> str:
        return f"{rng.randint(3, 900) * 100:,} ₽".replace(",", " ")

    def pct(self, rng: random.Random) -> str:
        return f"{rng.randint(3, 85)}%"

    def flight_filler_en(self, rng: random.Random) -> str:
        return f"{rng.choice(('BA', 'LH', 'AF', 'UA', 'EK', 'TK'))} {rng.randint(100, 2999)}"

    def flight_filler_ru(self, rng: random.Random) -> str:
        return f"{rng.choice(('SU', 'S7', 'U6', 'N4', 'WZ'))} {rng.randint(100, 6999)}"

    def wifi_filler(self, rng: random.Random) -> str:
        return f"{rng.choice(('sunny', 'home', 'guest', 'flat', 'dacha'))}{rng.randint(1000, 99999)}"
