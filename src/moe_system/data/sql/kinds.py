"""The one-table question kinds of the text-to-SQL data: each draws what to ask about a schema and returns the
question (worded from `questions.yaml`) with its gold SQLite query, or None when the schema does not fit.

Kinds: filters, comparisons, AND, BETWEEN, LIKE, DISTINCT, counts, aggregates, ORDER BY + LIMIT, dates,
GROUP BY (count, aggregate, HAVING); `joins.py` has the rest. `KINDS` maps the names used in `questions.yaml`
to them.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moe_system.data.common import ru_plural
from moe_system.data.sql.schema import Schema, Table, lit
from moe_system.data.sql.vocabulary import LABEL_KINDS, NUMERIC
from moe_system.data.sql.wording import agg_words, ctx, nice, op_words, questions, say, say_dates, threshold


@dataclass(frozen=True)
class Draft:
    question: str
    sql: str
    level: float


Kind = Callable[[random.Random, Schema, str], Draft | None]


def ask(rng: random.Random, lang: str, kind: str, group: str, fields: dict[str, Any]) -> str:
    """A question from the template group `group` of `kind`, filled from `fields`."""
    return say(rng, lang, questions().kinds[kind][group], fields)


def pick(rng: random.Random, s: Schema, *kinds: str, distinct: int = 1) -> tuple[Table, str] | None:
    """A random (table, column) whose column kind is one of `kinds` with at least `distinct` distinct values."""
    found = [(t, c) for t in s.tables for c in t.cols(*kinds) if len(t.values(c)) >= distinct]
    return rng.choice(found) if found else None


def _filter_eq(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, "cat")
    if not found:
        return None
    t, c = found
    f = ctx(t=t, c=c, l=t.label) | {"v": rng.choice(t.values(c))}
    where = f"WHERE {c} = {lit(f['v'])}"
    if rng.random() < 0.2:
        return Draft(ask(rng, lang, "filter_eq", "all_columns", f), f"SELECT * FROM {t.name} {where};", 0.1)
    return Draft(ask(rng, lang, "filter_eq", "labels", f), f"SELECT {t.label} FROM {t.name} {where};", 0.1)


def _compare(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, *NUMERIC, distinct=3)
    if not found:
        return None
    t, c = found
    op = rng.choice((">", "<", ">=", "<="))
    f = ctx(t=t, c=c, l=t.label) | {"x": threshold(rng, t.values(c)), "op": op_words(rng, lang, op), "sym": op}
    where = f"WHERE {c} {op} {f['x']}"
    form = rng.randrange(3)
    if form == 0:
        return Draft(ask(rng, lang, "compare", "labels", f), f"SELECT {t.label} FROM {t.name} {where};", 0.15)
    if form == 1:
        q = ask(rng, lang, "compare", "label_and_value", f)
        return Draft(q, f"SELECT {t.label}, {c} FROM {t.name} {where};", 0.15)
    return Draft(ask(rng, lang, "compare", "all_columns", f), f"SELECT * FROM {t.name} {where};", 0.15)


def _filter_and(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = [(t, c, n) for t in s.tables for c in t.cols("cat") for n in t.cols("money", "qty", "num")]
    if not found:
        return None
    t, c, n = rng.choice(found)
    v = rng.choice(t.values(c))
    numbers = [row[n] for row in t.rows if row[c] == v]
    op = rng.choice((">", "<"))
    f = ctx(t=t, c=c, n=n, l=t.label) | {"v": v, "x": threshold(rng, numbers), "op": op_words(rng, lang, op)}
    order = rng.random() < 0.4
    q = ask(rng, lang, "filter_and", "ask", f)
    sql = f"SELECT {t.label} FROM {t.name} WHERE {c} = {lit(v)} AND {n} {op} {f['x']}"
    if order:
        direction = rng.choice(("ASC", "DESC"))
        q += ask(rng, lang, "filter_and", "order", f | {"order": questions().words["order"][direction][lang]})
        sql += f" ORDER BY {n} {direction}"
    return Draft(q, sql + ";", 0.25)


def _between(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, *NUMERIC, distinct=4)
    if not found:
        return None
    t, c = found
    lo, hi = sorted((threshold(rng, t.values(c)), threshold(rng, t.values(c))))
    if lo == hi:
        return None
    q = ask(rng, lang, "between", "ask", ctx(t=t, c=c, l=t.label) | {"a": lo, "b": hi})
    return Draft(q, f"SELECT {t.label}, {c} FROM {t.name} WHERE {c} BETWEEN {lo} AND {hi};", 0.2)


def _like(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = [(t, c) for t in s.tables for c in t.cols(*LABEL_KINDS, "email")]
    if not found:
        return None
    t, c = rng.choice(found)
    sample = str(rng.choice(t.values(c)))
    if t.kind(c) == "email":
        mode, part = "end", sample[sample.index("@"):]
    else:
        mode = rng.choice(("start", "start", "contain", "end"))
        word = rng.choice(sample.split())
        part = {"start": sample[:rng.randint(1, 2)], "contain": word[1:4] if len(word) > 3 else word,
                "end": sample[-rng.randint(2, 3):]}[mode]
    pattern = {"start": f"{part}%", "contain": f"%{part}%", "end": f"%{part}"}[mode]
    how = questions().words["like"][mode]
    f = ctx(t=t, c=c, l=t.label) | {"p": part, "how": how["en"], "how_r": how["ru"]}
    where = f"WHERE {c} LIKE {lit(pattern)}"
    if t.label != c and rng.random() < 0.5:
        return Draft(ask(rng, lang, "like", "label_and_value", f), f"SELECT {t.label}, {c} FROM {t.name} {where};",
                     0.2)
    q = ask(rng, lang, "like", "values", f | {"how_pl": how["en_pl"], "how_r_pl": how["ru_pl"]})
    return Draft(q, f"SELECT {c} FROM {t.name} {where};", 0.2)


def _distinct(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, "cat", distinct=2)
    if not found:
        return None
    t, c = found
    q = ask(rng, lang, "distinct", "ask", ctx(t=t, c=c))
    sql = f"SELECT DISTINCT {c} FROM {t.name}"
    if rng.random() < 0.3:
        q += questions().words["sort_alphabetically"][lang]
        sql += f" ORDER BY {c}"
    return Draft(q, sql + ";", 0.15)


def _count(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    t = rng.choice(s.tables)
    f = ctx(t=t)
    form = rng.randrange(4)
    cats, numbers = t.cols("cat"), [c for c in t.cols(*NUMERIC) if len(t.values(c)) >= 3]
    if form == 1 and cats:
        c = rng.choice(cats)
        f |= ctx(c=c) | {"v": rng.choice(t.values(c))}
        q = ask(rng, lang, "count", "with_value", f)
        return Draft(q, f"SELECT COUNT(*) FROM {t.name} WHERE {c} = {lit(f['v'])};", 0.15)
    if form == 2 and numbers:
        c = rng.choice(numbers)
        op = rng.choice((">", "<", ">=", "<="))
        f |= ctx(c=c) | {"x": threshold(rng, t.values(c)), "op": op_words(rng, lang, op)}
        q = ask(rng, lang, "count", "with_threshold", f)
        return Draft(q, f"SELECT COUNT(*) FROM {t.name} WHERE {c} {op} {f['x']};", 0.15)
    if form == 3 and cats:
        c = rng.choice(cats)
        q = ask(rng, lang, "count", "distinct", f | ctx(c=c))
        return Draft(q, f"SELECT COUNT(DISTINCT {c}) FROM {t.name};", 0.2)
    return Draft(ask(rng, lang, "count", "all", f), f"SELECT COUNT(*) FROM {t.name};", 0.1)


def agg_fn(rng: random.Random, t: Table, c: str) -> str:
    """An aggregate that makes sense for the column's kind."""
    options = {"money": ("AVG", "MAX", "MIN", "SUM"), "qty": ("AVG", "MAX", "MIN", "SUM"),
               "num": ("AVG", "MAX", "MIN"), "year": ("MAX", "MIN")}[t.kind(c)]
    return rng.choice(options)


def _aggregate(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, *NUMERIC, distinct=2)
    if not found:
        return None
    t, c = found
    fn = agg_fn(rng, t, c)
    f = ctx(t=t, c=c) | agg_words(fn, c, "c")
    cats = t.cols("cat")
    if cats and rng.random() < 0.4:
        k = rng.choice(cats)
        f |= ctx(k=k) | {"v": rng.choice(t.values(k))}
        q = ask(rng, lang, "aggregate", "filtered", f)
        return Draft(q, f"SELECT {fn}({c}) FROM {t.name} WHERE {k} = {lit(f['v'])};", 0.25)
    return Draft(ask(rng, lang, "aggregate", "all", f), f"SELECT {fn}({c}) FROM {t.name};", 0.2)


def _order_limit(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, "money", "qty", "num", distinct=4)
    if not found:
        return None
    t, c = found
    k = rng.choice((1, 1, 2, 3, 3, 5))
    desc = rng.random() < 0.6
    values = sorted((row[c] for row in t.rows), reverse=desc)
    if len(values) <= k or values[k - 1] == values[k]:
        return None  # a tie at the cut would make the answer ambiguous
    direction = "DESC" if desc else "ASC"
    words = questions().words
    f = ctx(t=t, c=c, l=t.label) | {"k": k, "hl": words["extreme"][direction], "dir_r": words["order"][direction]["ru"],
                                    "k_rows": f"{k} {ru_plural(k, tuple(words['rows']))}"}
    f["most_r"] = f["c_most"] if desc else f["c_least"]
    f["with_most_r"] = f["c_with_most"] if desc else f["c_with_least"]
    if k == 1:
        q = ask(rng, lang, "order_limit", "top1", f)
        return Draft(q, f"SELECT {t.label} FROM {t.name} ORDER BY {c} {direction} LIMIT 1;", 0.25)
    q = ask(rng, lang, "order_limit", "top_k", f)
    return Draft(q, f"SELECT {t.label}, {c} FROM {t.name} ORDER BY {c} {direction} LIMIT {k};", 0.3)


def _date(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, "date", distinct=3)
    if not found:
        return None
    t, c = found
    values = t.values(c)
    f = ctx(t=t, c=c, l=t.label)
    form = rng.randrange(4)
    if form == 0:
        pivot = values[rng.randint(1, len(values) - 2)]
        after = rng.random() < 0.5
        f["d"] = say_dates(rng, lang, pivot)[0]
        q = ask(rng, lang, "date", "after" if after else "before", f)
        return Draft(q, f"SELECT {t.label}, {c} FROM {t.name} WHERE {c} {'>' if after else '<'} {lit(pivot)};", 0.25)
    if form == 1:
        year = rng.choice(sorted({v[:4] for v in values}))
        q = ask(rng, lang, "date", "year", f | {"y": year})
        return Draft(q, f"SELECT {t.label} FROM {t.name} WHERE strftime('%Y', {c}) = '{year}';", 0.3)
    if form == 2:
        lo, hi = sorted(rng.sample(values, 2))
        f["d1"], f["d2"] = say_dates(rng, lang, lo, hi)
        q = ask(rng, lang, "date", "range", f)
        return Draft(q, f"SELECT {t.label}, {c} FROM {t.name} WHERE {c} BETWEEN {lit(lo)} AND {lit(hi)};", 0.3)
    fn = "MAX" if rng.random() < 0.5 else "MIN"
    latest = questions().words["latest"][fn]
    q = ask(rng, lang, "date", "extreme", f | {"w": latest["en"], "w_r": latest["ru"]})
    return Draft(q, f"SELECT {fn}({c}) FROM {t.name};", 0.2)


def _group_count(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, "cat", distinct=2)
    if not found:
        return None
    t, c = found
    q = ask(rng, lang, "group_count", "ask", ctx(t=t, c=c))
    sql = f"SELECT {c}, COUNT(*) FROM {t.name} GROUP BY {c}"
    if rng.random() < 0.3:
        q += questions().words["largest_groups_first"][lang]
        sql += " ORDER BY COUNT(*) DESC"
    return Draft(q, sql + ";", 0.35)


def _group_agg(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = [(t, c, n) for t in s.tables for c in t.cols("cat") if len(t.values(c)) >= 2
             for n in t.cols("money", "qty", "num")]
    if not found:
        return None
    t, c, n = rng.choice(found)
    fn = agg_fn(rng, t, n)
    q = ask(rng, lang, "group_agg", "ask", ctx(t=t, c=c, n=n) | agg_words(fn, n, "n"))
    return Draft(q, f"SELECT {c}, {fn}({n}) FROM {t.name} GROUP BY {c};", 0.4)


def _having(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, "cat", distinct=2)
    if not found:
        return None
    t, c = found
    numbers = t.cols("money", "qty", "num")
    f = ctx(t=t, c=c)
    if numbers and rng.random() < 0.4:
        n = rng.choice(numbers)
        fn = rng.choice(("AVG", "SUM")) if t.kind(n) != "num" else "AVG"
        groups: dict[Any, list[Any]] = defaultdict(list)
        for row in t.rows:
            groups[row[c]].append(row[n])
        stats = sorted(sum(v) / (len(v) if fn == "AVG" else 1) for v in groups.values())
        x = nice(stats[rng.randrange(len(stats) - 1)])
        q = ask(rng, lang, "having", "aggregate", f | ctx(n=n) | agg_words(fn, n, "n") | {"x": x})
        return Draft(q, f"SELECT {c} FROM {t.name} GROUP BY {c} HAVING {fn}({n}) > {x};", 0.45)
    counts = sorted(Counter(row[c] for row in t.rows).values())
    if counts[-1] < 2:
        return None
    k = rng.choice([v for v in counts if v < counts[-1]] or [1])
    f |= {"k": k, "k_t": f"{k} {f['t_pl']}" if k > 1 else f"{questions().words['one']} {f['t_sg']}",
          "k_t_r": f"{k} {f['t_r1g'] if ru_plural(k, ('1', '2', '5')) == '1' else f['t_rg']}"}
    having = f"GROUP BY {c} HAVING COUNT(*) > {k}"
    if rng.random() < 0.35:
        q = ask(rng, lang, "having", "count_with_counts", f)
        return Draft(q, f"SELECT {c}, COUNT(*) FROM {t.name} {having};", 0.45)
    return Draft(ask(rng, lang, "having", "count", f), f"SELECT {c} FROM {t.name} {having};", 0.45)


KINDS: dict[str, Kind] = {
    "filter_eq": _filter_eq, "compare": _compare, "filter_and": _filter_and, "between": _between, "like": _like,
    "distinct": _distinct, "count": _count, "aggregate": _aggregate, "order_limit": _order_limit, "date": _date,
    "group_count": _group_count, "group_agg": _group_agg, "having": _having,
}
