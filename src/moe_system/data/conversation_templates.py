"""The memory benchmark's templates, read from data files: the planted kinds of facts and the everyday chat around
them (`data/memory_bench/`).

- `tuning.yaml` and `heldout.yaml`: two template sets of planted facts (`kinds`), one entry per subject with a
  question list (the direct question first, then paraphrases), the values to draw from and the phrasings that
  state (`says`) or change (`updates`) it, in English and Russian. The fact patterns of `memory/facts.py` and the
  retrieval weights are developed on the tuning set only; the held-out set was written apart, to measure them.
- `filler_en.yaml`, `filler_ru.yaml`: the chat of each language (openers, chatter, distractors, assistant phrases,
  topics with their questions, details and answers) and its `{slot}` word lists.
- `common.yaml`: the slots both languages share (numbers, times, codes) and the word lists of the value generators.

A slot (or a kind's `values`) is a list of strings to pick from, or `{generator: NAME}` (`conversation_values.py`),
`{int: [LO, HI]}` with an optional `times: K`, `{pattern: "{name} {surname}"}` (filled from the same word lists)
or `{capitalised: SLOT}`; `forms` gives slots whose word forms come in rows (`[сосед, соседа]`). Files are read
with `data.common.read_yaml` and checked as they are read: a malformed one is a one-line `DataError` that names the
file and the entry.

    .venv/bin/python -c "from moe_system.data.conversation_templates import kinds; print(len(kinds('tuning')))"
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from moe_system.data.common import DataError, bad_data, read_yaml
from moe_system.data.conversation_values import ValueGenerators

Slot = tuple[str, ...] | Callable[[random.Random], str]
Vocab = dict[str, Slot]

PACKAGE = "moe_system.data"
FOLDER = "memory_bench"  # under PACKAGE
TEMPLATE_SETS = ("tuning", "heldout")
LANGUAGES = ("en", "ru")
SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Side:
    """A subject in one language: the questions (direct first, then paraphrases), the values to draw from and the
    statement phrasings (`{v}` is the value). `says` states it for the first time; `updates` announce a change (or
    correct an earlier value)."""

    questions: tuple[str, ...]
    values: Slot
    says: tuple[str, ...]
    updates: tuple[str, ...]


@dataclass(frozen=True)
class Kind:
    key: str
    changes: bool  # whether the value naturally changes (a new phone) or is only ever corrected (a birthday)
    en: Side
    ru: Side


@dataclass(frozen=True)
class Topic:
    """One subject of everyday chat in one language: what the user asks, details the user adds, sentences the
    assistant answers with, and the topic's own word lists for `{slot}`s."""

    topic: str
    asks: tuple[str, ...]
    notes: tuple[str, ...]
    says: tuple[str, ...]
    vocab: Vocab


@dataclass(frozen=True)
class Chat:
    """The pieces every topic of one language shares, its topics, and the common `{slot}` word lists."""

    openers: tuple[str, ...]
    context: tuple[str, ...]  # first-person chatter that states no planted kind of fact
    distractors: tuple[str, ...]  # the planted kinds of facts, about other people
    closers: tuple[str, ...]
    segues: tuple[str, ...]  # before a statement dropped into a message
    returns: tuple[str, ...]  # after a statement, back to the question
    intros: tuple[str, ...]
    leads: tuple[str, ...]  # put before an assistant sentence, which then starts in lower case
    tails: tuple[str, ...]  # put at the end of an assistant sentence, before its full stop
    advice: tuple[str, ...]
    list_heads: tuple[str, ...]
    outros: tuple[str, ...]
    acks: tuple[str, ...]  # the reply to a statement: never repeats the value
    offers: tuple[str, ...]  # may follow an ack when the statement came on its own
    topics: tuple[Topic, ...]
    vocab: Vocab


def draw(slot: Slot, rng: random.Random) -> str:
    """One value of a slot."""
    return rng.choice(slot) if isinstance(slot, tuple) else slot(rng)


def fill(template: str, vocab: Vocab, rng: random.Random, common: Vocab | None = None) -> str:
    """`template` with every `{slot}` drawn from `vocab`, or from `common` where `vocab` has no such slot."""
    return SLOT.sub(lambda match: draw(vocab.get(match[1]) or (common or vocab)[match[1]], rng), template)


# ---------------------------------------------------------------------------------------------------- reading


def _read(name: str) -> dict[str, Any]:
    data = read_yaml(PACKAGE, f"{FOLDER}/{name}")
    if not isinstance(data, dict):
        raise bad_data(name, "file", "expected a mapping at the top")
    return data


def _fail(where: str, message: str) -> DataError:
    source, _, entry = where.partition(": ")
    return bad_data(source, entry or "file", message)


def _strings(value: Any, where: str, least: int = 1) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) < least or not all(isinstance(s, str) and s for s in value):
        raise _fail(where, f"expected a list of at least {least} non-empty strings")
    return tuple(value)


def _slot(spec: Any, vocab: Vocab, where: str) -> Slot:
    """A slot from its spec (see the module docstring); a `pattern` is filled from `vocab` when drawn."""
    if isinstance(spec, list):
        return _strings(spec, where)
    if isinstance(spec, dict) and len(spec) == 1 and "generator" in spec:
        try:
            return values().get(str(spec["generator"]))
        except ValueError as error:
            raise _fail(where, str(error)) from None
    if isinstance(spec, dict) and set(spec) in ({"int"}, {"int", "times"}):
        bounds, times = spec["int"], spec.get("times", 1)
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, int) for b in bounds)
                and bounds[0] <= bounds[1] and isinstance(times, int)):
            raise _fail(where, "int needs [LO, HI] with LO <= HI and an integer `times`")
        low, high = bounds
        return (lambda rng: str(rng.randint(low, high))) if times == 1 else \
            (lambda rng: str(rng.randint(low, high) * times))
    if isinstance(spec, dict) and len(spec) == 1 and isinstance(spec.get("pattern"), str):
        pattern = spec["pattern"]
        return lambda rng: fill(pattern, vocab, rng)
    if isinstance(spec, dict) and len(spec) == 1 and isinstance(spec.get("capitalised"), str):
        words = vocab.get(spec["capitalised"])
        if not isinstance(words, tuple):
            raise _fail(where, f"capitalised needs a word-list slot defined before it, not {spec['capitalised']!r}")
        return tuple(word[0].upper() + word[1:] for word in words)
    raise _fail(where, f"unknown slot spec {spec!r}")


def _vocab(specs: Any, where: str, base: Vocab | None = None) -> Vocab:
    if not isinstance(specs, dict):
        raise _fail(where, "expected a mapping of slot names")
    vocab = dict(base or {})
    for name, spec in specs.items():
        vocab[str(name)] = _slot(spec, vocab, f"{where}.{name}")
    return vocab


def _forms(rows_of_forms: Any, vocab: Vocab, where: str) -> None:
    """Slots from rows of word forms: `{slots: [rel, rel_gen], rows: [[сосед, соседа], ...]}`."""
    for number, entry in enumerate(rows_of_forms or []):
        here = f"{where}[{number}]"
        names = _strings(entry.get("slots") if isinstance(entry, dict) else None, f"{here}.slots")
        rows = [_strings(row, f"{here}.rows", len(names)) for row in entry.get("rows") or []]
        if not rows or any(len(row) != len(names) for row in rows):
            raise _fail(here, f"expected rows of {len(names)} forms")
        for i, name in enumerate(names):
            vocab[name] = tuple(row[i] for row in rows)


@cache
def values() -> ValueGenerators:
    """The value generators over the word lists of `common.yaml`."""
    common = _read("common.yaml")
    months = common.get("months") or {}
    return ValueGenerators(_strings(months.get("en"), "common.yaml: months.en", 12),
                           _strings(months.get("ru"), "common.yaml: months.ru", 12),
                           _strings(common.get("wifi_words"), "common.yaml: wifi_words", 2))


def _side(data: Any, where: str) -> Side:
    if not isinstance(data, dict) or set(data) != {"questions", "values", "says", "updates"}:
        raise _fail(where, "expected exactly questions, values, says and updates")
    says, updates = _strings(data["says"], f"{where}.says"), _strings(data["updates"], f"{where}.updates")
    for template in (*says, *updates):
        if template.count("{v}") != 1:
            raise _fail(where, f"every phrasing needs exactly one {{v}}: {template!r}")
    return Side(_strings(data["questions"], f"{where}.questions"), _slot(data["values"], {}, f"{where}.values"),
                says, updates)


@cache
def kinds(templates: str = "tuning") -> tuple[Kind, ...]:
    """The planted kinds of a template set: "tuning" or "heldout"."""
    if templates not in TEMPLATE_SETS:
        raise DataError(f"unknown template set {templates!r}: choose one of {', '.join(TEMPLATE_SETS)}")
    return parse_kinds(_read(f"{templates}.yaml"), f"{templates}.yaml")


def parse_kinds(data: dict[str, Any], source: str) -> tuple[Kind, ...]:
    """Check and read the `kinds` of a template file's data (`source` names the file in errors)."""
    entries = data.get("kinds")
    if not isinstance(entries, list) or not entries:
        raise bad_data(source, "kinds", "expected a non-empty list")
    found: list[Kind] = []
    for number, entry in enumerate(entries):
        where = f"{source}: kinds[{number}]"
        if not isinstance(entry, dict) or set(entry) != {"key", "changes", *LANGUAGES}:
            raise _fail(where, "expected exactly key, changes, en and ru")
        if not isinstance(entry["key"], str) or not isinstance(entry["changes"], bool):
            raise _fail(where, "key must be a string and changes a boolean")
        found.append(Kind(entry["key"], entry["changes"], _side(entry["en"], f"{where}.en"),
                          _side(entry["ru"], f"{where}.ru")))
    keys = [kind.key for kind in found]
    if len(set(keys)) != len(keys):
        raise bad_data(source, "kinds", f"keys repeat: {sorted({key for key in keys if keys.count(key) > 1})}")
    return tuple(found)


@cache
def chats() -> dict[str, Chat]:
    """The chat of each language, with its topics and word lists (`common.yaml` slots under its own)."""
    common = _vocab(_read("common.yaml").get("slots"), "common.yaml: slots")
    result = {}
    for language in LANGUAGES:
        name = f"filler_{language}.yaml"
        data = _read(name)
        vocab = dict(common)
        _forms(data.get("forms"), vocab, f"{name}: forms")
        vocab = _vocab(data.get("vocab"), f"{name}: vocab", vocab)
        parts = data.get("chat") or {}
        wanted = [field.name for field in fields(Chat) if field.name not in ("topics", "vocab")]
        if set(parts) != set(wanted):
            raise _fail(f"{name}: chat", f"expected exactly {', '.join(wanted)}")
        topics = []
        for number, topic in enumerate(data.get("topics") or []):
            where = f"{name}: topics[{number}]"
            if not isinstance(topic, dict) or set(topic) != {"topic", "asks", "notes", "says", "vocab"}:
                raise _fail(where, "expected exactly topic, asks, notes, says and vocab")
            topics.append(Topic(str(topic["topic"]), _strings(topic["asks"], f"{where}.asks"),
                                _strings(topic["notes"], f"{where}.notes", 3), _strings(topic["says"], f"{where}.says"),
                                _vocab(topic["vocab"], f"{where}.vocab")))
        if not topics:
            raise _fail(name, "expected a non-empty list `topics`")
        result[language] = Chat(**{key: _strings(parts[key], f"{name}: chat.{key}") for key in wanted},
                                topics=tuple(topics), vocab=vocab)
    return result
