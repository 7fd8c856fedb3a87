"""Pieces shared by the offline data generators: seeded random streams, the language pick, stable ids, the
chat-example shape, the draw-deduplicate-validate loop, and reading the YAML files that hold each generator's
wording and word lists (`data/<generator>/*.yaml`, checked when read).

Seed policy: training sets use seeds below 1000 and held-out evaluation sets use seeds from 1000 up
(`EVAL_SEED_MIN`). On top of the different random streams, the text a user would type is split by its hash:
about one in eight texts is reserved for evaluation seeds and never produced by a training seed, so no
evaluation question appears verbatim in any training set. The same (task, seed, lang, n) always gives the same
items, and `generate(n)` is a prefix of `generate(m)` for n < m.

    moe data generate math --n 3000 --seed 0 -o math-train.jsonl
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from moe_system.errors import MoEError

LANGS = ("en", "ru", "mix")
EVAL_SEED_MIN = 1000


class DataError(MoEError):
    """A data-generation request is invalid (unknown task or language, bad count, existing output file)."""


Draft = Callable[[random.Random, str], dict[str, Any] | None]
Validate = Callable[[list[dict[str, Any]]], list[bool]]
Phrases = dict[str, list[str]]  # language -> the templates to pick one from
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the same data, faster


def check_request(n: int, lang: str) -> None:
    """Refuse a non-positive count or an unknown language with a one-line `DataError`."""
    if n < 1:
        raise DataError(f"the number of items must be at least 1, got {n}")
    if lang not in LANGS:
        raise DataError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")


def item_id(task: str, *parts: str) -> str:
    """A content hash: the same item gets the same id in every run, so train/eval overlap is easy to check."""
    digest = hashlib.sha256("\x1f".join((task, *parts)).encode()).hexdigest()
    return f"{task}-{digest[:16]}"


def difficulty(value: float) -> float:
    """Clamp to 0..1 and round to two decimals."""
    return round(min(1.0, max(0.0, value)), 2)


def held_out(text: str) -> bool:
    """Whether `text` belongs to the evaluation slice (about 1/8 of all texts, chosen by hash)."""
    return hashlib.sha256(text.encode()).digest()[0] < 32


def collect(task: str, n: int, seed: int, lang: str, draft: Draft, key: str, validate: Validate | None = None
            ) -> list[dict[str, Any]]:
    """Draw items until `n` distinct ones (by `item[key]`, the text the user sees) pass validation.

    `draft(rng, lang)` returns one item or None (not applicable, or it failed its own check); `validate` checks
    a batch at once (used where one subprocess checks many items). Everything comes from one random stream
    seeded by (task, seed), so the output is deterministic and longer runs extend shorter ones. Evaluation seeds
    keep only `held_out` texts and training seeds only the others.
    """
    check_request(n, lang)
    evaluation = seed >= EVAL_SEED_MIN
    rng = random.Random(f"moe-data/{task}/{seed}")
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    budget = 100 * n + 1000
    while len(items) < n:
        batch: list[dict[str, Any]] = []
        while len(batch) < n - len(items):
            budget -= 1
            if budget < 0:
                raise DataError(f"could not draw {n} distinct {task} items for lang={lang}; ask for fewer")
            item = draft(rng, rng.choice(("en", "ru")) if lang == "mix" else lang)
            if item is not None and item[key] not in seen and held_out(item[key]) == evaluation:
                seen.add(item[key])
                batch.append(item)
        verdicts = validate(batch) if validate else [True] * len(batch)
        items.extend(item for item, ok in zip(batch, verdicts, strict=True) if ok)
    return items


def chat_example(task: str, item: dict[str, Any], user: str, assistant: str) -> dict[str, Any]:
    """The training-example shape every generator's `to_chat` returns."""
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
        "meta": {"task": task, "lang": item["lang"], "difficulty": item["difficulty"], "id": item["id"]},
    }


def ru_plural(n: int, forms: tuple[str, str, str]) -> str:
    """The Russian noun form after the whole number `n`: forms for 1, for 2-4 and for 5+ ("яблоко", "яблока",
    "яблок")."""
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    return forms[1] if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else forms[2]


def stable_choice(item_id_: str, options: tuple[str, ...]) -> str:
    """Pick one of `options` from an item's id: varied across items, fixed for one item."""
    return options[int(item_id_.rsplit("-", 1)[-1], 16) % len(options)]


# ---------------------------------------------------------------------------------------------------- data files


def bad_data(source: str, entry: str, problem: str) -> DataError:
    """The one-line error for a malformed data file: the file, the entry, what is wrong."""
    return DataError(f"{source}: {entry}: {problem}")


@cache
def read_yaml(package: str, name: str) -> Any:
    """The parsed YAML file `name` shipped in `package` (e.g. `moe_system.data.sql`), read once. Callers validate
    what they read and must not change it."""
    source = f"{package.replace('.', '/')}/{name}"
    try:
        return yaml.load((files(package) / name).read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise bad_data(source, "file", " ".join(str(exc).split())) from None


def placeholders(template: str, source: str, entry: str) -> set[str]:
    """The `{name}` fields of a `str.format` template (a field's format spec is not part of its name)."""
    try:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise bad_data(source, entry, f"{exc} in {template!r}") from None


def phrases(value: Any, source: str, entry: str, langs: tuple[str, ...] = ("en", "ru")) -> Phrases:
    """Check a `{en: [template, ...], ru: [...]}` entry: a non-empty list of well-formed templates per language."""
    if not isinstance(value, dict) or set(value) != set(langs):
        raise bad_data(source, entry, f"expected a mapping with the keys {', '.join(langs)}")
    for lang, templates in value.items():
        if not isinstance(templates, list) or not templates or not all(isinstance(t, str) for t in templates):
            raise bad_data(source, f"{entry}.{lang}", "expected a non-empty list of strings")
        for template in templates:
            placeholders(template, source, f"{entry}.{lang}")
    return value
