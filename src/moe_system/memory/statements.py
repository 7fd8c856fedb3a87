"""Which clauses of a user's message are durable statements about the user, and what they are about, from broad
cues rather than one pattern per phrasing.

`memory/facts.py` tries its patterns first; a clause none of them understands is judged here:

- **not a statement**: a question or a request ("can you help me pack light?", "подскажи, какую куртку выбрать"),
  or a hypothetical ("if I ever get a parrot I'll call it ...", "я бы назвала ..."). A sentence that ends in a
  question mark may still state something before it asks ("I'm flying out on BA2490 on the 3rd, can you help me
  pack light?"): `statement_parts` keeps its parts that do not ask.
- **its subject**: the entry of `data/memory_facts/topics.yaml` whose cues it holds most ("I take levocetirizine
  during hay fever season" -> medication; "Днюха у меня 14 февраля" -> birthday). A statement with a subject is
  kept as a fact keyed by the subject and its words ("~medication everi fever hay levocetirizin ..."), and is
  indexed with the words questions about the subject use (`facts.index_words`: "what medication am I on?"
  shares no word with the statement). The subject alone supersedes nothing: it is too broad (two allergies; a
  street address and a flat number).

A few regular expressions and a dictionary lookup per clause: the judge adds about 25 µs a sentence to fact
extraction (80 µs instead of 53 on the 2-core EPYC). Try it with:

    .venv/bin/python -c "from moe_system.memory.statements import topic_of; print(topic_of('We get paid on the 26th'))"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from moe_system.errors import MoEError

# read by path, not through `moe_system.data`: importing that package loads every generator, which the memory's
# worker process has no use for
TOPICS = Path(__file__).resolve().parent.parent / "data" / "memory_facts" / "topics.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WHOLE_WORD = 3  # cues this short (or ending in "$") match a whole word (and its plural in -s), others a beginning

# a clause that asks or requests rather than states
_ASKS = re.compile(
    r"^(?:(?:oh|so|and|but|also|ok|okay|well|hey|ну|а|и|так|кстати|слушай)[,]?\s+)?(?:what|which|who|whom|whose|"
    r"when|where|why|how|is|are|am|was|were|do|does|did|can|could|would|should|will|shall|any|anything|got any|"
    r"help|suggest|recommend|tell me|remind me|please|что|чем|какой|какая|какое|какие|каким|какую|кто|кого|где|"
    r"когда|куда|откуда|почему|зачем|как|сколько|подскажи|посоветуй|порекомендуй|помоги|можешь|можно|напомни|"
    r"скажи|есть ли|стоит ли|не знаешь|не подскажешь)\b", re.IGNORECASE)
# a clause about what might be, not what is
_HYPOTHETICAL = re.compile(r"^(?:if|если|someday|some day|one day|maybe|perhaps|когда-нибудь|может быть|возможно)\b|"
                           r"\b(?:if (?:i|we)|i'd love to|бы|мечтаю)\b", re.IGNORECASE)
# a clause about the moment, not a lasting state: "this is coffee number 3 today", "I'm on the train to Riga", "I have
# about 65 minutes". Days and dates are no such cue: "my flight leaves on Friday" is worth keeping
_TRANSIENT = re.compile(
    r"\b(?:today|tonight|yesterday|this (?:morning|afternoon|evening)|right now|at the moment|just (?:now|got back)|"
    r"last night|(?:days|hours|minutes|weeks) ago|minutes?|on the (?:train|bus|way)|сегодня|вчера|прямо сейчас|"
    r"на данный момент|только что|за день|мин|минут\w*|в поезде|в автобусе)\b", re.IGNORECASE)
# a clause about the conversation itself, not the user's world ("Now, the question.", "Side note, while I remember.")
_ABOUT_THE_CHAT = re.compile(
    r"\b(?:question|side note|by the way|before i forget|while i remember|random|anyway|quick one|one more thing|"
    r"bear with me|вопрос|кстати|к слову|пока не забыл|пока помню|ладно|короче|ещ[её] одно)\b", re.IGNORECASE)
# where a sentence that ends in "?" divides into parts that state and parts that ask
_PARTS = re.compile(r",\s+|;\s+|:\s+|\s[-–—]\s+|\s\(")


@dataclass(frozen=True)
class Topic:
    key: str
    words: str  # what questions about it say
    any_value: bool  # its values are everyday words ("cello", "sesame"), not only numbers, names and quotes


@dataclass(frozen=True)
class _Lexicon:
    topics: tuple[Topic, ...]
    relations: dict[str, str]  # the key of a person or pet known by name -> what questions about them say
    cues: re.Pattern[str]  # every cue, longest first
    owners: dict[str, tuple[int, ...]]  # a cue -> the topics (indexes) it belongs to


def fold(text: str) -> str:
    """Lower case, ё read as е: how cues are matched."""
    return text.casefold().replace("ё", "е")


@cache
def lexicon() -> _Lexicon:
    """The subjects of `data/memory_facts/topics.yaml`, checked as they are read."""
    source = "moe_system/data/memory_facts/topics.yaml"
    try:
        data = yaml.load(TOPICS.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise MoEError(f"{source}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        raise MoEError(f"{source}: expected a mapping with a `topics` list")
    topics: list[Topic] = []
    owners: dict[str, list[int]] = {}
    for number, entry in enumerate(data["topics"]):
        if not (isinstance(entry, dict) and isinstance(entry.get("key"), str) and isinstance(entry.get("words"), str)
                and isinstance(entry.get("cues"), list) and entry["cues"]
                and all(isinstance(cue, str) and cue.strip() for cue in entry["cues"])
                and entry.get("value", "named") in ("named", "any")):
            raise MoEError(f"{source}: topics[{number}]: needs a string `key`, string `words`, a list of `cues` and "
                           "`value` named (the default) or any")
        topics.append(Topic(entry["key"], entry["words"], entry.get("value") == "any"))
        for cue in entry["cues"]:
            owners.setdefault(fold(cue.strip()), []).append(number)
    alternatives = []
    for cue in sorted(owners, key=len, reverse=True):
        body = re.escape(cue.rstrip("$")).replace(r"\ ", r"\s+")
        alternatives.append(f"{body}s?(?!\\w)" if len(cue) <= _WHOLE_WORD or cue.endswith("$") else body)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + ")")
    relations = data.get("relations", [])
    if not (isinstance(relations, list) and all(isinstance(entry, dict) and isinstance(entry.get("key"), str)
                                                and isinstance(entry.get("words"), str) for entry in relations)):
        raise MoEError(f"{source}: relations: expected a list of string `key` and `words`")
    return _Lexicon(tuple(topics), {entry["key"]: entry["words"] for entry in relations}, pattern,
                    {cue: tuple(found) for cue, found in owners.items()})


def subject_words() -> dict[str, str]:
    """Each subject's key (and each relation's) -> the words questions about it use."""
    return {**lexicon().relations, **{topic.key: topic.words for topic in lexicon().topics}}


def topic_of(clause: str) -> Topic | None:
    """The subject whose cues the clause holds most (the one listed first on a tie), or None."""
    found = lexicon()
    counts: dict[int, int] = {}
    for match in found.cues.finditer(fold(clause)):
        cue = " ".join(match.group(0).split())
        for number in found.owners.get(cue) or found.owners.get(cue + "$") or found.owners.get(cue[:-1]) or \
                found.owners.get(cue[:-1] + "$", ()):
            counts[number] = counts.get(number, 0) + 1
    if not counts:
        return None
    best = min(counts, key=lambda number: (-counts[number], number))
    return found.topics[best]


def asks(clause: str) -> bool:
    """Whether a clause asks or requests something rather than stating it."""
    return bool(_ASKS.match(clause.strip(" \t\"'«“(")))


def hypothetical(clause: str) -> bool:
    """Whether a clause speaks of what might be ("if I ever get a parrot", "я бы назвала") rather than what is."""
    return bool(_HYPOTHETICAL.search(clause))


def transient(clause: str) -> bool:
    """Whether a clause speaks of the moment ("today", "right now", "about 57 minutes", "сегодня") rather than of
    a lasting state."""
    return bool(_TRANSIENT.search(clause))


def about_the_chat(clause: str) -> bool:
    """Whether a clause speaks of the conversation ("now, the question", "кстати") rather than the user's world."""
    return bool(_ABOUT_THE_CHAT.search(clause))


def statement_parts(sentence: str, request: re.Pattern[str] | None = None) -> list[str]:
    """The parts of a sentence to read facts from. A question ("...?"): its parts (split at commas, semicolons,
    colons, dashes and brackets) that neither ask nor request, without the question mark ("I'm flying out on BA2490
    on the 3rd, can you help me pack light?"). A request (`asks`, or `request` matches its start): the whole of it,
    where the fact patterns may still find "please note my new number is ...", and its later parts that do not
    request ("Draft a note to the landlord: we live at 14 Tannery Lane"). Anything else: the whole sentence."""
    def requests(text: str) -> bool:
        return asks(text) or bool(request is not None and request.match(text.strip()))

    question = sentence.rstrip().endswith("?")
    if not (question or requests(sentence)):
        return [sentence]
    parts = [part.strip(" ?)") for part in _PARTS.split(sentence)]
    stating = [part for part in parts if len(part.split()) >= 3 and not requests(part)]
    if question:
        return stating if len(parts) > 1 else []
    return [sentence] + [part for part in stating if part != sentence]
