"""Python coding data: small function tasks in English and Russian, each with a reference solution and assert
tests, checked by running the tests against the solution in a subprocess.

More than fifty task families (strings, lists, dicts, math helpers, counting, filtering, parsing, simple
algorithms) each randomize the function and argument names, constants and test inputs. Expected values come from
an independent reference implementation in this module, so running the tests really checks the shown solution.

    moe data generate python --n 3000 --seed 0 -o python-train.jsonl
    moe data generate python --n 500 --seed 1000 --format eval -o python-eval.jsonl
"""

from __future__ import annotations

import calendar
import copy
import heapq
import itertools
import json
import math
import random
import re
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from string import Template
from typing import Any

from moe_system.data.common import chat_example, collect, difficulty, item_id

TASK = "python"
_WORDS = ("apple", "banana", "river", "stone", "python", "level", "radar", "window", "garden", "silver", "orange",
          "planet", "music", "table", "summer", "winter", "coffee", "rocket", "forest", "bridge", "cloud", "dragon",
          "pencil", "mirror", "noon", "civic", "kayak", "guitar", "island", "market", "yellow", "sunset", "moon",
          "star", "tree", "book", "lamp", "data", "code", "tea", "sky", "a", "is", "of")
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103,
           107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199)
_ITEMS = ("apple", "bread", "milk", "eggs", "cheese", "rice", "tea", "juice", "butter", "honey")


@dataclass(frozen=True)
class _Task:
    """One drawn task: what to write, how it is solved, and the argument tuples to test it on."""

    name: str
    args: tuple[str, ...]
    en: str
    ru: str
    body: str
    ref: Callable[..., Any]
    cases: list[tuple[Any, ...]]
    level: float


_FAMILIES: list[Callable[[random.Random], _Task]] = []


def _family(fn: Callable[[random.Random], _Task]) -> Callable[[random.Random], _Task]:
    _FAMILIES.append(fn)
    return fn


def _make(rng: random.Random, names: tuple[str, ...], args: list[tuple[str, ...]], en: str, ru: str, body: str,
          ref: Callable[..., Any], cases: list[tuple[Any, ...]], level: float, **consts: Any) -> _Task:
    """Pick a function name and argument names, then fill `$a`, `$b`, `$c` (the arguments) and the named
    constants into the descriptions and the body."""
    style = rng.randrange(3)  # one naming style for all arguments: (lo, hi), (low, high), ...
    chosen = tuple(options[style % len(options)] for options in args)
    mapping = {key: name for key, name in zip("abc", chosen, strict=False)} | {k: str(v) for k, v in consts.items()}
    fill = Template.substitute
    return _Task(rng.choice(names), chosen, fill(Template(en), mapping), fill(Template(ru), mapping),
                 fill(Template(textwrap.dedent(body).strip()), mapping), ref, cases, level)


def _text(rng: random.Random, lo: int = 2, hi: int = 6) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(w.capitalize() if rng.random() < 0.3 else w for w in words)


def _ints(rng: random.Random, lo: int = -10, hi: int = 30, size: tuple[int, int] = (3, 8)) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(rng.randint(*size))]


# --------------------------------------------------------------------------------------------------- strings


@_family
def _count_vowels(rng: random.Random) -> _Task:
    return _make(rng, ("count_vowels", "vowel_count", "num_vowels"), [("s", "text", "word")],
                 "returns the number of vowels (a, e, i, o, u) in `$a`, ignoring case",
                 "возвращает количество гласных (a, e, i, o, u) в строке `$a` без учёта регистра",
                 "return sum(1 for ch in $a.lower() if ch in 'aeiou')",
                 lambda s: sum(c in "aeiou" for c in s.lower()),
                 [(_text(rng),) for _ in range(4)] + [("",), ("RHYTHM",)], 0.1)


@_family
def _count_char(rng: random.Random) -> _Task:
    texts = [_text(rng) for _ in range(4)]
    return _make(rng, ("count_char", "char_count", "occurrences"), [("s", "text"), ("ch", "char", "c")],
                 "returns how many times the character `$b` occurs in the string `$a` (case-sensitive)",
                 "возвращает, сколько раз символ `$b` встречается в строке `$a` (с учётом регистра)",
                 """
                 count = 0
                 for symbol in $a:
                     if symbol == $b:
                         count += 1
                 return count
                 """,
                 lambda s, ch: s.count(ch),
                 [(t, rng.choice(t)) for t in texts] + [("", "a"), ("banana", "z")], 0.1)


@_family
def _reverse_words(rng: random.Random) -> _Task:
    return _make(rng, ("reverse_words", "words_backwards", "flip_words"), [("sentence", "s", "text")],
                 "returns the words of `$a` in reverse order, joined by single spaces",
                 "возвращает слова строки `$a` в обратном порядке, разделённые одиночными пробелами",
                 "return ' '.join(reversed($a.split()))",
                 lambda s: " ".join(s.split()[::-1]),
                 [(_text(rng),) for _ in range(4)] + [("  hello   world ",), ("",)], 0.15)


@_family
def _is_palindrome(rng: random.Random) -> _Task:
    phrases = ["A man, a plan, a canal: Panama", "Was it a car or a cat I saw?", "No lemon, no melon",
               "Step on no pets", "Hello, world", "Python", "Never odd or even", "Almost a palindrome"]
    words = [rng.choice(("level", "radar", "kayak", "civic", "noon", "rotor")), rng.choice(("river", "stone"))]
    return _make(rng, ("is_palindrome", "palindrome", "check_palindrome"), [("s", "text", "phrase")],
                 "returns True if `$a` reads the same forwards and backwards when only letters and digits are kept "
                 "and case is ignored, otherwise False",
                 "возвращает True, если строка `$a` читается одинаково в обе стороны, если оставить только буквы и "
                 "цифры и не учитывать регистр, иначе False",
                 """
                 cleaned = [ch.lower() for ch in $a if ch.isalnum()]
                 return cleaned == cleaned[::-1]
                 """,
                 lambda s: (lambda t: t == t[::-1])(re.sub(r"[^0-9a-z]", "", s.lower())),
                 [(p,) for p in rng.sample(phrases, 4)] + [(w,) for w in words] + [("",)], 0.2)


@_family
def _capitalize_words(rng: random.Random) -> _Task:
    return _make(rng, ("capitalize_words", "title_case", "capitalize_each"), [("s", "text", "sentence")],
                 "returns `$a` with the first letter of every word in upper case and the other letters in lower case "
                 "(words are separated by single spaces)",
                 "возвращает строку `$a`, в которой у каждого слова первая буква заглавная, а остальные строчные "
                 "(слова разделены одиночными пробелами)",
                 "return ' '.join(word[:1].upper() + word[1:].lower() for word in $a.split(' '))",
                 lambda s: " ".join(w.capitalize() for w in s.split(" ")),
                 [(_text(rng).upper() if i == 0 else _text(rng),) for i in range(4)] + [("",)], 0.15)


@_family
def _remove_chars(rng: random.Random) -> _Task:
    what = rng.choice(("vowels", "digits", "spaces"))
    en, ru, test, ref = {
        "vowels": ("vowels (a, e, i, o, u in either case)", "гласные (a, e, i, o, u в любом регистре)",
                   "ch.lower() not in 'aeiou'", lambda s: re.sub(r"[aeiouAEIOU]", "", s)),
        "digits": ("digits", "цифры", "not ch.isdigit()", lambda s: re.sub(r"[0-9]", "", s)),
        "spaces": ("spaces", "пробелы", "ch != ' '", lambda s: s.replace(" ", "")),
    }[what]
    texts = [_text(rng) + (f" {rng.randint(1, 999)}" if rng.random() < 0.6 else "") for _ in range(4)]
    return _make(rng, (f"remove_{what}", f"strip_{what}", f"without_{what}"), [("s", "text")],
                 f"returns `$a` with all {en} removed", f"возвращает строку `$a`, из которой удалены все {ru}",
                 f"return ''.join(ch for ch in $a if {test})", ref, [(t,) for t in texts] + [("",)], 0.1)


@_family
def _longest_word(rng: random.Random) -> _Task:
    return _make(rng, ("longest_word", "find_longest_word", "longest"), [("sentence", "s", "text")],
                 "returns the longest word of `$a` (words are separated by whitespace); if several words are equally "
                 "long, the first of them; an empty string if there are no words",
                 "возвращает самое длинное слово строки `$a` (слова разделены пробельными символами); если таких "
                 "несколько — первое из них; пустую строку, если слов нет",
                 """
                 best = ''
                 for word in $a.split():
                     if len(word) > len(best):
                         best = word
                 return best
                 """,
                 lambda s: max(s.split(), key=len, default=""),
                 [(_text(rng, 3, 7),) for _ in range(4)] + [("",)], 0.2)


@_family
def _char_frequency(rng: random.Random) -> _Task:
    return _make(rng, ("char_frequency", "count_chars", "letter_counts"), [("s", "text", "word")],
                 "returns a dict that maps every character of `$a` to the number of times it occurs",
                 "возвращает словарь, который сопоставляет каждому символу строки `$a` число его вхождений",
                 """
                 counts = {}
                 for ch in $a:
                     counts[ch] = counts.get(ch, 0) + 1
                 return counts
                 """,
                 lambda s: dict(Counter(s)),
                 [(rng.choice(_WORDS),) for _ in range(3)] + [(_text(rng, 2, 2),), ("",)], 0.2)


@_family
def _run_length(rng: random.Random) -> _Task:
    def runs() -> str:
        return "".join(rng.choice("abcxyz") * rng.randint(1, 4) for _ in range(rng.randint(2, 5)))

    return _make(rng, ("run_length_encode", "rle", "compress"), [("s", "text")],
                 "compresses `$a` with run-length encoding: every run of equal characters becomes the character "
                 "followed by the length of the run (for example 'aaab' becomes 'a3b1')",
                 "сжимает строку `$a` кодированием длин серий: каждая серия одинаковых символов превращается в символ "
                 "и длину серии (например, 'aaab' превращается в 'a3b1')",
                 """
                 if not $a:
                     return ''
                 parts = []
                 current, count = $a[0], 1
                 for ch in $a[1:]:
                     if ch == current:
                         count += 1
                     else:
                         parts.append(f'{current}{count}')
                         current, count = ch, 1
                 parts.append(f'{current}{count}')
                 return ''.join(parts)
                 """,
                 lambda s: "".join(f"{k}{len(list(g))}" for k, g in itertools.groupby(s)),
                 [(runs(),) for _ in range(4)] + [("",), ("z",)], 0.4)


@_family
def _acronym(rng: random.Random) -> _Task:
    phrases = ["portable network graphics", "as soon as possible", "Central Processing Unit", "frequently asked "
               "questions", "random access memory", "graphical user interface", "by the way", "for your information"]
    return _make(rng, ("acronym", "make_acronym", "abbreviate"), [("phrase", "s", "name")],
                 "returns the acronym of `$a`: the first letter of every word, in upper case",
                 "возвращает аббревиатуру фразы `$a`: первые буквы всех слов в верхнем регистре",
                 "return ''.join(word[0].upper() for word in $a.split())",
                 lambda s: "".join(w[0] for w in s.split()).upper(),
                 [(p,) for p in rng.sample(phrases, 4)] + [("",)], 0.1)


def _snake_names(rng: random.Random) -> list[str]:
    return ["_".join(rng.sample(("user", "name", "max", "total", "count", "file", "path", "id", "value", "list"),
                                rng.randint(1, 3))) for _ in range(4)]


@_family
def _snake_to_camel(rng: random.Random) -> _Task:
    return _make(rng, ("snake_to_camel", "to_camel_case", "camelize"), [("name", "s", "identifier")],
                 "converts the snake_case identifier `$a` to camelCase (the first word stays in lower case)",
                 "переводит идентификатор `$a` из snake_case в camelCase (первое слово остаётся в нижнем регистре)",
                 """
                 first, *rest = $a.split('_')
                 return first + ''.join(word.capitalize() for word in rest)
                 """,
                 lambda s: (lambda p: p[0] + "".join(w[:1].upper() + w[1:] for w in p[1:]))(s.split("_")),
                 [(n,) for n in _snake_names(rng)], 0.25)


@_family
def _camel_to_snake(rng: random.Random) -> _Task:
    names = [n.split("_")[0] + "".join(w.capitalize() for w in n.split("_")[1:]) for n in _snake_names(rng)]
    return _make(rng, ("camel_to_snake", "to_snake_case", "snakify"), [("name", "s", "identifier")],
                 "converts the camelCase identifier `$a` to snake_case",
                 "переводит идентификатор `$a` из camelCase в snake_case",
                 "return ''.join('_' + ch.lower() if ch.isupper() else ch for ch in $a)",
                 lambda s: re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), s),
                 [(n,) for n in names], 0.25)


@_family
def _count_words(rng: random.Random) -> _Task:
    return _make(rng, ("count_words", "word_count", "num_words"), [("s", "text", "sentence")],
                 "returns the number of words in `$a` (words are separated by any whitespace)",
                 "возвращает количество слов в строке `$a` (слова разделены любыми пробельными символами)",
                 "return len($a.split())",
                 lambda s: len(re.findall(r"\S+", s)),
                 [(_text(rng, 1, 8),) for _ in range(3)] + [("  spaced   out\ttext ",), ("",)], 0.1)


@_family
def _pad_left(rng: random.Random) -> _Task:
    fill = rng.choice("0*.#-")
    return _make(rng, ("pad_left", "left_pad", "pad_start"), [("s", "text", "value"), ("width", "length", "n")],
                 "returns `$a` padded on the left with '$fill' characters up to length `$b`; a string that is "
                 "already long enough is returned unchanged",
                 "возвращает строку `$a`, дополненную слева символами '$fill' до длины `$b`; достаточно длинная "
                 "строка возвращается без изменений",
                 "return $a.rjust($b, '$fill')",
                 lambda s, w: fill * max(0, w - len(s)) + s,
                 [(str(rng.randint(1, 999)), rng.randint(3, 7)) for _ in range(3)] + [("python", 3), ("", 2)], 0.15,
                 fill=fill)


@_family
def _is_anagram(rng: random.Random) -> _Task:
    pairs = [("listen", "silent"), ("Dormitory", "dirty room"), ("evil", "vile"), ("apple", "paple"),
             ("hello", "world"), ("Astronomer", "Moon starer"), ("cat", "act"), ("rat", "car"), ("abc", "abcd")]
    return _make(rng, ("is_anagram", "are_anagrams", "anagrams"), [("a", "first", "s1"), ("b", "second", "s2")],
                 "returns True if `$a` and `$b` are anagrams of each other when case and spaces are ignored, "
                 "otherwise False",
                 "возвращает True, если строки `$a` и `$b` — анаграммы друг друга без учёта регистра и пробелов, "
                 "иначе False",
                 "return sorted($a.replace(' ', '').lower()) == sorted($b.replace(' ', '').lower())",
                 lambda x, y: Counter(x.lower().replace(" ", "")) == Counter(y.lower().replace(" ", "")),
                 rng.sample(pairs, 6), 0.2)


@_family
def _caesar(rng: random.Random) -> _Task:
    return _make(rng, ("caesar_shift", "caesar", "shift_letters"), [("s", "text", "message"), ("k", "shift", "n")],
                 "shifts every lowercase Latin letter of `$a` forward by `$b` positions in the alphabet (wrapping "
                 "around after 'z') and leaves all other characters unchanged",
                 "сдвигает каждую строчную латинскую букву строки `$a` на `$b` позиций вперёд по алфавиту (после 'z' "
                 "снова идёт 'a'), остальные символы не меняет",
                 """
                 result = []
                 for ch in $a:
                     if 'a' <= ch <= 'z':
                         result.append(chr((ord(ch) - ord('a') + $b) % 26 + ord('a')))
                     else:
                         result.append(ch)
                 return ''.join(result)
                 """,
                 lambda s, k: s.translate(str.maketrans("abcdefghijklmnopqrstuvwxyz",
                                                        "abcdefghijklmnopqrstuvwxyz"[k % 26:]
                                                        + "abcdefghijklmnopqrstuvwxyz"[:k % 26])),
                 [(_text(rng).lower(), rng.randint(1, 30)) for _ in range(3)] + [("xyz!", 3), ("", 5)], 0.35)


@_family
def _mask(rng: random.Random) -> _Task:
    keep = rng.randint(2, 4)
    return _make(rng, ("mask", "mask_string", "hide_digits"), [("s", "number", "card")],
                 "returns `$a` with every character except the last $keep replaced by '*' (shorter strings are "
                 "returned unchanged)",
                 "возвращает строку `$a`, в которой все символы, кроме последних $keep, заменены на '*' (более "
                 "короткие строки возвращаются без изменений)",
                 "return '*' * max(len($a) - $keep, 0) + $a[-$keep:]",
                 lambda s: s if len(s) <= keep else "*" * (len(s) - keep) + s[len(s) - keep:],
                 [("".join(rng.choice("0123456789") for _ in range(rng.randint(6, 16))),) for _ in range(3)]
                 + [("ab",), ("secret",)], 0.15, keep=keep)


@_family
def _truncate(rng: random.Random) -> _Task:
    return _make(rng, ("truncate", "shorten", "clip_text"), [("s", "text"), ("limit", "n", "max_len")],
                 "returns `$a` unchanged if it has at most `$b` characters, otherwise its first `$b` characters "
                 "followed by '...'",
                 "возвращает строку `$a` без изменений, если в ней не больше `$b` символов, иначе её первые `$b` "
                 "символов и '...'",
                 "return $a if len($a) <= $b else $a[:$b] + '...'",
                 lambda s, n: s[:n] + ("..." if len(s) > n else ""),
                 [(_text(rng), rng.randint(3, 12)) for _ in range(4)] + [("short", 5)], 0.1)


@_family
def _count_upper(rng: random.Random) -> _Task:
    return _make(rng, ("count_uppercase", "count_capitals", "upper_count"), [("s", "text")],
                 "returns the number of upper-case letters in `$a`",
                 "возвращает количество заглавных букв в строке `$a`",
                 "return sum(1 for ch in $a if ch.isupper())",
                 lambda s: len(re.findall(r"[A-Z]", s)),
                 [(_text(rng),) for _ in range(3)] + [("NASA and ESA",), ("",)], 0.1)


@_family
def _most_common_char(rng: random.Random) -> _Task:
    def ref(s: str) -> str:
        counts = Counter(s)
        best = max(counts.values())
        return next(ch for ch in s if counts[ch] == best)

    return _make(rng, ("most_common_char", "most_frequent_char", "top_char"), [("s", "text", "word")],
                 "returns the character that occurs most often in the non-empty string `$a`; if several characters "
                 "are tied, the one that appears first",
                 "возвращает символ, который чаще всего встречается в непустой строке `$a`; если таких несколько — "
                 "тот, что встречается раньше",
                 "return max($a, key=$a.count)",
                 ref, [(rng.choice(_WORDS[:40]),) for _ in range(4)] + [("abcabc",), ("z",)], 0.25)


@_family
def _dedupe_chars(rng: random.Random) -> _Task:
    def ref(s: str) -> str:
        seen: list[str] = []
        for ch in s:
            if ch not in seen:
                seen.append(ch)
        return "".join(seen)

    return _make(rng, ("remove_duplicate_chars", "unique_chars", "dedupe"), [("s", "text")],
                 "returns `$a` with repeated characters removed, keeping only the first occurrence of each",
                 "возвращает строку `$a` без повторяющихся символов: остаётся только первое вхождение каждого",
                 "return ''.join(dict.fromkeys($a))",
                 ref, [(rng.choice(_WORDS),) for _ in range(3)] + [("mississippi",), ("",)], 0.2)


# ----------------------------------------------------------------------------------------------------- lists


@_family
def _sum_multiples(rng: random.Random) -> _Task:
    k = rng.choice((2, 3, 4, 5, 7, 10))
    return _make(rng, (f"sum_multiples_of_{k}", "sum_divisible", f"sum_of_multiples_{k}"), [("nums", "numbers", "xs")],
                 "returns the sum of the numbers in the list `$a` that are divisible by $k",
                 "возвращает сумму чисел списка `$a`, которые делятся на $k",
                 "return sum(x for x in $a if x % $k == 0)",
                 lambda xs: sum(filter(lambda v: v % k == 0, xs)),
                 [(_ints(rng),) for _ in range(4)] + [([],)], 0.1, k=k)


@_family
def _filter_greater(rng: random.Random) -> _Task:
    return _make(rng, ("filter_greater", "greater_than", "above_threshold"), [("nums", "values", "xs"),
                                                                           ("limit", "threshold", "t")],
                 "returns a list of the numbers in `$a` that are greater than `$b`, in their original order",
                 "возвращает список чисел из `$a`, которые больше `$b`, в исходном порядке",
                 "return [x for x in $a if x > $b]",
                 lambda xs, t: list(filter(lambda v: v > t, xs)),
                 [(_ints(rng), rng.randint(0, 20)) for _ in range(4)] + [([], 5)], 0.1)


@_family
def _second_largest(rng: random.Random) -> _Task:
    def ref(xs: list[int]) -> int | None:
        top = [v for v in xs if v != max(xs)] if xs else []
        return max(top) if top else None

    return _make(rng, ("second_largest", "second_max", "runner_up"), [("nums", "numbers", "xs")],
                 "returns the second largest distinct value in `$a`, or None if there are fewer than two distinct "
                 "values",
                 "возвращает второе по величине различное значение в списке `$a` или None, если различных значений "
                 "меньше двух",
                 """
                 values = sorted(set($a), reverse=True)
                 return values[1] if len(values) > 1 else None
                 """,
                 ref, [(_ints(rng),) for _ in range(4)] + [([5, 5, 5],), ([],)], 0.25)


@_family
def _running_sum(rng: random.Random) -> _Task:
    return _make(rng, ("running_sum", "cumulative_sum", "prefix_sums"), [("nums", "values", "xs")],
                 "returns the list of running totals of `$a`: element i is the sum of the first i + 1 numbers",
                 "возвращает список накопленных сумм для `$a`: i-й элемент равен сумме первых i + 1 чисел",
                 """
                 result = []
                 total = 0
                 for x in $a:
                     total += x
                     result.append(total)
                 return result
                 """,
                 lambda xs: list(itertools.accumulate(xs)),
                 [(_ints(rng),) for _ in range(4)] + [([],)], 0.15)


@_family
def _chunk(rng: random.Random) -> _Task:
    return _make(rng, ("chunk", "split_into_chunks", "batches"), [("items", "xs", "values"), ("size", "n", "k")],
                 "splits the list `$a` into consecutive chunks of length `$b` (the last chunk may be shorter) and "
                 "returns the list of chunks",
                 "разбивает список `$a` на идущие подряд куски длины `$b` (последний может быть короче) и возвращает "
                 "список этих кусков",
                 "return [$a[i:i + $b] for i in range(0, len($a), $b)]",
                 lambda xs, n: [xs[i * n:(i + 1) * n] for i in range(math.ceil(len(xs) / n))],
                 [(_ints(rng, 0, 9, (2, 9)), rng.randint(1, 4)) for _ in range(4)] + [([], 3)], 0.2)


@_family
def _flatten(rng: random.Random) -> _Task:
    def nested() -> list[list[int]]:
        return [_ints(rng, 0, 9, (0, 3)) for _ in range(rng.randint(1, 4))]

    return _make(rng, ("flatten", "flatten_once", "concat_lists"), [("lists", "nested", "rows")],
                 "flattens the list of lists `$a` into one list (one level deep), keeping the order",
                 "превращает список списков `$a` в один плоский список (на один уровень), сохраняя порядок",
                 "return [item for sub in $a for item in sub]",
                 lambda xs: list(itertools.chain.from_iterable(xs)),
                 [(nested(),) for _ in range(4)] + [([],)], 0.15)


@_family
def _unique(rng: random.Random) -> _Task:
    return _make(rng, ("unique", "remove_duplicates", "dedupe_list"), [("items", "values", "xs")],
                 "returns the elements of `$a` without duplicates, keeping the order of their first appearance",
                 "возвращает элементы списка `$a` без повторов, сохраняя порядок их первого появления",
                 """
                 seen = set()
                 result = []
                 for x in $a:
                     if x not in seen:
                         seen.add(x)
                         result.append(x)
                 return result
                 """,
                 lambda xs: list(dict.fromkeys(xs)),
                 [(_ints(rng, 0, 6, (4, 10)),) for _ in range(3)] + [([rng.choice(_WORDS) for _ in range(5)],), ([],)],
                 0.2)


@_family
def _rotate(rng: random.Random) -> _Task:
    return _make(rng, ("rotate_left", "rotate", "shift_list"), [("items", "xs", "values"), ("k", "steps", "n")],
                 "returns the list `$a` rotated to the left by `$b` positions (`$b` may be larger than the length)",
                 "возвращает список `$a`, циклически сдвинутый влево на `$b` позиций (`$b` может быть больше длины)",
                 """
                 if not $a:
                     return []
                 shift = $b % len($a)
                 return $a[shift:] + $a[:shift]
                 """,
                 lambda xs, k: [xs[(i + k) % len(xs)] for i in range(len(xs))],
                 [(_ints(rng, 0, 9), rng.randint(0, 12)) for _ in range(4)] + [([], 3)], 0.25)


@_family
def _diffs(rng: random.Random) -> _Task:
    return _make(rng, ("differences", "pairwise_diff", "deltas"), [("nums", "values", "xs")],
                 "returns the list of differences between consecutive elements of `$a` (each next element minus the "
                 "previous one)",
                 "возвращает список разностей соседних элементов `$a` (следующий элемент минус предыдущий)",
                 "return [b - a for a, b in zip($a, $a[1:])]",
                 lambda xs: [xs[i + 1] - xs[i] for i in range(len(xs) - 1)],
                 [(_ints(rng),) for _ in range(4)] + [([7],)], 0.15)


@_family
def _value_range(rng: random.Random) -> _Task:
    return _make(rng, ("value_range", "spread", "max_minus_min"), [("nums", "values", "xs")],
                 "returns the difference between the largest and the smallest number in `$a`, or 0 for an empty list",
                 "возвращает разность между наибольшим и наименьшим числом в `$a` или 0 для пустого списка",
                 "return max($a) - min($a) if $a else 0",
                 lambda xs: (sorted(xs)[-1] - sorted(xs)[0]) if xs else 0,
                 [(_ints(rng),) for _ in range(4)] + [([],)], 0.1)


@_family
def _count_in_range(rng: random.Random) -> _Task:
    return _make(rng, ("count_in_range", "count_between", "in_range_count"), [("nums", "xs"), ("lo", "low"),
                                                                              ("hi", "high")],
                 "returns how many numbers in `$a` lie between `$b` and `$c` inclusive",
                 "возвращает, сколько чисел из `$a` лежат между `$b` и `$c` включительно",
                 "return sum(1 for x in $a if $b <= x <= $c)",
                 lambda xs, lo, hi: len([v for v in xs if v >= lo and v <= hi]),
                 [(_ints(rng), *sorted((rng.randint(-5, 15), rng.randint(0, 25)))) for _ in range(4)] + [([], 0, 1)],
                 0.15)


@_family
def _moving_average(rng: random.Random) -> _Task:
    k = rng.randint(2, 4)
    return _make(rng, ("moving_average", "rolling_mean", "window_averages"), [("nums", "values", "xs")],
                 "returns the averages of every window of $k consecutive numbers in `$a`, each rounded to 2 decimals "
                 "(an empty list if there are fewer than $k numbers)",
                 "возвращает средние значения всех окон из $k подряд идущих чисел списка `$a`, округлённые до 2 знаков "
                 "(пустой список, если чисел меньше $k)",
                 "return [round(sum($a[i:i + $k]) / $k, 2) for i in range(len($a) - $k + 1)]",
                 lambda xs: [round(sum(xs[i:i + k]) / k, 2) for i in range(max(0, len(xs) - k + 1))],
                 [(_ints(rng, 0, 50, (k, 8)),) for _ in range(4)] + [([1],)], 0.3, k=k)


@_family
def _merge_sorted(rng: random.Random) -> _Task:
    return _make(rng, ("merge_sorted", "merge_lists", "merge_two_sorted"), [("a", "left", "xs"), ("b", "right", "ys")],
                 "merges two lists `$a` and `$b` that are sorted in ascending order into one sorted list without "
                 "using sort() or sorted()",
                 "сливает два отсортированных по возрастанию списка `$a` и `$b` в один отсортированный список, не "
                 "используя sort() и sorted()",
                 """
                 result = []
                 i = j = 0
                 while i < len($a) and j < len($b):
                     if $a[i] <= $b[j]:
                         result.append($a[i])
                         i += 1
                     else:
                         result.append($b[j])
                         j += 1
                 return result + $a[i:] + $b[j:]
                 """,
                 lambda x, y: sorted(x + y),
                 [(sorted(_ints(rng, 0, 30, (0, 6))), sorted(_ints(rng, 0, 30, (0, 6)))) for _ in range(4)]
                 + [([], [1, 2])], 0.4)


@_family
def _first_index_above(rng: random.Random) -> _Task:
    return _make(rng, ("first_index_above", "find_first_greater", "index_of_first_above"), [("nums", "xs"),
                                                                                           ("limit", "t")],
                 "returns the index of the first element of `$a` that is greater than `$b`, or -1 if there is none",
                 "возвращает индекс первого элемента списка `$a`, который больше `$b`, или -1, если такого нет",
                 """
                 for i, x in enumerate($a):
                     if x > $b:
                         return i
                 return -1
                 """,
                 lambda xs, t: next((i for i in range(len(xs)) if xs[i] > t), -1),
                 [(_ints(rng), rng.randint(5, 35)) for _ in range(4)] + [([], 0)], 0.15)


@_family
def _product(rng: random.Random) -> _Task:
    return _make(rng, ("product", "multiply_all", "list_product"), [("nums", "values", "xs")],
                 "returns the product of all numbers in `$a` (1 for an empty list)",
                 "возвращает произведение всех чисел списка `$a` (1 для пустого списка)",
                 """
                 result = 1
                 for x in $a:
                     result *= x
                 return result
                 """,
                 lambda xs: math.prod(xs),
                 [(_ints(rng, -5, 9, (1, 5)),) for _ in range(4)] + [([],)], 0.1)


@_family
def _interleave(rng: random.Random) -> _Task:
    def ref(x: list[Any], y: list[Any]) -> list[Any]:
        gap = object()
        return [v for pair in itertools.zip_longest(x, y, fillvalue=gap) for v in pair if v is not gap]

    return _make(rng, ("interleave", "alternate", "zip_merge"), [("a", "first", "xs"), ("b", "second", "ys")],
                 "returns a list that takes elements alternately from `$a` and `$b`, starting with `$a`; the leftover "
                 "elements of the longer list go at the end",
                 "возвращает список, в котором элементы берутся по очереди из `$a` и `$b`, начиная с `$a`; оставшиеся "
                 "элементы более длинного списка идут в конце",
                 """
                 result = []
                 for i in range(max(len($a), len($b))):
                     if i < len($a):
                         result.append($a[i])
                     if i < len($b):
                         result.append($b[i])
                 return result
                 """,
                 ref, [(_ints(rng, 0, 9, (0, 5)), _ints(rng, 0, 9, (0, 5))) for _ in range(4)] + [([], [])], 0.3)


@_family
def _pairs_to_dict(rng: random.Random) -> _Task:
    return _make(rng, ("pairs_to_dict", "zip_to_dict", "make_dict"), [("keys", "names"), ("values", "numbers")],
                 "builds a dict from the lists `$a` and `$b` by pairing elements with the same index (extra elements "
                 "of the longer list are ignored)",
                 "строит словарь из списков `$a` и `$b`, сопоставляя элементы с одинаковыми индексами (лишние "
                 "элементы более длинного списка игнорируются)",
                 "return dict(zip($a, $b))",
                 lambda ks, vs: {ks[i]: vs[i] for i in range(min(len(ks), len(vs)))},
                 [(rng.sample(_ITEMS, rng.randint(1, 5)), _ints(rng, 1, 20, (1, 5))) for _ in range(4)] + [([], [1])],
                 0.1)


@_family
def _max_subarray(rng: random.Random) -> _Task:
    return _make(rng, ("max_subarray_sum", "best_segment_sum", "max_contiguous_sum"), [("nums", "xs", "values")],
                 "returns the largest sum of a non-empty contiguous part of the non-empty list `$a`",
                 "возвращает наибольшую сумму непустого непрерывного отрезка непустого списка `$a`",
                 """
                 best = current = $a[0]
                 for x in $a[1:]:
                     current = max(x, current + x)
                     best = max(best, current)
                 return best
                 """,
                 lambda xs: max(sum(xs[i:j]) for i in range(len(xs)) for j in range(i + 1, len(xs) + 1)),
                 [(_ints(rng, -10, 10, (1, 9)),) for _ in range(5)] + [([-3, -1, -2],)], 0.6)


@_family
def _count_pairs(rng: random.Random) -> _Task:
    return _make(rng, ("count_pairs_with_sum", "pairs_with_sum", "count_sum_pairs"), [("nums", "xs"),
                                                                                     ("target", "total")],
                 "returns how many pairs of positions i < j satisfy `$a`[i] + `$a`[j] == `$b`",
                 "возвращает, сколько существует пар позиций i < j, для которых `$a`[i] + `$a`[j] == `$b`",
                 """
                 count = 0
                 for i in range(len($a)):
                     for j in range(i + 1, len($a)):
                         if $a[i] + $a[j] == $b:
                             count += 1
                 return count
                 """,
                 lambda xs, t: sum(1 for x, y in itertools.combinations(xs, 2) if x + y == t),
                 [(_ints(rng, 0, 8, (3, 8)), rng.randint(4, 12)) for _ in range(4)] + [([], 3)], 0.35)


@_family
def _evens_first(rng: random.Random) -> _Task:
    return _make(rng, ("evens_first", "sort_by_parity", "even_then_odd"), [("nums", "values", "xs")],
                 "returns the numbers of `$a` with all even numbers first and then all odd numbers, keeping the "
                 "original order inside each group",
                 "возвращает числа списка `$a` так, что сначала идут все чётные, а затем все нечётные, с сохранением "
                 "исходного порядка внутри каждой группы",
                 "return [x for x in $a if x % 2 == 0] + [x for x in $a if x % 2 != 0]",
                 lambda xs: sorted(xs, key=lambda v: v % 2),
                 [(_ints(rng),) for _ in range(4)] + [([],)], 0.2)


@_family
def _top_n(rng: random.Random) -> _Task:
    return _make(rng, ("top_n", "largest_n", "n_largest"), [("nums", "xs", "scores"), ("n", "k", "count")],
                 "returns the `$b` largest numbers of `$a` in descending order (all of them if there are fewer)",
                 "возвращает `$b` наибольших чисел списка `$a` в порядке убывания (все, если чисел меньше)",
                 "return sorted($a, reverse=True)[:$b]",
                 lambda xs, n: heapq.nlargest(n, xs),
                 [(_ints(rng), rng.randint(1, 4)) for _ in range(4)] + [([3], 2)], 0.15)


# ----------------------------------------------------------------------------------------------------- dicts


def _scores(rng: random.Random) -> dict[str, int]:
    return {name: rng.randint(0, 20) for name in rng.sample(_ITEMS, rng.randint(1, 5))}


@_family
def _invert_dict(rng: random.Random) -> _Task:
    def unique_values() -> dict[str, int]:
        keys = rng.sample(_ITEMS, rng.randint(1, 5))
        return dict(zip(keys, rng.sample(range(1, 50), len(keys)), strict=True))

    return _make(rng, ("invert_dict", "swap_keys_values", "reverse_mapping"), [("d", "mapping", "data")],
                 "returns a new dict in which the keys and values of `$a` are swapped (all values are distinct)",
                 "возвращает новый словарь, в котором ключи и значения словаря `$a` поменялись местами (все значения "
                 "различны)",
                 "return {value: key for key, value in $a.items()}",
                 lambda d: dict(zip(d.values(), d.keys(), strict=True)),
                 [(unique_values(),) for _ in range(4)] + [({},)], 0.15)


@_family
def _group_by_length(rng: random.Random) -> _Task:
    return _make(rng, ("group_by_length", "bucket_by_length", "words_by_length"), [("words", "items", "strings")],
                 "groups the strings of the list `$a` by length: returns a dict that maps each length to the list of "
                 "strings of that length, in their original order",
                 "группирует строки списка `$a` по длине: возвращает словарь, который сопоставляет каждой длине список "
                 "строк этой длины в исходном порядке",
                 """
                 groups = {}
                 for word in $a:
                     groups.setdefault(len(word), []).append(word)
                 return groups
                 """,
                 lambda ws: {n: [w for w in ws if len(w) == n] for n in sorted({len(w) for w in ws})},
                 [([rng.choice(_WORDS) for _ in range(rng.randint(2, 6))],) for _ in range(4)] + [([],)], 0.3)


@_family
def _word_count(rng: random.Random) -> _Task:
    return _make(rng, ("word_frequencies", "count_each_word", "word_histogram"), [("text", "s", "sentence")],
                 "returns a dict that maps every word of `$a` (in lower case, words split on whitespace) to the number "
                 "of times it occurs",
                 "возвращает словарь, который сопоставляет каждому слову строки `$a` (в нижнем регистре, слова "
                 "разделены пробельными символами) число его вхождений",
                 """
                 counts = {}
                 for word in $a.lower().split():
                     counts[word] = counts.get(word, 0) + 1
                 return counts
                 """,
                 lambda s: dict(Counter(s.lower().split())),
                 [(_text(rng, 3, 9),) for _ in range(4)] + [("",)], 0.25)


@_family
def _merge_counts(rng: random.Random) -> _Task:
    return _make(rng, ("merge_counts", "add_dicts", "combine_counts"),
                 [("a", "first", "left"), ("b", "second", "right")],
                 "merges two dicts `$a` and `$b` that map keys to numbers: the result has every key of both, and the "
                 "values of keys present in both are added",
                 "объединяет два словаря `$a` и `$b`, сопоставляющих ключам числа: в результате есть все ключи обоих, "
                 "а значения общих ключей складываются",
                 """
                 result = dict($a)
                 for key, value in $b.items():
                     result[key] = result.get(key, 0) + value
                 return result
                 """,
                 lambda x, y: {k: x.get(k, 0) + y.get(k, 0) for k in [*x, *y]},
                 [(_scores(rng), _scores(rng)) for _ in range(4)] + [({}, {"tea": 1})], 0.3)


@_family
def _keys_above(rng: random.Random) -> _Task:
    return _make(rng, ("keys_above", "keys_greater_than", "filter_keys"), [("d", "scores", "stock"),
                                                                          ("limit", "threshold", "t")],
                 "returns the alphabetically sorted list of the keys of `$a` whose values are greater than `$b`",
                 "возвращает отсортированный по алфавиту список ключей словаря `$a`, значения которых больше `$b`",
                 "return sorted(key for key, value in $a.items() if value > $b)",
                 lambda d, t: sorted(filter(lambda k: d[k] > t, d)),
                 [(_scores(rng), rng.randint(3, 15)) for _ in range(4)] + [({}, 1)], 0.2)


@_family
def _sort_keys_by_value(rng: random.Random) -> _Task:
    return _make(rng, ("sort_keys_by_value", "rank_keys", "keys_by_score"), [("d", "scores", "counts")],
                 "returns the keys of `$a` sorted by value from largest to smallest; keys with equal values are sorted "
                 "alphabetically",
                 "возвращает ключи словаря `$a`, отсортированные по значению от большего к меньшему; ключи с "
                 "равными значениями упорядочены по алфавиту",
                 "return sorted($a, key=lambda key: (-$a[key], key))",
                 lambda d: [k for _, k in sorted((-v, k) for k, v in d.items())],
                 [({k: rng.randint(0, 4) for k in rng.sample(_ITEMS, rng.randint(2, 6))},) for _ in range(4)]
                 + [({},)], 0.35)


@_family
def _cart_total(rng: random.Random) -> _Task:
    def case() -> tuple[dict[str, int], dict[str, float]]:
        items = rng.sample(_ITEMS, rng.randint(1, 4))
        prices = {name: rng.randint(50, 999) / 100 for name in _ITEMS}
        return {name: rng.randint(1, 5) for name in items}, {k: prices[k] for k in sorted(prices)[:6] + items}

    return _make(rng, ("cart_total", "total_cost", "basket_total"), [("cart", "quantities"), ("prices", "price_list")],
                 "returns the total cost of a shopping cart rounded to 2 decimals: `$a` maps item names to quantities "
                 "and `$b` maps item names to unit prices",
                 "возвращает общую стоимость корзины, округлённую до 2 знаков: `$a` сопоставляет товарам количества, "
                 "а `$b` — цены за единицу",
                 "return round(sum(qty * $b[item] for item, qty in $a.items()), 2)",
                 lambda c, p: round(math.fsum(p[k] * q for k, q in c.items()), 2),
                 [case() for _ in range(4)] + [({}, {"tea": 1.5})], 0.3)


# ------------------------------------------------------------------------------------------------------ math


@_family
def _factorial(rng: random.Random) -> _Task:
    return _make(rng, ("factorial", "fact", "compute_factorial"), [("n", "k")],
                 "returns `$a`! for a non-negative integer `$a` (0! is 1) without using the math module",
                 "возвращает `$a`! для неотрицательного целого `$a` (0! равно 1), не используя модуль math",
                 """
                 result = 1
                 for i in range(2, $a + 1):
                     result *= i
                 return result
                 """,
                 math.factorial, [(v,) for v in rng.sample(range(1, 16), 4)] + [(0,)], 0.1)


@_family
def _fibonacci(rng: random.Random) -> _Task:
    def ref(n: int) -> int:  # Binet's formula: exact in floating point far beyond the n used here
        return round(((1 + 5 ** 0.5) / 2) ** n / 5 ** 0.5)

    return _make(rng, ("fibonacci", "fib", "nth_fibonacci"), [("n", "k", "index")],
                 "returns the `$a`-th Fibonacci number, where F(0) = 0 and F(1) = 1",
                 "возвращает `$a`-е число Фибоначчи, где F(0) = 0 и F(1) = 1",
                 """
                 a, b = 0, 1
                 for _ in range($a):
                     a, b = b, a + b
                 return a
                 """,
                 ref, [(v,) for v in rng.sample(range(2, 40), 4)] + [(0,), (1,)], 0.2)


@_family
def _is_prime(rng: random.Random) -> _Task:
    return _make(rng, ("is_prime", "prime", "check_prime"), [("n", "number", "x")],
                 "returns True if the integer `$a` is a prime number, otherwise False",
                 "возвращает True, если целое число `$a` простое, иначе False",
                 """
                 if $a < 2:
                     return False
                 d = 2
                 while d * d <= $a:
                     if $a % d == 0:
                         return False
                     d += 1
                 return True
                 """,
                 lambda n: n > 1 and all(n % d for d in range(2, n)),
                 [(v,) for v in rng.sample(_PRIMES, 3) + rng.sample(range(4, 200, 2), 2)] + [(91,), (1,)], 0.25)


@_family
def _gcd(rng: random.Random) -> _Task:
    return _make(rng, ("gcd", "greatest_common_divisor", "hcf"), [("a", "x", "m"), ("b", "y", "n")],
                 "returns the greatest common divisor of the positive integers `$a` and `$b` (use Euclid's algorithm)",
                 "возвращает наибольший общий делитель натуральных чисел `$a` и `$b` (используйте алгоритм Евклида)",
                 """
                 while $b:
                     $a, $b = $b, $a % $b
                 return $a
                 """,
                 math.gcd, [(rng.randint(1, 20) * k, rng.randint(1, 20) * k) for k in rng.sample(range(1, 13), 4)]
                 + [(17, 5)], 0.2)


@_family
def _digit_sum(rng: random.Random) -> _Task:
    return _make(rng, ("digit_sum", "sum_of_digits", "digits_total"), [("n", "number", "x")],
                 "returns the sum of the decimal digits of the non-negative integer `$a`",
                 "возвращает сумму цифр неотрицательного целого числа `$a`",
                 """
                 total = 0
                 while $a > 0:
                     total += $a % 10
                     $a //= 10
                 return total
                 """,
                 lambda n: sum(map(int, str(n))), [(rng.randint(10, 10 ** rng.randint(2, 9)),) for _ in range(4)]
                 + [(0,)], 0.15)


@_family
def _count_divisors(rng: random.Random) -> _Task:
    return _make(rng, ("count_divisors", "num_divisors", "divisor_count"), [("n", "number")],
                 "returns how many positive divisors the positive integer `$a` has",
                 "возвращает количество натуральных делителей натурального числа `$a`",
                 "return sum(1 for d in range(1, $a + 1) if $a % d == 0)",
                 lambda n: len([d for d in range(1, n + 1) if n % d == 0]),
                 [(v,) for v in rng.sample(range(2, 120), 4)] + [(1,)], 0.15)


@_family
def _celsius(rng: random.Random) -> _Task:
    return _make(rng, ("celsius_to_fahrenheit", "c_to_f", "to_fahrenheit"), [("celsius", "c", "degrees")],
                 "converts the temperature `$a` from degrees Celsius to Fahrenheit (F = C * 9 / 5 + 32) and returns "
                 "it rounded to 1 decimal",
                 "переводит температуру `$a` из градусов Цельсия в градусы Фаренгейта (F = C * 9 / 5 + 32) и "
                 "возвращает её, округлив до 1 знака после запятой",
                 "return round($a * 9 / 5 + 32, 1)",
                 lambda c: round(c * 9 / 5 + 32, 1),
                 [(rng.randint(-40, 45),) for _ in range(3)] + [(rng.randint(-100, 400) / 10,), (0,)], 0.1)


@_family
def _leap_year(rng: random.Random) -> _Task:
    return _make(rng, ("is_leap_year", "leap_year", "is_leap"), [("year", "y")],
                 "returns True if `$a` is a leap year in the Gregorian calendar (divisible by 4, except centuries "
                 "that are not divisible by 400), otherwise False",
                 "возвращает True, если `$a` — високосный год по григорианскому календарю (делится на 4, кроме веков, "
                 "не делящихся на 400), иначе False",
                 "return $a % 4 == 0 and ($a % 100 != 0 or $a % 400 == 0)",
                 calendar.isleap,
                 [(rng.randint(1800, 2100),) for _ in range(3)] + [(1900,), (2000,), (2024,)], 0.15)


@_family
def _sum_of_squares(rng: random.Random) -> _Task:
    return _make(rng, ("sum_of_squares", "square_sum", "sum_squares"), [("n", "k")],
                 "returns 1² + 2² + ... + `$a`² for a non-negative integer `$a`",
                 "возвращает 1² + 2² + ... + `$a`² для неотрицательного целого `$a`",
                 "return sum(i * i for i in range(1, $a + 1))",
                 lambda n: n * (n + 1) * (2 * n + 1) // 6, [(rng.randint(1, 60),) for _ in range(4)] + [(0,)], 0.1)


@_family
def _collatz(rng: random.Random) -> _Task:
    def ref(n: int, steps: int = 0) -> int:
        return steps if n == 1 else ref(n // 2 if n % 2 == 0 else 3 * n + 1, steps + 1)

    return _make(rng, ("collatz_steps", "collatz_length", "steps_to_one"), [("n", "start")],
                 "returns how many steps the Collatz process needs to reach 1 from the positive integer `$a` (an even "
                 "number n becomes n // 2, an odd one becomes 3 * n + 1)",
                 "возвращает, за сколько шагов процесс Коллатца доходит до 1 из натурального числа `$a` (чётное n "
                 "превращается в n // 2, нечётное — в 3 * n + 1)",
                 """
                 steps = 0
                 while $a != 1:
                     $a = $a // 2 if $a % 2 == 0 else 3 * $a + 1
                     steps += 1
                 return steps
                 """,
                 ref, [(rng.randint(2, 100),) for _ in range(4)] + [(1,)], 0.3)


@_family
def _to_binary(rng: random.Random) -> _Task:
    return _make(rng, ("to_binary", "binary_string", "int_to_bin"), [("n", "number")],
                 "returns the binary representation of the non-negative integer `$a` as a string, without the '0b' "
                 "prefix and without using bin() or format()",
                 "возвращает двоичную запись неотрицательного целого `$a` в виде строки без префикса '0b', не "
                 "используя bin() и format()",
                 """
                 if $a == 0:
                     return '0'
                 digits = []
                 while $a > 0:
                     digits.append(str($a % 2))
                     $a //= 2
                 return ''.join(reversed(digits))
                 """,
                 lambda n: bin(n)[2:], [(rng.randint(1, 1000),) for _ in range(4)] + [(0,)], 0.3)


@_family
def _clamp(rng: random.Random) -> _Task:
    return _make(rng, ("clamp", "limit", "bound"),
                 [("x", "value"), ("lo", "low", "minimum"), ("hi", "high", "maximum")],
                 "returns `$a` limited to the range from `$b` to `$c`: `$b` if it is smaller, `$c` if it is larger, "
                 "otherwise `$a` itself",
                 "возвращает `$a`, ограниченное отрезком от `$b` до `$c`: `$b`, если оно меньше, `$c`, если больше, "
                 "иначе само `$a`",
                 "return max($b, min($a, $c))",
                 lambda x, lo, hi: sorted((lo, x, hi))[1],
                 [(rng.randint(-20, 40), rng.randint(-5, 5), rng.randint(10, 20)) for _ in range(4)] + [(5, 5, 5)], 0.1)


@_family
def _lcm(rng: random.Random) -> _Task:
    return _make(rng, ("lcm", "least_common_multiple", "lowest_common_multiple"), [("a", "x"), ("b", "y")],
                 "returns the least common multiple of the positive integers `$a` and `$b`",
                 "возвращает наименьшее общее кратное натуральных чисел `$a` и `$b`",
                 """
                 g, h = $a, $b
                 while h:
                     g, h = h, g % h
                 return $a * $b // g
                 """,
                 lambda x, y: next(m for m in range(max(x, y), x * y + 1) if m % x == 0 and m % y == 0),
                 [(rng.randint(1, 30), rng.randint(1, 30)) for _ in range(4)] + [(7, 7)], 0.3)


# --------------------------------------------------------------------------------------------------- parsing


@_family
def _parse_pairs(rng: random.Random) -> _Task:
    sep, eq = rng.choice((";", ",", "&")), rng.choice(("=", ":"))

    def case() -> str:
        keys = rng.sample(("a", "b", "x", "y", "id", "size", "count", "port", "level"), rng.randint(1, 4))
        return sep.join(f"{k}{eq}{rng.randint(0, 500)}" for k in keys)

    return _make(rng, ("parse_pairs", "parse_key_values", "parse_settings"), [("s", "text", "line")],
                 "parses a string like 'a${eq}1${sep}b${eq}2' (pairs separated by '$sep', key and value separated by "
                 "'$eq') into a dict that maps keys to integer values; an empty string gives an empty dict",
                 "разбирает строку вида 'a${eq}1${sep}b${eq}2' (пары разделены '$sep', ключ и значение — '$eq') в "
                 "словарь, который сопоставляет ключам целые значения; пустая строка даёт пустой словарь",
                 """
                 result = {}
                 if not $a:
                     return result
                 for pair in $a.split('$sep'):
                     key, value = pair.split('$eq')
                     result[key] = int(value)
                 return result
                 """,
                 lambda s: {m[0]: int(m[1]) for m in re.findall(rf"(\w+){re.escape(eq)}(\d+)", s)},
                 [(case(),) for _ in range(4)] + [("",)], 0.3, sep=sep, eq=eq)


@_family
def _extract_numbers(rng: random.Random) -> _Task:
    def case() -> str:
        return " ".join(rng.choice((_text(rng, 1, 2), str(rng.randint(0, 999)), f"x{rng.randint(1, 99)}"))
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

    return _make(rng, ("extract_numbers", "find_numbers", "numbers_in_text"), [("s", "text")],
                 "returns the list of all non-negative integers written in `$a`, in order (a number is a maximal run "
                 "of digits)",
                 "возвращает список всех неотрицательных целых чисел, записанных в строке `$a`, по порядку (число — "
                 "это максимальная последовательность цифр)",
                 "return [int(number) for number in re.findall(r'\\d+', $a)]",
                 ref, [(case(),) for _ in range(4)] + [("no digits here",)], 0.3)


@_family
def _time_to_minutes(rng: random.Random) -> _Task:
    return _make(rng, ("time_to_minutes", "minutes_since_midnight", "parse_time"), [("t", "time", "hhmm")],
                 "converts a time string 'HH:MM' into the number of minutes since midnight",
                 "переводит строку времени 'HH:MM' в количество минут от полуночи",
                 """
                 hours, minutes = $a.split(':')
                 return int(hours) * 60 + int(minutes)
                 """,
                 lambda t: int(t[:2]) * 60 + int(t[3:]),
                 [(f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",) for _ in range(4)] + [("00:00",)], 0.15)


@_family
def _minutes_to_time(rng: random.Random) -> _Task:
    return _make(rng, ("minutes_to_time", "format_minutes", "to_hhmm"), [("minutes", "m", "total")],
                 "converts a number of minutes since midnight (0 <= `$a` < 1440) into a string 'HH:MM' with two digits "
                 "for hours and for minutes",
                 "переводит количество минут от полуночи (0 <= `$a` < 1440) в строку 'HH:MM' с двумя цифрами для "
                 "часов и для минут",
                 "return f'{$a // 60:02d}:{$a % 60:02d}'",
                 lambda m: "{:02d}:{:02d}".format(*divmod(m, 60)),
                 [(rng.randint(0, 1439),) for _ in range(4)] + [(5,)], 0.2)


@_family
def _split_fields(rng: random.Random) -> _Task:
    sep = rng.choice((",", ";", "|"))

    def case() -> str:
        return sep.join(rng.choice(("", " ", "  ")) + rng.choice(_WORDS) + rng.choice(("", " "))
                        for _ in range(rng.randint(1, 5)))

    return _make(rng, ("split_fields", "parse_csv_line", "split_and_strip"), [("line", "s", "row")],
                 "splits the string `$a` on '$sep' and returns the list of fields with surrounding spaces removed",
                 "разбивает строку `$a` по символу '$sep' и возвращает список полей без пробелов по краям",
                 "return [field.strip() for field in $a.split('$sep')]",
                 lambda s: [f.strip(" ") for f in re.split(re.escape(sep), s)],
                 [(case(),) for _ in range(4)] + [("",)], 0.15, sep=sep)


@_family
def _sum_expression(rng: random.Random) -> _Task:
    def ref(s: str) -> int:
        total = 0
        for part in s.split("+"):
            total += int(part)
        return total

    return _make(rng, ("sum_expression", "evaluate_sum", "add_up"), [("expr", "s", "expression")],
                 "returns the value of a string like '3+5+10' made of non-negative integers joined by '+' signs "
                 "(without using eval)",
                 "возвращает значение строки вида '3+5+10', составленной из неотрицательных целых чисел и знаков '+' "
                 "(без использования eval)",
                 "return sum(int(part) for part in $a.split('+'))",
                 ref, [("+".join(str(v) for v in _ints(rng, 0, 300, (1, 6))),) for _ in range(5)], 0.15)


@_family
def _parse_date(rng: random.Random) -> _Task:
    return _make(rng, ("parse_date", "split_date", "date_parts"), [("s", "date", "text")],
                 "parses a date in the format 'DD.MM.YYYY' and returns a tuple (year, month, day) of integers",
                 "разбирает дату в формате 'DD.MM.YYYY' и возвращает кортеж целых чисел (год, месяц, день)",
                 """
                 day, month, year = $a.split('.')
                 return int(year), int(month), int(day)
                 """,
                 lambda s: (int(s[6:]), int(s[3:5]), int(s[:2])),
                 [(f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2030)}",) for _ in range(4)],
                 0.15)


# ------------------------------------------------------------------------------------------------ algorithms


@_family
def _binary_search(rng: random.Random) -> _Task:
    def case() -> tuple[list[int], int]:
        xs = sorted(rng.sample(range(0, 100), rng.randint(1, 10)))
        return xs, rng.choice(xs) if rng.random() < 0.7 else rng.randint(0, 100)

    return _make(rng, ("binary_search", "find_index", "search_sorted"), [("items", "xs", "values"),
                                                                        ("target", "x", "value")],
                 "returns the index of `$b` in the ascending sorted list `$a` of distinct numbers using binary search, "
                 "or -1 if it is absent",
                 "возвращает индекс `$b` в отсортированном по возрастанию списке различных чисел `$a`, используя "
                 "двоичный поиск, или -1, если такого элемента нет",
                 """
                 lo, hi = 0, len($a) - 1
                 while lo <= hi:
                     mid = (lo + hi) // 2
                     if $a[mid] == $b:
                         return mid
                     if $a[mid] < $b:
                         lo = mid + 1
                     else:
                         hi = mid - 1
                 return -1
                 """,
                 lambda xs, t: xs.index(t) if t in xs else -1, [case() for _ in range(5)] + [([], 1)], 0.45)


@_family
def _is_balanced(rng: random.Random) -> _Task:
    samples = ["([]{})", "([)]", "((())", "{[()()]}", "", "a(b)c[d]", "}{", "(((", "[{}](x)", "(]"]

    def ref(s: str) -> bool:
        s = re.sub(r"[^()\[\]{}]", "", s)
        while any(p in s for p in ("()", "[]", "{}")):
            s = s.replace("()", "").replace("[]", "").replace("{}", "")
        return not s

    return _make(rng, ("is_balanced", "balanced_brackets", "check_brackets"), [("s", "text", "expr")],
                 "returns True if the brackets (), [] and {} in `$a` are balanced and properly nested (other "
                 "characters are ignored), otherwise False",
                 "возвращает True, если скобки (), [] и {} в строке `$a` сбалансированы и правильно вложены (прочие "
                 "символы игнорируются), иначе False",
                 """
                 pairs = {')': '(', ']': '[', '}': '{'}
                 stack = []
                 for ch in $a:
                     if ch in '([{':
                         stack.append(ch)
                     elif ch in pairs:
                         if not stack or stack.pop() != pairs[ch]:
                             return False
                 return not stack
                 """,
                 ref, [(s,) for s in rng.sample(samples, 6)], 0.5)


@_family
def _transpose(rng: random.Random) -> _Task:
    def matrix() -> list[list[int]]:
        cols = rng.randint(1, 4)
        return [[rng.randint(0, 9) for _ in range(cols)] for _ in range(rng.randint(1, 4))]

    return _make(rng, ("transpose", "transpose_matrix", "flip_matrix"), [("matrix", "m", "grid")],
                 "returns the transpose of the rectangular matrix `$a` given as a non-empty list of rows",
                 "возвращает транспонированную прямоугольную матрицу `$a`, заданную непустым списком строк",
                 "return [[row[i] for row in $a] for i in range(len($a[0]))]",
                 lambda m: [list(col) for col in zip(*m, strict=True)], [(matrix(),) for _ in range(5)], 0.3)


_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"),
          (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def _roman(n: int) -> str:
    out = ""
    for value, letters in _ROMAN:
        count, n = divmod(n, value)
        out += letters * count
    return out


@_family
def _roman_to_int(rng: random.Random) -> _Task:
    return _make(rng, ("roman_to_int", "from_roman", "parse_roman"), [("s", "roman", "numeral")],
                 "converts the Roman numeral `$a` (using I, V, X, L, C, D, M and the subtractive forms like IV and CM) "
                 "into an integer",
                 "переводит римское число `$a` (символы I, V, X, L, C, D, M и вычитательные формы вроде IV и CM) в "
                 "целое число",
                 """
                 values = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}
                 total = 0
                 for i, ch in enumerate($a):
                     if i + 1 < len($a) and values[ch] < values[$a[i + 1]]:
                         total -= values[ch]
                     else:
                         total += values[ch]
                 return total
                 """,
                 lambda s: next(n for n in range(1, 4000) if _roman(n) == s),
                 [(_roman(rng.randint(1, 3999)),) for _ in range(5)], 0.5)


@_family
def _int_to_roman(rng: random.Random) -> _Task:
    return _make(rng, ("int_to_roman", "to_roman", "roman_numeral"), [("n", "number")],
                 "converts an integer `$a` from 1 to 3999 into a Roman numeral (with subtractive forms like IV, IX, "
                 "XL, CM)",
                 "переводит целое число `$a` от 1 до 3999 в римскую запись (с вычитательными формами IV, IX, XL, CM)",
                 """
                 numerals = [(1000, 'M'), (900, 'CM'), (500, 'D'), (400, 'CD'), (100, 'C'), (90, 'XC'),
                             (50, 'L'), (40, 'XL'), (10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'), (1, 'I')]
                 result = ''
                 for value, letters in numerals:
                     while $a >= value:
                         result += letters
                         $a -= value
                 return result
                 """,
                 _roman, [(rng.randint(1, 3999),) for _ in range(5)], 0.5)


@_family
def _two_sum(rng: random.Random) -> _Task:
    def case() -> tuple[list[int], int]:
        xs = _ints(rng, 0, 20, (2, 7))
        return xs, rng.choice((xs[0] + xs[-1], rng.randint(0, 40)))

    return _make(rng, ("two_sum", "find_pair", "pair_indices"), [("nums", "xs"), ("target", "total")],
                 "returns a tuple (i, j) with i < j of positions whose elements of `$a` add up to `$b` — the pair with "
                 "the smallest i, and for that i the smallest j — or None if there is no such pair",
                 "возвращает кортеж (i, j), i < j, позиций элементов списка `$a` с суммой `$b` — пару с наименьшим i, "
                 "а при нём с наименьшим j — или None, если такой пары нет",
                 """
                 for i in range(len($a)):
                     for j in range(i + 1, len($a)):
                         if $a[i] + $a[j] == $b:
                             return i, j
                 return None
                 """,
                 lambda xs, t: next(((i, j) for i, j in itertools.combinations(range(len(xs)), 2)
                                     if xs[i] + xs[j] == t), None),
                 [case() for _ in range(5)] + [([1], 2)], 0.4)


@_family
def _sort_by_second(rng: random.Random) -> _Task:
    def case() -> list[tuple[str, int]]:
        return [(rng.choice(_ITEMS), rng.randint(0, 9)) for _ in range(rng.randint(0, 5))]

    return _make(rng, ("sort_by_second", "sort_pairs", "order_by_value"), [("pairs", "items", "records")],
                 "returns the list of pairs `$a` sorted by their second element in ascending order (pairs with equal "
                 "second elements keep their original order)",
                 "возвращает список пар `$a`, отсортированный по возрастанию второго элемента (пары с равными вторыми "
                 "элементами сохраняют исходный порядок)",
                 "return sorted($a, key=lambda pair: pair[1])",
                 lambda ps: [p for _, _, p in sorted((p[1], i, p) for i, p in enumerate(ps))],
                 [(case(),) for _ in range(5)], 0.25)


# ------------------------------------------------------------------------------------------ prompts and items

_PROMPTS = {
    "en": ("Write a Python function `{sig}` that {desc}.\n\nExamples:\n{block}",
           "Implement `{sig}` in Python. It {desc}. For example, {inline}.",
           "I need a Python function `{sig}` which {desc}. Example: {inline}.",
           "Create a function {sig} that {desc}.\n\nFor example:\n{block}",
           "Please write `{sig}`: the function {desc}.\n{doctest}"),
    "ru": ("Напишите функцию на Python `{sig}`, которая {desc}.\n\nПримеры:\n{block}",
           "Реализуйте на Python функцию `{sig}`: она {desc}. Например, {inline}.",
           "Нужна функция `{sig}` на Python, которая {desc}. Пример: {inline}.",
           "Напиши функцию {sig}, которая {desc}.\n\nНапример:\n{block}",
           "Реализуйте `{sig}` — функция {desc}.\n{doctest}"),
}
_INLINE = {"en": ("`{call}` should return `{out}`", " and "), "ru": ("`{call}` должна вернуть `{out}`", ", а ")}


def _call(name: str, args: tuple[Any, ...]) -> str:
    return f"{name}({', '.join(repr(a) for a in args)})"


def _docstring(desc: str, lang: str) -> str:
    """The description as a one-line docstring: its main clause, imperative in English ("returns" -> "Return")."""
    text = re.sub(r" \((?=[^)]*[a-zа-я])[^)]*\)", "", desc.replace("`", ""))  # drop asides, keep "()"
    text = re.split(r"; |: | — ", text)[0]
    if lang == "en":
        first, _, rest = text.partition(" ")
        first = first[:-2] if first.endswith(("sses", "shes", "ches", "xes")) else first.removesuffix("s")
        text = re.sub(r" and (return|leave)s ", r" and \1 ", f"{first} {rest}")
    return text[0].upper() + text[1:] + "."


def _solution(task: _Task, lang: str) -> str:
    desc = task.en if lang == "en" else task.ru
    header = f"def {task.name}({', '.join(task.args)}):\n    \"\"\"{_docstring(desc, lang)}\"\"\"\n"
    imports = "import re\n\n\n" if re.search(r"\bre\.", task.body) else ""
    return imports + header + textwrap.indent(task.body, "    ") + "\n"


def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    task = rng.choice(_FAMILIES)(rng)
    cases = [(args, task.ref(*copy.deepcopy(args))) for args in task.cases]
    tests = "".join(f"assert {_call(task.name, args)} == {out!r}\n" for args, out in cases)
    shown = rng.sample(cases[:-1], rng.choice((1, 2)))
    calls = [(_call(task.name, args), repr(out)) for args, out in shown]
    pattern, joiner = _INLINE[lang]
    prompt = rng.choice(_PROMPTS[lang]).format(
        sig=f"{task.name}({', '.join(task.args)})", desc=task.en if lang == "en" else task.ru,
        block="\n".join(f"{call} -> {out}" for call, out in calls),
        inline=joiner.join(pattern.format(call=call, out=out) for call, out in calls),
        doctest="\n".join(f">>> {call}\n{out}" for call, out in calls))
    solution = _solution(task, lang)
    lines = solution.count("\n")
    return {
        "id": item_id(TASK, prompt, tests),
        "lang": lang,
        "difficulty": difficulty(0.7 * task.level + 0.03 * lines + 0.02 * len(task.args)),
        "prompt": prompt,
        "entry_point": task.name,
        "tests": tests,
        "solution": solution,
    }


_RUNNER = """
import json, signal, sys

def _timeout(*_):
    raise TimeoutError

signal.signal(signal.SIGALRM, _timeout)
verdicts = []
for item in json.load(sys.stdin):
    namespace = {"__name__": "__solution__"}
    try:
        signal.setitimer(signal.ITIMER_REAL, 2.0)
        exec(item["solution"], namespace)
        exec(item["tests"], namespace)
        verdicts.append(True)
    except BaseException:
        verdicts.append(False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
json.dump(verdicts, sys.stdout)
"""


def run_tests(items: list[dict[str, Any]], timeout: float = 120.0) -> list[bool]:
    """Run each item's `tests` against its `solution` in one fresh isolated interpreter (2 s per item); True where
    every assert passed. Meant for this module's own reference solutions, not for untrusted code."""
    payload = json.dumps([{"solution": it["solution"], "tests": it["tests"]} for it in items])
    done = subprocess.run([sys.executable, "-I", "-c", _RUNNER], input=payload, capture_output=True, text=True,
                          timeout=timeout, check=True)
    return json.loads(done.stdout)


def generate(n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]:
    """`n` distinct tested coding eval items (keys: id, lang, difficulty, prompt, entry_point, tests, solution).
    Training seeds < 1000, evaluation seeds >= 1000."""
    return collect(TASK, n, seed, lang, _draft, key="prompt", validate=run_tests)


def to_chat(item: dict[str, Any]) -> dict[str, Any]:
    """The training example: the request -> the function in a python block."""
    return chat_example(TASK, item, item["prompt"], f"```python\n{item['solution'].rstrip()}\n```")
