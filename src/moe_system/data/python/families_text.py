"""Drawing code of the string and parsing task families (their wording is in `tasks.yaml`): each draws test
inputs and returns them with an independent implementation that computes the expected outputs, so running the
tests really checks the shown solution.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from typing import Any

from moe_system.data.python.tasks import Drawn, catalog, draws, ints, text

_STRIPPED = {"vowels": lambda s: re.sub(r"[aeiouAEIOU]", "", s), "digits": lambda s: re.sub(r"[0-9]", "", s),
             "spaces": lambda s: s.replace(" ", "")}


@draws
def _count_vowels(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: sum(c in "aeiou" for c in s.lower()), [(text(rng),) for _ in range(4)])


@draws
def _count_char(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    texts = [text(rng) for _ in range(4)]
    return Drawn(lambda s, ch: s.count(ch), [(t, rng.choice(t)) for t in texts])


@draws
def _reverse_words(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: " ".join(s.split()[::-1]), [(text(rng),) for _ in range(4)])


@draws
def _is_palindrome(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    words = [rng.choice(inputs["palindromes"]), rng.choice(inputs["others"])]
    return Drawn(lambda s: (lambda t: t == t[::-1])(re.sub(r"[^0-9a-z]", "", s.lower())),
                 [(p,) for p in rng.sample(inputs["phrases"], 4)] + [(w,) for w in words])


@draws
def _capitalize_words(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: " ".join(w.capitalize() for w in s.split(" ")),
                 [(text(rng).upper() if i == 0 else text(rng),) for i in range(4)])


@draws
def _remove_chars(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    what = rng.choice(tuple(inputs["kinds"]))
    texts = [text(rng) + (f" {rng.randint(1, 999)}" if rng.random() < 0.6 else "") for _ in range(4)]
    kind = inputs["kinds"][what]
    return Drawn(_STRIPPED[what], [(t,) for t in texts],
                 {"what": what, "what_en": kind["en"], "what_ru": kind["ru"], "test": kind["test"]})


@draws
def _longest_word(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: max(s.split(), key=len, default=""), [(text(rng, 3, 7),) for _ in range(4)])


@draws
def _char_frequency(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: dict(Counter(s)), [(rng.choice(catalog().words),) for _ in range(3)] + [(text(rng, 2, 2),)])


@draws
def _run_length(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def runs() -> str:
        return "".join(rng.choice(inputs["letters"]) * rng.randint(1, 4) for _ in range(rng.randint(2, 5)))

    return Drawn(lambda s: "".join(f"{k}{len(list(g))}" for k, g in itertools.groupby(s)),
                 [(runs(),) for _ in range(4)])


@draws
def _acronym(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: "".join(w[0] for w in s.split()).upper(), [(p,) for p in rng.sample(inputs["phrases"], 4)])


def _snake_names(rng: random.Random, parts: list[str]) -> list[str]:
    return ["_".join(rng.sample(parts, rng.randint(1, 3))) for _ in range(4)]


@draws
def _snake_to_camel(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: (lambda p: p[0] + "".join(w[:1].upper() + w[1:] for w in p[1:]))(s.split("_")),
                 [(n,) for n in _snake_names(rng, inputs["parts"])])


@draws
def _camel_to_snake(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    names = [n.split("_")[0] + "".join(w.capitalize() for w in n.split("_")[1:])
             for n in _snake_names(rng, inputs["parts"])]
    return Drawn(lambda s: re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), s), [(n,) for n in names])


@draws
def _count_words(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: len(re.findall(r"\S+", s)), [(text(rng, 1, 8),) for _ in range(3)])


@draws
def _pad_left(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    fill = rng.choice(inputs["fills"])
    return Drawn(lambda s, w: fill * max(0, w - len(s)) + s,
                 [(str(rng.randint(1, 999)), rng.randint(3, 7)) for _ in range(3)], {"fill": fill})


@draws
def _is_anagram(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda x, y: Counter(x.lower().replace(" ", "")) == Counter(y.lower().replace(" ", "")),
                 [tuple(pair) for pair in rng.sample(inputs["pairs"], 6)])


@draws
def _caesar(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return Drawn(lambda s, k: s.translate(str.maketrans(letters, letters[k % 26:] + letters[:k % 26])),
                 [(text(rng).lower(), rng.randint(1, 30)) for _ in range(3)])


@draws
def _mask(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    keep = rng.randint(2, 4)
    return Drawn(lambda s: s if len(s) <= keep else "*" * (len(s) - keep) + s[len(s) - keep:],
                 [("".join(rng.choice(inputs["digits"]) for _ in range(rng.randint(6, 16))),) for _ in range(3)],
                 {"keep": keep})


@draws
def _truncate(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s, n: s[:n] + ("..." if len(s) > n else ""),
                 [(text(rng), rng.randint(3, 12)) for _ in range(4)])


@draws
def _count_upper(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: len(re.findall(r"[A-Z]", s)), [(text(rng),) for _ in range(3)])


@draws
def _most_common_char(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(s: str) -> str:
        counts = Counter(s)
        best = max(counts.values())
        return next(ch for ch in s if counts[ch] == best)

    return Drawn(ref, [(rng.choice(catalog().words[:40]),) for _ in range(4)])


@draws
def _dedupe_chars(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(s: str) -> str:
        seen: list[str] = []
        for ch in s:
            if ch not in seen:
                seen.append(ch)
        return "".join(seen)

    return Drawn(ref, [(rng.choice(catalog().words),) for _ in range(3)])


# --------------------------------------------------------------------------------------------------- parsing


@draws
def _parse_pairs(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    sep, eq = rng.choice(inputs["separators"]), rng.choice(inputs["equals"])

    def case() -> str:
        keys = rng.sample(inputs["keys"], rng.randint(1, 4))
        return sep.join(f"{k}{eq}{rng.randint(0, 500)}" for k in keys)

    return Drawn(lambda s: {m[0]: int(m[1]) for m in re.findall(rf"(\w+){re.escape(eq)}(\d+)", s)},
                 [(case(),) for _ in range(4)], {"sep": sep, "eq": eq})


@draws
def _extract_numbers(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def case() -> str:
        return " ".join(rng.choice((text(rng, 1, 2), str(rng.randint(0, 999)), f"x{rng.randint(1, 99)}"))
                        for _ in range(rng.randint(2, 5)))

    def ref(s: str) -> list[int]:
        numbers, digits = [], ""
        for ch in s + " ":
            if ch.isdigit():
                digits += ch
            elif digits:
                numbers.append(int(digits))
                digits = ""
        return numbers

    return Drawn(ref, [(case(),) for _ in range(4)])


@draws
def _time_to_minutes(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda t: int(t[:2]) * 60 + int(t[3:]),
                 [(f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",) for _ in range(4)])


@draws
def _minutes_to_time(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda m: "{:02d}:{:02d}".format(*divmod(m, 60)), [(rng.randint(0, 1439),) for _ in range(4)])


@draws
def _split_fields(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    sep = rng.choice(inputs["separators"])

    def case() -> str:
        return sep.join(rng.choice(inputs["before"]) + rng.choice(catalog().words) + rng.choice(inputs["after"])
                        for _ in range(rng.randint(1, 5)))

    return Drawn(lambda s: [f.strip(" ") for f in re.split(re.escape(sep), s)], [(case(),) for _ in range(4)],
                 {"sep": sep})


@draws
def _sum_expression(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(s: str) -> int:
        total = 0
        for part in s.split("+"):
            total += int(part)
        return total

    return Drawn(ref, [("+".join(str(v) for v in ints(rng, 0, 300, (1, 6))),) for _ in range(5)])


@draws
def _parse_date(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: (int(s[6:]), int(s[3:5]), int(s[:2])),
                 [(f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2030)}",) for _ in range(4)])


@draws
def _count_russian_vowels(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def phrase() -> str:
        return " ".join(rng.choice(inputs["words"]) for _ in range(rng.randint(1, 4)))

    return Drawn(lambda s: len(re.findall("[аеёиоуыэюяАЕЁИОУЫЭЮЯ]", s)), [(phrase(),) for _ in range(4)])


@draws
def _double_letters(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: re.sub("(.)", r"\1\1", s, flags=re.S), [(rng.choice(catalog().words),) for _ in range(3)]
                 + [(text(rng, 2, 2),)])  # fmt: skip


@draws
def _reverse_string(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: "".join(reversed(s)), [(rng.choice(catalog().words),) for _ in range(3)] + [(text(rng),)])


@draws
def _first_unique_char(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    def ref(s: str) -> str:
        counts = Counter(s)
        return next((ch for ch in s if counts[ch] == 1), "")

    return Drawn(ref, [(rng.choice(catalog().words),) for _ in range(3)] + [(text(rng, 2, 3),)])


@draws
def _word_lengths(rng: random.Random, inputs: dict[str, Any]) -> Drawn:
    return Drawn(lambda s: list(map(len, s.split())), [(text(rng),) for _ in range(4)])
