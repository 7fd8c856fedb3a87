"""The words the text-to-SQL generator draws from, read from `vocabulary.yaml` and checked once: how every column
and table is named in English and Russian, the tables of each domain (columns, label column, row counts), the
pools of categorical values, people's names, the words labels are made of, and month names.

    .venv/bin/python -c "from moe_system.data.sql.vocabulary import vocabulary; print(list(vocabulary().domains))"
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from moe_system.data.common import bad_data, placeholders, read_yaml

SOURCE = "moe_system/data/sql/vocabulary.yaml"
SQL_TYPES = {"id": "INTEGER", "fk": "INTEGER", "qty": "INTEGER", "num": "INTEGER", "year": "INTEGER", "money": "REAL"}
NUMERIC = ("money", "qty", "num", "year")
LABEL_KINDS = ("person", "company", "product", "book", "course", "band", "album", "track", "username", "flight",
               "playlist", "team", "hotel", "project", "pool")
LOCALIZED = ("city", "country")  # shorthand kinds for a categorical column drawn from `local_pools`
_KIND_ARGS = {"fk": 1, "cat": 1, "pool": 1, "money": 2, "qty": 2, "num": 2, "year": 2, "date": 2, "email": 0,
              **dict.fromkeys(LOCALIZED, 0), **{kind: 0 for kind in LABEL_KINDS if kind != "pool"}}
_LABEL_FORM_SLOTS = {"book": {"adj", "noun", "noun2"}, "band": {"adj", "noun"}, "album": {"adj", "noun"},
                     "track": {"adj", "noun"}, "project": {"codename", "codename2", "kind"}}


@dataclass(frozen=True)
class Words:
    """How a column is named in questions: English singular and plural; Russian nominative, genitive,
    instrumental, plural and genitive plural; the Russian gender (m, f, n)."""

    en: str
    en_pl: str
    ru: str
    ru_gen: str
    ru_ins: str
    ru_pl: str
    ru_gen_pl: str
    gender: str


@dataclass(frozen=True)
class TableWords:
    """How a table is named in questions (Russian: singular, plural, singular and plural genitive, plural
    accusative; the gender)."""

    en_sg: str
    en_pl: str
    ru_sg: str
    ru_pl: str
    ru_sg_gen: str
    ru_pl_gen: str
    ru_pl_acc: str
    gender: str


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # id, fk, cat, money, qty (summable int), num (int), year, date, email, or a label kind
    args: tuple[str, ...] = ()

    @property
    def sql_type(self) -> str:
        return SQL_TYPES.get(self.kind, "TEXT")


@dataclass(frozen=True)
class TableDef:
    name: str
    words: TableWords
    label: str
    columns: tuple[Column, ...]
    rows: tuple[int, int]


@dataclass(frozen=True)
class Vocabulary:
    columns: dict[str, Words]
    domains: dict[str, list[TableDef]]  # parents come before children
    pools: dict[str, list[str]]
    local_pools: dict[str, dict[str, list[str]]]  # pool -> locale -> values
    names: dict[str, list[str]]
    label_words: dict[str, list[str]]
    label_forms: dict[str, list[str]]
    months: dict[str, list[str]]


def _words(value: Any, entry: str, ru_forms: int) -> tuple[list[str], list[str], str]:
    """The `en`, `ru` and `gender` of a naming entry, checked."""
    en, ru, gender = (value.get(key) if isinstance(value, dict) else None for key in ("en", "ru", "gender"))
    if not (isinstance(en, list) and len(en) == 2 and isinstance(ru, list) and len(ru) == ru_forms
            and all(isinstance(w, str) for w in en + ru) and gender in ("m", "f", "n")):
        raise bad_data(SOURCE, entry, f"expected en: [singular, plural], ru: [{ru_forms} forms], gender: m|f|n")
    return en, ru, gender


def _column(name: str, spec: Any, entry: str, pools: dict[str, Any]) -> Column:
    kind, *args = str(spec).split()
    if kind not in _KIND_ARGS or len(args) != _KIND_ARGS[kind]:
        raise bad_data(SOURCE, entry, f"unknown column kind {spec!r} (kinds: {', '.join(_KIND_ARGS)})")
    if kind in ("cat", "pool") and args[0] not in pools:
        raise bad_data(SOURCE, entry, f"no pool named {args[0]!r}")
    if kind in LOCALIZED:
        return Column(name, "cat", (kind,))
    return Column(name, kind, tuple(args))


def _table(name: str, value: Any, entry: str, columns: dict[str, Words], pools: dict[str, Any],
           earlier: set[str]) -> TableDef:
    en, ru, gender = _words(value, entry, 5)
    specs, rows, label = value.get("columns"), value.get("rows"), value.get("label")
    if not isinstance(specs, dict) or not (isinstance(rows, list) and len(rows) == 2):
        raise bad_data(SOURCE, entry, "expected columns: {name: kind args} and rows: [min, max]")
    sg, pl, sg_gen, pl_gen, pl_acc = ru
    table = TableDef(name, TableWords(en[0], en[1], sg, pl, sg_gen, pl_gen, pl_acc, gender), label,
                     (Column("id", "id"), *(_column(c, s, f"{entry}.columns.{c}", pools) for c, s in specs.items())),
                     (int(rows[0]), int(rows[1])))
    if label not in {c.name for c in table.columns}:
        raise bad_data(SOURCE, entry, f"the label column {label!r} is not one of its columns")
    for c in table.columns:
        if c.kind == "fk" and c.args[0] not in earlier:
            raise bad_data(SOURCE, f"{entry}.columns.{c.name}", f"{c.args[0]!r} is not a table listed before it")
        if c.kind != "fk" and c.name not in columns:
            raise bad_data(SOURCE, f"{entry}.columns.{c.name}", "the column has no words under `columns`")
    return table


def _lists(value: Any, entry: str) -> dict[str, list[str]]:
    if not isinstance(value, dict) or not all(isinstance(v, list) and v and all(isinstance(w, str) for w in v)
                                              for v in value.values()):
        raise bad_data(SOURCE, entry, "expected a mapping of names to non-empty lists of strings")
    return value


@cache
def vocabulary() -> Vocabulary:
    """The checked contents of `vocabulary.yaml` (read once)."""
    raw = read_yaml("moe_system.data.sql", "vocabulary.yaml")
    if not isinstance(raw, dict):
        raise bad_data(SOURCE, "file", "expected a mapping")
    pools = _lists(raw.get("pools"), "pools")
    columns = {}
    for name, value in (raw.get("columns") or {}).items():
        en, ru, gender = _words(value, f"columns.{name}", 5)
        nom, gen, ins, pl, gen_pl = (form + value.get("ru_suffix", "") for form in ru)
        columns[name] = Words(en[0], en[1], nom, gen, ins, pl, gen_pl, gender)
    domains: dict[str, list[TableDef]] = {}
    for domain, tables in (raw.get("domains") or {}).items():
        domains[domain] = []
        for name, value in tables.items():
            earlier = {t.name for t in domains[domain]}
            domains[domain].append(_table(name, value, f"domains.{domain}.{name}", columns, pools, earlier))
    forms = _lists(raw.get("label_forms"), "label_forms")
    for kind, templates in forms.items():
        for template in templates:
            unknown = placeholders(template, SOURCE, f"label_forms.{kind}") - _LABEL_FORM_SLOTS.get(kind, set())
            if unknown:
                raise bad_data(SOURCE, f"label_forms.{kind}", f"unknown slot {sorted(unknown)[0]!r} in {template!r}")
    local = raw.get("local_pools") or {}
    vocab = Vocabulary(columns, domains, pools, {k: _lists(v, f"local_pools.{k}") for k, v in local.items()},
                       _lists(raw.get("names"), "names"), _lists(raw.get("label_words"), "label_words"), forms,
                       _lists(raw.get("months"), "months"))
    if not domains or set(vocab.local_pools) != set(LOCALIZED) or set(forms) != set(_LABEL_FORM_SLOTS):
        raise bad_data(SOURCE, "file", "needs domains, local_pools for city and country, and label_forms for "
                       + ", ".join(_LABEL_FORM_SLOTS))
    return vocab
