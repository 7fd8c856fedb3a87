"""Word lists: the memory's (`function_words.yaml`, `concepts.yaml`), checked when read and returned as Snowball
stems (`text.words.stems`), so the lists can be written as plain words in English and Russian; and the bot's
markers of an informal message (`informal.yaml`)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from moe_system.data.common import bad_data, read_yaml
from moe_system.text.words import stems

PACKAGE = "moe_system.data.lexicon"
LANGUAGES = ("en", "ru")


@cache
def function_stems(*groups: str) -> frozenset[str]:
    """The stems of the `function_words.yaml` groups named ("function", "question"), both languages."""
    source = f"{PACKAGE}/function_words.yaml"
    data = read_yaml(PACKAGE, "function_words.yaml")
    found: set[str] = set()
    for group in groups:
        lists = data.get(group) if isinstance(data, dict) else None
        if not isinstance(lists, dict) or sorted(lists) != sorted(LANGUAGES) or \
                not all(isinstance(words, str) for words in lists.values()):
            raise bad_data(source, group, "needs a string of words for each of en and ru")
        for words in lists.values():
            found.update(stems(words))
    return frozenset(found)


@cache
def _concept_index() -> dict[str, tuple[str, ...]]:
    """Each stem of `concepts.yaml` -> the stems of every concept it belongs to (itself included)."""
    source = f"{PACKAGE}/concepts.yaml"
    data = read_yaml(PACKAGE, "concepts.yaml")
    concepts = data.get("concepts") if isinstance(data, dict) else None
    if not isinstance(concepts, list) or not all(isinstance(words, str) and words.strip() for words in concepts):
        raise bad_data(source, "concepts", "needs a list of strings of words")
    index: dict[str, set[str]] = {}
    function = function_stems("function", "question")
    for number, words in enumerate(concepts, 1):
        split = [stems(word) for word in words.split()]
        if any(len(parts) != 1 for parts in split):  # "mother-in-law" would tie "mother" (and "in") to the concept
            raise bad_data(source, f"concept {number}", "has an entry that is not one word")
        members = {parts[0] for parts in split} - function
        if len(members) < 2:
            raise bad_data(source, f"concept {number}", "names fewer than two different words")
        for member in members:
            index.setdefault(member, set()).update(members)
    return {member: tuple(sorted(related)) for member, related in index.items()}


def concept_stems(found: Iterable[str]) -> list[str]:
    """The stems of every concept of `concepts.yaml` one of the stems `found` belongs to, less those in `found`,
    in a stable order: what a fact is indexed with beside its own words."""
    index = _concept_index()
    own = set(found)
    related = {stem for word in own for stem in index.get(word, ())}
    return sorted(related - own)


@cache
def informal_markers() -> tuple[frozenset[str], tuple[str, ...]]:
    """The words (lower case, English and Russian) and marks that make a chat message informal (`informal.yaml`)."""
    data = read_yaml(PACKAGE, "informal.yaml")
    return frozenset(word for text in data["words"].values() for word in text.split()), tuple(data["marks"])
