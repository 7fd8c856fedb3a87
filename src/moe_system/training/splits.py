"""Train/validation/test splits, their manifest, and the check that evaluation data did not leak into training.

An example's split is decided by a hash of (seed, `Example.key_sha256`) alone, so the split does not depend
on file order or on the other examples, adding data never moves an existing example to another split, and
exact duplicates (same `key_text`) always land together. The `SplitManifest` records the sha256 of every
example and of every split, so a run can state, and later verify, exactly what it trained and validated on.

`contamination_check` compares evaluation items (benchmark questions) with the training examples, exactly and
by n-gram overlap; `require_clean` stops a run whose training data contains its own test.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from moe_system.errors import DatasetError
from moe_system.training.data import Example, normalize_text

SPLIT_NAMES = ("train", "val", "test")
CHAR_N = 13
EVAL_FIELDS = ("question", "prompt", "schema")
_LOG = logging.getLogger(__name__)


@dataclass
class Splits:
    """Examples by split, each list in input order."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    seed: int
    val_fraction: float
    test_fraction: float

    def manifest(self) -> SplitManifest:
        examples = {name: sorted(e.sha256 for e in getattr(self, name)) for name in SPLIT_NAMES}
        return SplitManifest(
            seed=self.seed,
            val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
            counts={name: len(hashes) for name, hashes in examples.items()},
            sha256={name: _split_sha256(hashes) for name, hashes in examples.items()},
            examples=examples,
        )


@dataclass
class SplitManifest:
    """Seed, fractions, and per split: the count, a sha256 over the sorted example hashes, the hashes."""

    seed: int
    val_fraction: float
    test_fraction: float
    counts: dict[str, int]
    sha256: dict[str, str]
    examples: dict[str, list[str]]

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> SplitManifest:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            manifest = cls(**data)
            valid = all(
                manifest.counts[name] == len(manifest.examples[name])
                and manifest.sha256[name] == _split_sha256(sorted(manifest.examples[name]))
                for name in SPLIT_NAMES
            )
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise DatasetError(f"{path}: not a readable split manifest ({err})") from None
        if not valid:
            raise DatasetError(f"{path}: split manifest is inconsistent (counts or hashes do not match)")
        return manifest


def split_dataset(examples: Sequence[Example], val: float = 0.05, test: float = 0.05, seed: int = 0) -> Splits:
    """Assign every example to train, val or test by a hash of (seed, example).

    Each of val and test gets at least one example when its fraction is positive and train keeps one:
    the train example hashed closest to the boundary moves over, so small datasets can still validate.
    """
    if val < 0 or test < 0 or val + test >= 1:
        raise DatasetError(f"split fractions must be >= 0 with val + test < 1, got val={val}, test={test}")
    position = [_unit_hash(seed, e) for e in examples]
    names = ["val" if u < val else "test" if u < val + test else "train" for u in position]
    for name, fraction in (("val", val), ("test", test)):
        train = [i for i, n in enumerate(names) if n == "train"]
        if fraction > 0 and name not in names and len(train) > 1:
            names[min(train, key=lambda i: (position[i], examples[i].sha256))] = name
    by_name: dict[str, list[Example]] = {name: [] for name in SPLIT_NAMES}
    for example, name in zip(examples, names, strict=True):
        by_name[name].append(example)
    return Splits(**by_name, seed=seed, val_fraction=val, test_fraction=test)


def _unit_hash(seed: int, example: Example) -> float:
    digest = hashlib.sha256(f"{seed}:{example.key_sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _split_sha256(sorted_hashes: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted_hashes).encode()).hexdigest()


def eval_item_text(item: Mapping[str, Any]) -> str:
    """The text of an evaluation item to look for in the training data: its question, prompt and schema
    fields joined by newlines (a non-string value, such as a schema given as a list, as JSON)."""
    parts = [
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
        for key in EVAL_FIELDS
        if (value := item.get(key)) is not None
    ]
    if not parts:
        raise DatasetError(f"an evaluation item needs one of {', '.join(EVAL_FIELDS)}; got keys {sorted(item)}")
    return "\n".join(parts)


@dataclass(frozen=True)
class ContaminatedItem:
    """An evaluation item found in the training data, and the training example (`source:line`) it matches best."""

    index: int
    text: str
    kind: Literal["exact", "ngram"]
    overlap: float
    train: str


@dataclass
class ContaminationReport:
    """Evaluation items that overlap the training data (exactly, or by at least `threshold` of their n-grams)."""

    n_eval: int
    n_train: int
    n: int
    threshold: float
    items: list[ContaminatedItem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.items

    @property
    def exact(self) -> int:
        return sum(item.kind == "exact" for item in self.items)

    @property
    def near(self) -> int:
        return sum(item.kind == "ngram" for item in self.items)

    def summary(self, first: int = 3) -> str:
        if self.clean:
            return f"no overlap between {self.n_eval} eval items and {self.n_train} training examples"
        offenders = ", ".join(
            f"eval #{item.index} ~ {item.train} ({item.overlap:.0%})" for item in self.items[:first]
        )
        return (
            f"{len(self.items)} of {self.n_eval} eval items overlap the training data ({self.exact} exact, "
            f"{self.near} sharing >= {self.threshold:.0%} of their {self.n}-grams); first: {offenders}"
        )


def contamination_check(
    train: Sequence[Example], eval_texts: Sequence[str], n: int = 8, threshold: float = 0.5
) -> ContaminationReport:
    """Evaluation items whose normalized text equals a training example or one of its messages, or of whose
    word n-grams at least `threshold` occur in one training example.

    Items shorter than `n` words are compared by character 13-grams instead; items shorter than 13
    characters only by the exact check. Numbers matter: an n-gram match counts only when one of the most
    similar training examples also contains all of the item's numbers. Generated tasks reuse templates, and
    "$49500 at 5% for 6 years" is a different problem from "$19000 at 5% for 6 years", not a leak; a copied
    item with a few words changed keeps its numbers and is still caught. The index is built over the
    evaluation items (small), and the training data is streamed through it once.
    """
    if n < 1 or not 0 < threshold <= 1:
        raise DatasetError(f"contamination check needs n >= 1 and a threshold in (0, 1], got n={n}, {threshold}")
    report = ContaminationReport(len(eval_texts), len(train), n, threshold)
    exact: dict[str, int] = {}
    for i, example in enumerate(train):
        contents = [m["content"] for m in example.messages or () if m["role"] != "system"]
        for text in (example.key_text, *map(normalize_text, contents)):
            exact.setdefault(text, i)
    grams: dict[int, set[Any]] = {}
    for index, raw in enumerate(eval_texts):
        text = normalize_text(raw)
        if text in exact:
            report.items.append(ContaminatedItem(index, raw[:80], "exact", 1.0, train[exact[text]].where))
        elif item_grams := set[Any](_iter_word_grams(text, n)) or set(_iter_char_grams(text)):
            grams[index] = item_grams
    report.items.extend(_ngram_matches(train, eval_texts, grams, n, threshold))
    report.items.sort(key=lambda item: item.index)
    return report


def _ngram_matches(
    train: Sequence[Example], eval_texts: Sequence[str], grams: dict[int, set[Any]], n: int, threshold: float
) -> list[ContaminatedItem]:
    """Items of `grams` (eval index -> its n-grams) that share at least `threshold` of their distinctive n-grams
    with one training example. Distinctive: found in at most `max(20, 1%)` of the training examples; n-grams
    that many examples share are boilerplate of the task (a schema reused by many questions, a problem
    template), and counting them would flag every sibling of a template. One example, not the union of all."""
    owners: dict[Any, list[int]] = {}
    for index, item_grams in grams.items():
        for gram in item_grams:
            owners.setdefault(gram, []).append(index)
    wanted = set(owners)
    chars = any(isinstance(gram, str) for gram in wanted)
    hits_of: list[set[Any]] = []
    frequency: Counter[Any] = Counter()
    for example in train:
        hits = wanted.intersection(_iter_word_grams(example.key_text, n))
        if chars:
            hits |= wanted.intersection(_iter_char_grams(example.key_text))
        hits_of.append(hits)
        frequency.update(hits)
    common = {gram for gram, count in frequency.items() if count > max(20, len(train) // 100)}
    votes: dict[int, Counter[int]] = {index: Counter() for index in grams}
    for i, hits in enumerate(hits_of):
        for gram in hits - common:
            for index in owners[gram]:
                votes[index][i] += 1
    matches = []
    for index, item_grams in grams.items():
        distinctive = len(item_grams - common)
        numbers = _numbers(normalize_text(eval_texts[index]))
        for i, shared in votes[index].most_common(5):  # the training examples that share the most n-grams
            overlap = shared / max(distinctive, 1)
            if overlap >= threshold and numbers <= _numbers(train[i].key_text):
                matches.append(ContaminatedItem(index, eval_texts[index][:80], "ngram", overlap, train[i].where))
                break
    return matches


_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")  # standalone numbers, not digits inside words like "w12"


def _numbers(text: str) -> Counter[str]:
    """The multiset of numbers written in a text (normalized: '3,5' == '3.5')."""
    return Counter(match.replace(",", ".") for match in _NUMBER.findall(text))


def _iter_word_grams(text: str, n: int) -> Iterable[tuple[str, ...]]:
    words = text.split()
    return zip(*(words[k:] for k in range(n)), strict=False)


def _iter_char_grams(text: str) -> Iterable[str]:
    return (text[j : j + CHAR_N] for j in range(len(text) - CHAR_N + 1))


def require_clean(report: ContaminationReport, force: bool = False) -> None:
    """Raise DatasetError when evaluation items leaked into the training data; with `force`, only warn."""
    if report.clean:
        return
    message = report.summary()
    if not force:
        raise DatasetError(f"{message}; remove them from the training data or force to train anyway")
    _LOG.warning("training despite contamination: %s", message)
