"""How the text-to-SQL questions are worded: `questions.yaml` (the templates of every question kind with its
weight, the comparison and aggregate words, the Russian words that agree with a gender) and the template fields
a table or a column fills in (`{t_pl}` "customers", `{t_rg}` "клиентов", `{c_with}` "с ценой", ...).

Fields come in families under a prefix: `ctx(t=table, c="price")` gives `t`, `t_sg`, `t_pl`, ... for the table
and `c`, `c_en`, `c_rg`, ... for the column (`_table_words` and `_column_words` list them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from moe_system.data.common import Phrases, bad_data, phrases, read_yaml
from moe_system.data.sql.schema import Table
from moe_system.data.sql.vocabulary import vocabulary

SOURCE = "moe_system/data/sql/questions.yaml"
_GENDERED = ("one", "each", "which", "who", "what", "equals", "most", "least", "most_ins", "least_ins")


@dataclass(frozen=True)
class Questions:
    kinds: dict[str, dict[str, Phrases]]  # kind -> template group -> language -> templates
    weights: dict[str, int]  # kind -> how often it is drawn (file order)
    headers: Phrases  # the line before the schema in a chat example
    comparisons: dict[str, Phrases]  # ">", "<", ">=", "<=" -> ways to say it
    aggregates: dict[str, dict[str, str]]  # AVG... -> en, and the Russian adjective per gender (m, f, n)
    gendered: dict[str, dict[str, str]]  # word -> gender -> form
    words: dict[str, Any]  # the other words the question kinds use


@cache
def questions() -> Questions:
    """The checked contents of `questions.yaml` (read once)."""
    raw = read_yaml("moe_system.data.sql", "questions.yaml")
    if not isinstance(raw, dict) or not isinstance(raw.get("kinds"), dict):
        raise bad_data(SOURCE, "file", "expected a mapping with `kinds`")
    kinds: dict[str, dict[str, Phrases]] = {}
    weights: dict[str, int] = {}
    for kind, groups in raw["kinds"].items():
        if not isinstance(groups, dict) or not isinstance(groups.get("weight"), int) or len(groups) < 2:
            raise bad_data(SOURCE, f"kinds.{kind}", "expected a weight and template groups")
        weights[kind] = groups["weight"]
        kinds[kind] = {name: phrases(value, SOURCE, f"kinds.{kind}.{name}")
                       for name, value in groups.items() if name != "weight"}
    comparisons = {op: phrases(raw.get("comparisons", {}).get(op), SOURCE, f"comparisons.{op}")
                   for op in (">", "<", ">=", "<=")}
    gendered = raw.get("gendered") or {}
    for word in _GENDERED:
        if set(gendered.get(word) or ()) != {"m", "f", "n"}:
            raise bad_data(SOURCE, f"gendered.{word}", "expected the forms m, f and n")
    aggregates = raw.get("aggregates") or {}
    for fn in ("AVG", "MAX", "MIN", "SUM"):
        if set(aggregates.get(fn) or ()) != {"en", "m", "f", "n"}:
            raise bad_data(SOURCE, f"aggregates.{fn}", "expected en and the Russian forms m, f and n")
    return Questions(kinds, weights, phrases(raw.get("headers"), SOURCE, "headers"), comparisons, aggregates,
                     gendered, raw.get("words") or {})


def say(rng: random.Random, lang: str, group: Phrases, ctx: dict[str, Any]) -> str:
    """One template of the group in `lang`, filled from `ctx`."""
    return rng.choice(group[lang]).format(**ctx)


def op_words(rng: random.Random, lang: str, op: str) -> str:
    """A way to say a comparison (">" -> "more than", "больше", ...)."""
    return rng.choice(questions().comparisons[op][lang])


# ---------------------------------------------------------------------------------------------- template fields


def _with(word: str) -> str:
    """Russian "с"/"со" before an instrumental phrase."""
    clash = word[:1] in "сзшжщСЗШЖЩ" and word[1:2] not in "аеёиоуыэюя"
    return ("со " if clash else "с ") + word


def _a(phrase: str) -> str:
    """English indefinite article + phrase."""
    return ("an " if phrase[0] in "aeioAEIO" or phrase.startswith("ID") else "a ") + phrase


def _accusative(phrase: str, gender: str) -> str:
    """Russian accusative of a singular inanimate noun phrase: only feminine -а/-я nouns change."""
    head, _, rest = phrase.partition(" ")
    if gender == "f" and head[-1] in "ая":
        head = head[:-1] + ("у" if head[-1] == "а" else "ю")
    return f"{head} {rest}".strip()


def _table_words(t: Table, p: str) -> dict[str, str]:
    w, q = t.d.words, questions()
    g = {word: forms[w.gender] for word, forms in q.gendered.items()}
    animate = w.ru_pl_acc == w.ru_pl_gen != w.ru_pl
    return {
        p: t.name, f"{p}_sg": w.en_sg, f"{p}_pl": w.en_pl, f"{p}_a": _a(w.en_sg),
        f"{p}_r1": w.ru_sg, f"{p}_r1g": w.ru_sg_gen, f"{p}_r": w.ru_pl, f"{p}_rg": w.ru_pl_gen,
        f"{p}_all": f"{q.words['all_animate' if animate else 'all_inanimate']} {w.ru_pl_acc}",
        f"{p}_one": g["one"], f"{p}_each": f"{g['each']} {w.ru_sg_gen}", f"{p}_which": f"{g['which']} {w.ru_sg_gen}",
        f"{p}_who": g["who"],
    }


def _column_words(column: str, p: str) -> dict[str, str]:
    w = vocabulary().columns[column]
    g = {word: forms[w.gender] for word, forms in questions().gendered.items()}
    return {
        p: column, f"{p}_en": w.en, f"{p}_pl": w.en_pl, f"{p}_a": _a(w.en), f"{p}_r": w.ru, f"{p}_rg": w.ru_gen,
        f"{p}_ra": _accusative(w.ru, w.gender), f"{p}_with": _with(w.ru_ins), f"{p}_rpl": w.ru_pl,
        f"{p}_rgpl": w.ru_gen_pl, f"{p}_what": g["what"], f"{p}_eq": g["equals"],
        f"{p}_each": f"{g['each']} {w.ru_gen}", f"{p}_most": g["most"], f"{p}_least": g["least"],
        f"{p}_with_most": _with(f"{g['most_ins']} {w.ru_ins}"),
        f"{p}_with_least": _with(f"{g['least_ins']} {w.ru_ins}"),
    }


def ctx(**parts: Table | str) -> dict[str, Any]:
    """Template fields for tables (`Table`) and columns (names) under the given prefixes."""
    out: dict[str, Any] = {}
    for p, x in parts.items():
        out |= _table_words(x, p) if isinstance(x, Table) else _column_words(x, p)
    return out


def agg_words(fn: str, column: str, p: str) -> dict[str, str]:
    """`{p}_fn` "average", `{p}_fn_r` "средняя" (agreeing with the column), `{p}_fn_n` "среднее"."""
    words = questions().aggregates[fn]
    return {f"{p}_fn": words["en"], f"{p}_fn_r": words[vocabulary().columns[column].gender], f"{p}_fn_n": words["n"]}


# ------------------------------------------------------------------------------------------------------ numbers


def nice(value: float) -> int:
    """Round a data value to a number a person would type (2 significant digits above 100, years kept)."""
    if abs(value) < 100 or (1800 <= value <= 2100 and value == int(value)):
        return round(value)
    magnitude = 10 ** (len(str(int(abs(value)))) - 2)
    return int(round(value / magnitude) * magnitude)


def threshold(rng: random.Random, values: list[Any]) -> int:
    """A round number from the middle of the values (a filter that keeps some rows and drops others)."""
    ordered = sorted(values)
    return nice(ordered[rng.randint(len(ordered) // 5, max(len(ordered) // 5, (4 * len(ordered)) // 5 - 1))])


def say_dates(rng: random.Random, lang: str, *isos: str) -> list[str]:
    """ISO dates as a person writes them: all ISO, or all in words."""
    if rng.random() < 0.5:
        return list(isos)
    days = [date.fromisoformat(iso) for iso in isos]
    months, written = vocabulary().months[lang], questions().words["date"][lang]
    return [written.format(day=d.day, month=months[d.month - 1], year=d.year) for d in days]
