"""The compositional grammar of the text-to-SQL data: query shapes written as data in `shapes.yaml`, bound to a
drawn schema by a small set of slot binders, worded in English or Russian in one of three registers.

A shape names the slots it needs (`needs: [link, n, k]`), its gold SQLite query as a template over the slots'
SQL fields (`{t}`, `{n}`, `{fk}`, `{ta}`, ...), an optional `guard` query that must return no rows on the
drawn data (ties at a LIMIT cut, duplicate dates under a running total: anything that would make two right
answers differ), and question templates per language and register (`formal`, `casual` lowercase with an
occasional typo, `terse`). Binders are the only code: each picks what a slot is about in the schema (a table,
a foreign-key link, a categorical / numeric / date column, a nullable column it fills with some NULLs, a
threshold, a top-N count) and adds its fields: SQL names and the words of `wording.ctx`.

    .venv/bin/python -c "import random; from moe_system.data.sql.grammar import draw; \
from moe_system.data.sql.schema import draw_schema; print(draw(random.Random(1), draw_schema(random.Random(1), \
'en'), 'en'))"
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from moe_system.data.common import bad_data, placeholders, read_yaml
from moe_system.data.sql.kinds import Draft
from moe_system.data.sql.schema import Schema, Table, lit
from moe_system.data.sql.vocabulary import LABEL_KINDS, vocabulary
from moe_system.data.sql.wording import agg_words, ctx, threshold

SOURCE = "moe_system/data/sql/shapes.yaml"
REGISTERS = ("formal", "casual", "terse")
LANGS = ("en", "ru")
TYPO_SHARE = 0.15  # casual questions with one swapped pair of letters
CASUAL_SHARE = 0.3  # questions of the coded kinds (`kinds.py`, `joins.py`) made casual by `casualize`
_RESERVED = {"as", "at", "by", "do", "if", "in", "is", "no", "of", "on", "or", "to"}


@dataclass(frozen=True)
class Shape:
    name: str
    weight: int
    level: float
    needs: tuple[str, ...]
    sql: str
    guard: str | None
    partial: bool  # the result must leave out some rows of the main table (a filter that filters)
    questions: dict[str, dict[str, list[str]]]  # lang -> register -> templates


@dataclass
class Binding:
    """What a shape is being bound to: the schema, the tables by role, the template fields so far."""

    rng: random.Random
    schema: Schema
    lang: str
    roles: dict[str, Table] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def alias(self, name: str) -> str:
        """A short table alias (initials, else longer prefixes), never a keyword or one already taken."""
        initials = "".join(part[0] for part in name.split("_"))
        alias = next(a for a in (initials, *(name[:i] for i in range(1, len(name) + 1)), f"{initials}2")
                     if a not in self.taken and a not in _RESERVED)
        self.taken.add(alias)
        return alias


Binder = Callable[[Binding], bool]


# ---------------------------------------------------------------------------------------------------- binders


def _table(b: Binding) -> bool:
    t = b.rng.choice(b.schema.tables)
    b.roles["t"] = t
    b.fields |= ctx(t=t, l=t.label) | {"ta": b.alias(t.name)}
    return True


def _pick_link(b: Binding) -> tuple[Table, str, Table] | None:
    links = b.schema.links()
    return b.rng.choice(links) if links else None


def _link(b: Binding) -> bool:
    found = _pick_link(b)
    if found is None:
        return False
    child, fk, parent = found
    b.roles |= {"t": child, "p": parent}
    b.columns["fk"] = fk
    b.fields |= ctx(t=child, l=child.label, p=parent, pl=parent.label) | {
        "fk": fk, "ta": b.alias(child.name), "pa": b.alias(parent.name)}
    return True


def _link0(b: Binding) -> bool:
    """A link where some parents have no child (rows re-pointed if needed)."""
    if not _link(b):
        return False
    child, parent, fk = b.roles["t"], b.roles["p"], b.columns["fk"]
    ids = [row["id"] for row in parent.rows]
    used = {row[fk] for row in child.rows}
    if len(ids) < 3:
        return False
    if used >= set(ids):
        lonely = b.rng.choice(ids)
        others = [i for i in ids if i != lonely]
        for row in child.rows:
            if row[fk] == lonely:
                row[fk] = b.rng.choice(others)
    return True


def _chain(b: Binding) -> bool:
    links = b.schema.links()
    chains = [(c, f1, m, f2, top) for c, f1, m in links for m2, f2, top in links if m2 is m and top is not c]
    if not chains:
        return False
    c, f1, m, f2, top = b.rng.choice(chains)
    b.roles |= {"t": c, "m": m, "p": top}
    b.fields |= ctx(t=c, l=c.label, m=m, p=top, pl=top.label) | {
        "fk1": f1, "fk2": f2, "ta": b.alias(c.name), "ma": b.alias(m.name), "pa": b.alias(top.name)}
    return True


def _present(t: Table, column: str) -> list[Any]:
    return sorted({row[column] for row in t.rows if row[column] is not None})


def _cat(b: Binding) -> bool:
    t = b.roles["t"]
    options = [c for c in t.cols("cat") if len(_present(t, c)) >= 2 and c not in b.columns.values()]
    if not options:
        return False
    c = b.rng.choice(options)
    v, v2 = b.rng.sample(_present(t, c), 2)
    b.columns["c"] = c
    b.fields |= ctx(c=c) | {"v": v, "v_sql": lit(v), "v2": v2, "v2_sql": lit(v2)}
    return True


def _parent_cat(b: Binding) -> bool:
    p, t = b.roles["p"], b.roles["t"]
    options = [c for c in p.cols("cat") if len(_present(p, c)) >= 2]
    if not options:
        return False
    c = b.rng.choice(options)
    used = {row[b.fields.get("fk", "")] for row in t.rows} if "fk" in b.fields else {row["id"] for row in p.rows}
    values = sorted({row[c] for row in p.rows if row["id"] in used and row[c] is not None})
    if not values:
        return False
    v = b.rng.choice(values)
    b.fields |= ctx(pc=c) | {"pv": v, "pv_sql": lit(v)}
    return True


def _numeric(b: Binding, kinds: tuple[str, ...] = ("money", "qty", "num")) -> bool:
    t = b.roles["t"]
    options = [c for c in t.cols(*kinds) if len(_present(t, c)) >= 3 and c not in b.columns.values()]
    if not options:
        return False
    n = b.rng.choice(options)
    b.columns["n"] = n
    b.fields |= ctx(n=n) | {"x": threshold(b.rng, _present(t, n))}
    return True


def _aggregate(b: Binding) -> bool:
    t, n = b.roles["t"], b.columns["n"]
    fn = b.rng.choice({"money": ("AVG", "MAX", "MIN", "SUM"), "qty": ("AVG", "MAX", "MIN", "SUM"),
                       "num": ("AVG", "MAX", "MIN")}[t.kind(n)])
    b.fields |= agg_words(fn, n, "n") | {"fn": fn}
    return True


def _date(b: Binding) -> bool:
    t = b.roles["t"]
    options = [c for c in t.cols("date") if len(_present(t, c)) >= 3]
    if not options:
        return False
    d = b.rng.choice(options)
    values = _present(t, d)
    b.columns["d"] = d
    pivot = b.rng.choice(values)
    lo, hi = sorted(b.rng.sample(values, 2))
    today = date.fromisoformat(values[-1]) + timedelta(days=b.rng.choice((0, 1, 3)))
    spans = [n for n in (7, 14, 30, 60, 90, 180, 365, 730)
             if 0 < sum(v >= (today - timedelta(days=n)).isoformat() for v in values) < len(values)]
    if not spans:
        return False
    month = int(pivot[5:7])
    b.fields |= ctx(d=d) | {
        "y": pivot[:4], "ym": pivot[:7], "mm": pivot[5:7], "month_en": vocabulary().months["en"][month - 1],
        "d1": lo, "d2": hi, "today": today.isoformat(), "days": b.rng.choice(spans)}
    return True


def _nullable(b: Binding) -> bool:
    """A column of the main table that gets some NULLs (and loses NOT NULL)."""
    t = b.roles["t"]
    options = [c.name for c in t.columns if c.kind in ("cat", "money", "qty", "num", "date", "email")
               and c.name != t.label and c.name not in b.columns.values()]
    if not options or len(t.rows) < 4:
        return False
    z = b.rng.choice(options)
    count = b.rng.randint(1, max(1, len(t.rows) // 3))
    for row in b.rng.sample(t.rows, count):
        row[z] = None
    t.nullable.add(z)
    b.columns["z"] = z
    numeric = t.kind(z) in ("money", "qty", "num")
    b.fields |= ctx(z=z) | {"zdef": "0" if numeric else "unknown", "zdef_sql": "0" if numeric else "'unknown'"}
    return True


def _top_k(b: Binding) -> bool:
    t = b.roles["t"]
    k = b.rng.choice([k for k in (2, 3, 3, 5) if k < len(t.rows) - 1] or [1])
    b.fields |= {"k": k}
    return True


def _child_count(b: Binding) -> bool:
    """`kc`: a number of children some parents exceed and others do not."""
    t, p = b.roles["t"], b.roles["p"]
    counts = Counter(row[b.fields["fk"]] for row in t.rows)
    per_parent = sorted(counts.get(row["id"], 0) for row in p.rows)
    options = sorted({c for c in per_parent if c < per_parent[-1]})
    if not options:
        return False
    b.fields |= {"kc": b.rng.choice(options)}
    return True


def _fragment(b: Binding) -> bool:
    """`frag`: a few letters from inside a word of a label value."""
    t = b.roles["t"]
    if t.kind(t.label) not in LABEL_KINDS:
        return False
    words = [w for value in _present(t, t.label) for w in str(value).split() if len(w) >= 4 and w.isalpha()]
    if not words:
        return False
    word = b.rng.choice(words)
    start = b.rng.randint(1, len(word) - 3)  # inside the word: SQLite's LIKE folds the case of ASCII letters only
    b.fields |= {"frag": word[start:start + 3]}
    return True


def _summable(b: Binding) -> bool:
    return _numeric(b, ("money", "qty"))


BINDERS: dict[str, Binder] = {
    "t": _table, "link": _link, "link0": _link0, "chain": _chain, "c": _cat, "pc": _parent_cat, "n": _numeric,
    "ns": _summable, "agg": _aggregate, "d": _date, "z": _nullable, "k": _top_k, "kc": _child_count, "frag": _fragment,
}
_FIRST = {"t", "link", "link0", "chain"}  # the binders that choose the main table; one starts every shape


# ---------------------------------------------------------------------------------------------------- reading


@cache
def shapes() -> dict[str, Shape]:
    """The checked shapes of `shapes.yaml` (read once)."""
    raw = read_yaml("moe_system.data.sql", "shapes.yaml")
    if not isinstance(raw, dict) or not isinstance(raw.get("shapes"), dict):
        raise bad_data(SOURCE, "file", "expected a mapping with `shapes`")
    out = {}
    for name, spec in raw["shapes"].items():
        entry = f"shapes.{name}"
        if not isinstance(spec, dict):
            raise bad_data(SOURCE, entry, "expected a mapping")
        needs = tuple(spec.get("needs") or ())
        if not needs or needs[0] not in _FIRST or any(n not in BINDERS for n in needs):
            raise bad_data(SOURCE, f"{entry}.needs", f"expected one of {sorted(_FIRST)} then binders of "
                           f"{', '.join(BINDERS)}")
        questions = spec.get("questions")
        if not isinstance(questions, dict) or set(questions) != set(LANGS):
            raise bad_data(SOURCE, f"{entry}.questions", "expected en and ru")
        for lang in LANGS:
            registers = questions[lang]
            if not isinstance(registers, dict) or set(registers) != set(REGISTERS):
                raise bad_data(SOURCE, f"{entry}.questions.{lang}", f"expected the registers {', '.join(REGISTERS)}")
            for register, templates in registers.items():
                if not isinstance(templates, list) or not templates or not all(isinstance(t, str) for t in templates):
                    raise bad_data(SOURCE, f"{entry}.questions.{lang}.{register}", "expected a list of templates")
                for template in templates:
                    placeholders(template, SOURCE, f"{entry}.questions.{lang}.{register}")
        sql, guard = spec.get("sql"), spec.get("guard")
        if not isinstance(sql, str) or not (guard is None or isinstance(guard, str)):
            raise bad_data(SOURCE, entry, "expected sql (and an optional guard) as strings")
        out[name] = Shape(name, int(spec.get("weight", 1)), float(spec.get("level", 0.5)), needs, sql.strip(),
                          guard.strip() if guard else None, bool(spec.get("partial")), questions)
    return out


# ---------------------------------------------------------------------------------------------------- drawing


def _typo(rng: random.Random, text: str, keep: set[str]) -> str:
    """Swap two neighbouring letters in one longer word that is not a value the query needs."""
    words = text.split(" ")
    options = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha() and w not in keep]
    if not options:
        return text
    i = rng.choice(options)
    j = rng.randint(1, len(words[i]) - 2)
    word = words[i]
    words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    return " ".join(words)


def casualize(rng: random.Random, text: str, sql: str) -> str:
    """A formal question made casual: first letter lowercased, no final full stop, sometimes a typo; the values
    and names the query uses are left alone."""
    keep = set(re.findall(r"\w+", sql)) | {v for pair in re.findall(r"'([^']*)'|«([^»]*)»", text) for v in pair if v}
    first = text.split(" ", 1)[0].strip(",.?!:;«»'")
    if first and first not in keep:
        text = text[0].lower() + text[1:]
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    return _typo(rng, text, keep) if rng.random() < TYPO_SHARE else text


def bind(rng: random.Random, schema: Schema, lang: str, shape: Shape) -> tuple[Binding, str] | None:
    """Bind `shape` to `schema`: (the binding, the gold SQL), or None when the schema does not fit."""
    b = Binding(rng, schema, lang)
    for need in shape.needs:
        if not BINDERS[need](b):
            return None
    return b, shape.sql.format(**b.fields)


def word(rng: random.Random, shape: Shape, b: Binding, register: str | None = None) -> str:
    """A question for a bound shape in the binding's language, in `register` (drawn when None)."""
    register = register or rng.choice(REGISTERS)
    text: str = rng.choice(shape.questions[b.lang][register]).format(**b.fields)
    if register == "casual" and rng.random() < TYPO_SHARE:
        keep = {str(v) for v in b.fields.values()}
        text = _typo(rng, text, keep)
    return text


def accept(shape: Shape, b: Binding, sql: str, database: str) -> bool:
    """Whether the gold query returns rows (not only NULLs) on `database`, fewer than the main table has when
    the shape is `partial`, and the guard (if any) returns none."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(database)
        rows = conn.execute(sql).fetchall()
        if shape.guard and conn.execute(shape.guard.format(**b.fields)).fetchall():
            return False
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    if not rows or all(value is None for row in rows for value in row):
        return False
    return not (shape.partial and len(rows) >= len(b.roles["t"].rows))


def weighted() -> tuple[list[Shape], list[int]]:
    every = list(shapes().values())
    return every, [s.weight for s in every]


def draw(rng: random.Random, schema: Schema, lang: str, shape: Shape | None = None
         ) -> tuple[Draft, Shape, Binding] | None:
    """A shape (drawn by weight when None) bound to `schema` and worded, or None when it does not fit; the
    schema's rows may gain NULLs or re-pointed keys on the way. Check it with `accept` on the final database."""
    if shape is None:
        every, weights = weighted()
        shape = rng.choices(every, weights=weights)[0]
    bound = bind(rng, schema, lang, shape)
    if bound is None:
        return None
    b, sql = bound
    return Draft(word(rng, shape, b), sql, shape.level), shape, b
