"""The question kinds of the text-to-SQL data that span tables: 2-table joins (filter, pairs, group, top),
3-table joins (a junction with two parents, or a chain), and IN / scalar / NOT IN subqueries. Like `kinds.py`,
each returns a question with its gold query or None, and `KINDS` maps the names in `questions.yaml` to them.
"""

from __future__ import annotations

import random
from collections import Counter

from moe_system.data.sql.kinds import Draft, Kind, ask, pick
from moe_system.data.sql.schema import Schema, lit
from moe_system.data.sql.wording import agg_words, ctx, op_words, questions, threshold

_RESERVED = {"as", "at", "by", "do", "if", "in", "is", "no", "of", "on", "or", "to"}


def _alias(name: str, taken: set[str]) -> str:
    """A short table alias: the initials, else ever longer prefixes; never a keyword or one already taken."""
    initials = "".join(part[0] for part in name.split("_"))
    alias = next(a for a in (initials, *(name[:i] for i in range(1, len(name) + 1)))
                 if a not in taken and a not in _RESERVED)
    taken.add(alias)
    return alias


def _join_filter(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    taken: set[str] = set()
    a, b = _alias(child.name, taken), _alias(parent.name, taken)
    by_label = parent.label != "id" and (rng.random() < 0.4 or not parent.cols("cat"))
    if not by_label and not parent.cols("cat"):
        return None
    column = parent.label if by_label else rng.choice(parent.cols("cat"))
    used = {row[fk] for row in child.rows}
    v = rng.choice(sorted({row[column] for row in parent.rows if row["id"] in used}))
    q = ask(rng, lang, "join_filter", "by_label" if by_label else "by_column",
             ctx(c=child, p=parent, cl=child.label, k=column) | {"v": v})
    sql = (f"SELECT {a}.{child.label} FROM {child.name} {a} JOIN {parent.name} {b} ON {a}.{fk} = {b}.id "
           f"WHERE {b}.{column} = {lit(v)};")
    return Draft(q, sql, 0.45)


def _join_pairs(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    taken: set[str] = set()
    a, b = _alias(child.name, taken), _alias(parent.name, taken)
    f = ctx(c=child, p=parent, cl=child.label, pl=parent.label)
    q = ask(rng, lang, "join_pairs", "ask", f)
    sql = (f"SELECT {a}.{child.label}, {b}.{parent.label} FROM {child.name} {a} "
           f"JOIN {parent.name} {b} ON {a}.{fk} = {b}.id")
    numbers = [n for n in child.cols("money", "qty", "num") if len(child.values(n)) >= 3]
    if numbers and rng.random() < 0.5:
        n = rng.choice(numbers)
        f |= ctx(n=n) | {"x": threshold(rng, child.values(n)), "op": op_words(rng, lang, ">")}
        q += ask(rng, lang, "join_pairs", "filter", f)
        return Draft(q, f"{sql} WHERE {a}.{n} > {f['x']};", 0.5)
    return Draft(q, sql + ";", 0.4)


def _join_group(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    taken: set[str] = set()
    b, a = _alias(parent.name, taken), _alias(child.name, taken)
    f = ctx(c=child, p=parent, pl=parent.label)
    numbers = child.cols("money", "qty")
    if numbers and rng.random() < 0.4:
        n = rng.choice(numbers)
        q = ask(rng, lang, "join_group", "sum", f | ctx(n=n) | agg_words("SUM", n, "n"))
        sql = (f"SELECT {b}.{parent.label}, SUM({a}.{n}) FROM {parent.name} {b} JOIN {child.name} {a} "
               f"ON {a}.{fk} = {b}.id GROUP BY {b}.id, {b}.{parent.label};")
        return Draft(q, sql, 0.55)
    q = ask(rng, lang, "join_group", "count", f)
    sql = (f"SELECT {b}.{parent.label}, COUNT({a}.id) FROM {parent.name} {b} LEFT JOIN {child.name} {a} "
           f"ON {a}.{fk} = {b}.id GROUP BY {b}.id, {b}.{parent.label};")
    return Draft(q, sql, 0.55)


def _join_top(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    counts = Counter(row[fk] for row in child.rows).most_common(2)
    if len(counts) < 2 or counts[0][1] == counts[1][1]:
        return None
    taken: set[str] = set()
    b, a = _alias(parent.name, taken), _alias(child.name, taken)
    q = ask(rng, lang, "join_top", "ask", ctx(c=child, p=parent, pl=parent.label))
    sql = (f"SELECT {b}.{parent.label} FROM {parent.name} {b} JOIN {child.name} {a} ON {a}.{fk} = {b}.id "
           f"GROUP BY {b}.id, {b}.{parent.label} ORDER BY COUNT(*) DESC LIMIT 1;")
    return Draft(q, sql, 0.6)


def _join3(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    """Three tables: a junction with two parents, or a chain child -> middle -> top."""
    links = s.links()
    junctions = [(j, f1, p1, f2, p2) for j, f1, p1 in links for j2, f2, p2 in links
                 if j is j2 and f1 < f2 and p1 is not p2]
    chains = [(c, f1, m, f2, top) for c, f1, m in links for m2, f2, top in links if m2 is m and top is not c]
    taken: set[str] = set()
    if junctions and (not chains or rng.random() < 0.5):
        j, f1, p1, f2, p2 = rng.choice(junctions)
        if p1.label == "id" or (p2.label != "id" and rng.random() < 0.5):  # the filtered side needs a name
            p1, f1, p2, f2 = p2, f2, p1, f1
        x, y, z = _alias(j.name, taken), _alias(p1.name, taken), _alias(p2.name, taken)
        joins = f"FROM {j.name} {x} JOIN {p1.name} {y} ON {x}.{f1} = {y}.id JOIN {p2.name} {z} ON {x}.{f2} = {z}.id"
        f = ctx(j=j, a=p1, b=p2, al=p1.label, bl=p2.label)
        numbers = [n for n in j.cols("money", "qty", "num") if len(j.values(n)) >= 3]
        if numbers and rng.random() < 0.5:
            n = rng.choice(numbers)
            f |= ctx(n=n) | {"x": threshold(rng, j.values(n)), "op": op_words(rng, lang, ">")}
            q = ask(rng, lang, "join3", "junction_filter", f)
            return Draft(q, f"SELECT {y}.{p1.label}, {z}.{p2.label} {joins} WHERE {x}.{n} > {f['x']};", 0.7)
        if p1.label == "id":
            return None
        used = {row[f1] for row in j.rows}
        f["v"] = rng.choice(sorted({row[p1.label] for row in p1.rows if row["id"] in used}))
        q = ask(rng, lang, "join3", "junction_distinct", f)
        return Draft(q, f"SELECT DISTINCT {z}.{p2.label} {joins} WHERE {y}.{p1.label} = {lit(f['v'])};", 0.7)
    if not chains:
        return None
    c, f1, m, f2, top = rng.choice(chains)
    x, y, z = _alias(c.name, taken), _alias(m.name, taken), _alias(top.name, taken)
    joins = f"FROM {c.name} {x} JOIN {m.name} {y} ON {x}.{f1} = {y}.id JOIN {top.name} {z} ON {y}.{f2} = {z}.id"
    middle_ids = {row[f1] for row in c.rows}
    top_ids = {row[f2] for row in m.rows if row["id"] in middle_ids}
    v = rng.choice(sorted({row[top.label] for row in top.rows if row["id"] in top_ids}))
    f = ctx(c=c, m=m, t=top, cl=c.label) | {"v": v}
    where = f"WHERE {z}.{top.label} = {lit(v)}"
    numbers = c.cols("money", "qty")
    if numbers and rng.random() < 0.4:
        n = rng.choice(numbers)
        q = ask(rng, lang, "join3", "chain_sum", f | ctx(n=n) | agg_words("SUM", n, "n"))
        return Draft(q, f"SELECT SUM({x}.{n}) {joins} {where};", 0.75)
    if rng.random() < 0.4:
        return Draft(ask(rng, lang, "join3", "chain_count", f), f"SELECT COUNT(*) {joins} {where};", 0.7)
    return Draft(ask(rng, lang, "join3", "chain_list", f), f"SELECT {x}.{c.label} {joins} {where};", 0.7)


def _sub_in(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    f = ctx(c=child, p=parent, pl=parent.label)
    numbers = [n for n in child.cols("money", "qty", "num") if len(child.values(n)) >= 3]
    cats = child.cols("cat")
    if numbers and (not cats or rng.random() < 0.5):
        n = rng.choice(numbers)
        f |= ctx(n=n) | {"x": threshold(rng, child.values(n)), "op": op_words(rng, lang, ">")}
        q = ask(rng, lang, "sub_in", "numeric", f)
        cond = f"{n} > {f['x']}"
    elif cats:
        k = rng.choice(cats)
        f |= ctx(k=k) | {"v": rng.choice(child.values(k))}
        q = ask(rng, lang, "sub_in", "category", f)
        cond = f"{k} = {lit(f['v'])}"
    else:
        return None
    return Draft(q, f"SELECT {parent.label} FROM {parent.name} WHERE id IN "
                    f"(SELECT {fk} FROM {child.name} WHERE {cond});", 0.6)


def _sub_scalar(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    found = pick(rng, s, "money", "qty", "num", distinct=3)
    if not found:
        return None
    t, c = found
    op = ">" if rng.random() < 0.6 else "<"
    side = questions().words["average"][op]
    q = ask(rng, lang, "sub_scalar", "ask",
             ctx(t=t, c=c, l=t.label) | {"ab": side["en"], "ab_r": side["ru"], "ab_r2": side["ru_than"]})
    return Draft(q, f"SELECT {t.label}, {c} FROM {t.name} WHERE {c} {op} (SELECT AVG({c}) FROM {t.name});", 0.55)


def _anti(rng: random.Random, s: Schema, lang: str) -> Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    q = ask(rng, lang, "anti", "ask", ctx(c=child, p=parent, pl=parent.label))
    return Draft(q, f"SELECT {parent.label} FROM {parent.name} WHERE id NOT IN (SELECT {fk} FROM {child.name});", 0.6)


KINDS: dict[str, Kind] = {
    "join_filter": _join_filter, "join_pairs": _join_pairs, "join_group": _join_group, "join_top": _join_top,
    "join3": _join3, "sub_in": _sub_in, "sub_scalar": _sub_scalar, "anti": _anti,
}
