"""Facts the user states about themselves and their world, in English and Russian, without a model.

A fact is (key, value, sentence). The key names the subject — "residence", "employer", or the stemmed words of
"my <subject> is ...", so "my dog's name is Rex" and "we named our dog Max" share the key "dog" — and a newer
fact with the same key supersedes the older one (the store does that). Patterns, not an LLM: on a CPU an LLM
cannot read 750k tokens in time, while these run at about 20 µs a sentence. What they miss is still found by
the lexical and vector search over the messages and chunks; what they get wrong costs one stale line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from moe_system.text.words import normalize, stem

_SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=[\"«(]?[A-ZА-ЯЁ0-9])|\n+")
_VALUE_END = re.compile(
    r"[;!?]|,\s|\.\s|\.$|\s[-–—]\s|\s\(|\s(?:and|but|so|because|which|since|though|и|но|а|потому|так что|"
    r"который|которая|которое|хотя)\s", re.IGNORECASE)
_LEADING = re.compile(r"^(?:now|still|actually|currently|officially|теперь|сейчас|уже|всё ещё|все еще|по-прежнему)"
                      r"\s+", re.IGNORECASE)
_TRAILING = re.compile(r"\s+(?:now|these days|at the moment|for now|again|too|as well|last (?:week|month|year)|"
                       r"recently|officially|теперь|сейчас|уже|тоже|недавно|в прошлом (?:месяце|году))$", re.IGNORECASE)
_EN_FILLER = {"my", "our", "new", "current", "old", "the", "a", "an", "own", "actual", "real", "s", "personal",
              "home", "main", "primary", "usual", "these", "days", "day", "nowadays",
              "currently", "today", "lately", "still"}
_RU_FILLER = {"мой", "моя", "мое", "мои", "моего", "моей", "мою", "наш", "наша", "наше", "наши", "нашего", "нашей",
              "нашу", "новый", "новая", "новое", "новые", "текущий", "старый", "нынешний"}
_HEADS = {"name", "number", "имя", "номер", "назван", "кличк"}  # dropped when the subject has other words
_SYNONYMS = {"mobil": "phone", "cell": "phone", "telephon": "phone", "телефон": "phone", "мобильн": "phone",
             "favourit": "favorit", "colour": "color", "surnam": "famili", "фамил": "famili"}
_BARE = {"номер": "phone", "number": "phone", "дом": "residence", "home": "residence", "город": "residence",
         "citi": "residence", "address": "residence", "адрес": "residence"}  # a subject of one generic word
# words a question about a canonical subject uses, indexed with the fact so that "where do I live?" finds "we
# moved to Bergen" (the fact's own words may share none with the question)
SUBJECT_WORDS = {
    "residence": "live home city town address moved where живу жить живешь дом город адрес переехал где",
    "employer": "work job company employer workplace работа работаю компания фирма где",
    "job": "job title role profession position occupation работа должность профессия кем",
    "name": "name called зовут имя",
    "phone": "phone number mobile телефон номер мобильный",
    "allergy": "allergic allergy аллергия",
    "birthplace": "born birthplace where родился родилась где",
    "birthday": "birthday born date день рождения родился родилась когда",
    "age": "age old years возраст лет сколько",
    "car": "car drive vehicle машина автомобиль езжу",
}
_FAVOURITE = {"favourit", "favorit", "любим"}  # stems: "my favourite X" and "мой любимый/любимым X" share a key


VALUE_LIKE = re.compile(r"\d|«|\"|(?<=\s)[A-ZА-ЯЁ][\w-]+")
FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|my|we|we're|our|me|я|мой|моя|мое|моё|мои|моего|моей|мы|наш|наша|наше|"
                           r"наши|меня|мне|у меня|у нас)\b", re.IGNORECASE)
# someone else's: a statement naming one of these is about another person ("my sister's dog is called Bruno")
THIRD_PARTY = re.compile(
    r"\b(?:sisters?|brothers?|mother|father|mum|mom|dad|parents|aunt|uncle|cousin|niece|nephew|grand\w+|friends?|"
    r"colleagues?|co-?workers?|boss|manager|neighbou?rs?|flatmate|roommate|classmate|landlord|in-laws?|"
    r"сестр\w*|брат[аеуо]?м?|мама|мамы|маме|маму|мамой|папа|папы|папе|папу|папой|родител\w*|т[её]т[яиеюй]\w*|"
    r"дяд\w*|племянни\w*|бабушк\w*|дедушк\w*|друг|друга|другу|друзья|друзей|подруг\w*|коллег\w*|начальни\w*|"
    r"сосед\w*|одноклассни\w*|однокурсни\w*|кума?|куму|кумом|свекров\w*|т[её]щ\w*)\b", re.IGNORECASE)
_STATEMENT_STOP = {stem(word) for word in (  # compared after stemming
    "i", "my", "we", "our", "me", "is", "are", "was", "the", "a", "an", "and", "to", "in", "on", "of",
    "at", "for", "with", "it", "that", "this", "now", "so", "я", "мой", "моя", "мое", "мо", "мы", "наш",
    "меня", "мне", "у", "и", "в", "на", "по", "с", "это", "теперь", "сейчас", "уже", "так", "не")}


# a change announced: "Training is on Mondays now", "New role at work: ...", "Расписание поменялось: ..."
# a request for work ("Write a SQL query that counts rows in table users."), not a statement about the user's world
_TASK = re.compile(
    r"^(?:please |pls |could you |can you |пожалуйста,? )?(?:write|fix|solve|compute|calculate|count|translate|"
    r"explain|show|list|give|generate|create|make|find|sort|convert|summari[sz]e|describe|implement|refactor|"
    r"rewrite|draw|tell|напиши|исправь|реши|посчитай|вычисли|подсчитай|переведи|объясни|покажи|перечисли|дай|"
    r"сгенерируй|создай|сделай|найди|отсортируй|преобразуй|опиши|реализуй|перепиши|нарисуй|расскажи|составь)\b",
    re.IGNORECASE)
_CHANGE = re.compile(r"\b(?:now|new|newly|changed|switched|moved|since|anymore|no longer|these days|теперь|сейчас|"
                     r"нов\w*|поменял\w*|изменил\w*|сменил\w*|перенес\w*|перен[её]с\w*|больше не|с тех пор)\b",
                     re.IGNORECASE)
SHORT_STATEMENT = 12  # words


@dataclass(frozen=True)
class Fact:
    key: str
    value: str
    text: str  # the sentence that states it


def _key(subject: str) -> str:
    """Stable key of a subject phrase: stems without possessives, fillers and generic heads, sorted."""
    words = [w for w in re.findall(r"\w+", normalize(subject)) if w not in _EN_FILLER and w not in _RU_FILLER]
    favourite = any(stem(w) in _FAVOURITE for w in words)
    stems = [_SYNONYMS.get(stem(w), stem(w)) for w in words if stem(w) not in _FAVOURITE]
    kept = [s for s in stems if s not in _HEADS] or stems
    key = " ".join(sorted(set(kept) | ({"favorit"} if favourite else set())))
    return _BARE.get(key, key)


def _value(raw: str) -> str:
    """The value a pattern captured, cut at the end of its clause, without quotes and trailing punctuation."""
    value = _LEADING.sub("", raw.strip())
    cut = _VALUE_END.search(value, 1)
    value = value[: cut.start()] if cut else value
    value = _TRAILING.sub("", value.strip(" \t.,!"))
    return value.strip(" \t\"'«»“”„.,:;—–-")[:80]


# (pattern, fixed key or None: the `s` group gives it; suffix added to a subject key)
_EN = [
    (r"\bmy name is (?P<v>.+)|\bcall me (?P<v2>.+)", "name"),
    (r"\b(?:we|i) (?:have )?(?:named|called) (?:our|my|the) (?P<s>[\w -]{2,30}?) (?P<v>[A-Z0-9«\"][^,;]*)", None),
    (r"\b(?:my|our) (?P<s>[\w' -]{2,40}?) (?:is|was|'s) (?:now |still )?(?:called|named) (?P<v>.+)", None),
    (r"\b(?:i|we)(?:'ve| have|'re| are|'m| am)? (?:now |currently |still |just |finally |recently )?"
     r"(?:live|lived|living|reside|moved|relocated|settled)(?: back)? (?:to|in) (?P<v>(?-i:[A-Z]).+)", "residence"),
    (r"\bi(?:'m| am)? (?:now |currently |still )?(?:work|working|employed) (?:at|for|in) (?P<v>.+)", "employer"),
    (r"\bi (?:just |recently )?(?:joined|started (?:a job )?at|got a job at|switched jobs to) (?P<v>.+)", "employer"),
    (r"\bi(?:'m| am)? (?:now |currently )?(?:work|working) as (?:an? )?(?P<v>.+)", "job"),
    (r"\bi(?:'m| am) allergic to (?P<v>.+)", "allergy"),
    (r"\bi was born in (?P<v>[A-Z].+)", "birthplace"),
    (r"\bi was born on (?P<v>.+)", "birthday"),
    (r"\bi(?:'m| am) (?P<v>\d{1,3}) years old", "age"),
    (r"^(?:[\w ,']+: )?(?P<v>[\w' -]{2,40}?) (?:is|has become|became) (?:now )?my (?:new )?(?P<s>favou?rite"
     r" [\w -]{2,30}?)(?: now| these days)?[.!]?$", None),
    (r"\bi (?:now )?drive an? (?P<v>.+)", "car"),
    (r"\b(?:my|our) (?P<s>[\w' -]{2,40}?)(?: is| are| was| has become| became| changed to|:| =)"
     r" (?:now |still |actually )?(?P<v>.+)", None),
]
_RU = [
    (r"\bменя зовут (?P<v>.+)", "name"),
    (r"\b(?:моего|мою|мою|моих|нашего|нашу|наших) (?P<s>[\w-]+(?: [\w-]+)?) (?:теперь |сейчас )?зовут (?P<v>.+)",
     None),
    (r"\bу (?:меня|нас) (?:есть |теперь )?(?P<s>[\w-]+(?: [\w-]+)?) по (?:имени|кличке) (?P<v>.+)", None),
    (r"\b(?:я|мы) (?:теперь |сейчас |уже |недавно |наконец )?(?:живу|живем|переехал|переехала|переехали|"
     r"перебрался|перебралась|перебрались|поселился|поселилась|поселились) (?:в|во|на) (?P<v>(?-i:[А-ЯЁA-Z]).+)",
     "residence"),  # a place has a capital: "moved into a bigger flat" is no new city
    (r"\bя (?:теперь |сейчас |уже )?(?:работаю|устроился|устроилась|перешел|перешла) (?:в|во|на) (?P<v>.+)",
     "employer"),
    (r"\bя (?:теперь |сейчас )?работаю (?P<v>\w+(?:ом|ем|ой|ицей))\b", "job"),
    (r"\bу меня аллергия на (?P<v>.+)", "allergy"),
    (r"\bя родил(?:ся|ась) (?:в|во) (?P<v>[А-ЯA-Z].+)", "birthplace"),
    (r"\bя родил(?:ся|ась) (?P<v>\d.+)", "birthday"),
    (r"\bмне (?P<v>\d{1,3}) (?:лет|год|года)\b", "age"),
    (r"\b(?P<s>любим(?:ым|ой|ою) [\w-]+) (?:теперь |сейчас )?стал[аои]? (?:для меня )?(?P<v>.+)", None),
    (r"\b(?:мой|моя|мое|моё|мои|наш|наша|наше|наши) (?P<s>[\w -]{2,40}?)\s*(?:—|–|-|:|=|\bэто\b|\bтеперь\b|"
     r"\bсейчас\b)\s*(?:теперь |сейчас |уже )?(?P<v>.+)", None),
    (r"\b(?:мой|моя|мое|моё|мои|наш|наша|наше|наши) (?P<s>[а-я][а-я ]{1,40}?) (?P<v>[+\d«\"A-ZА-Я].*)", None),
]
_PATTERNS = [(re.compile(p, re.IGNORECASE), key) for p, key in _EN] + \
            [(re.compile(p, re.IGNORECASE), key) for p, key in _RU]
_LOWER_SUBJECT = re.compile(r"^[\w' -]+$")
_CLAUSE = re.compile(r",?\s+(?:and|but|also|while|и|а|но|также)\s+(?=(?:i|we|my|our|я|мы|мой|моя|мое|моё|мои|наш|наша|"
                     r"наше|наши|у меня|меня|мне|моего|мою)\b)|;\s+", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """Split text into sentences (period/question/exclamation + capital, or a line break)."""
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def extract_facts(text: str) -> list[Fact]:
    """The facts stated in a user's message: at most one per clause (the first pattern that matches), clauses
    being sentences split before "and I ...", "и я ..." and the like."""
    found: list[Fact] = []
    for sentence in sentences(text):
        if sentence.rstrip().endswith("?"):
            continue  # a question states nothing
        understood = [fact for clause in _CLAUSE.split(sentence) if (fact := _pattern_fact(clause))]
        statement = None if understood else _statement(sentence)
        found.extend(understood or ([statement] if statement else []))
    return found


def _pattern_fact(sentence: str) -> Fact | None:
    """The fact of the first pattern that matches a clause."""
    for pattern, fixed in _PATTERNS:
            match = pattern.search(sentence)
            if match is None:
                continue
            groups = match.groupdict()
            raw = groups.get("v") or groups.get("v2") or ""
            value = _value(raw)
            subject = groups.get("s")
            if not value or (subject is not None and not _LOWER_SUBJECT.match(subject)):
                continue
            key = fixed or _key(subject or "")
            if key:
                return Fact(key, value, sentence[:400])
    return None


def _statement(clause: str) -> Fact | None:
    """A statement no pattern understood that still looks like a fact about the user's world: one with a value in
    it (a number, a code, a name, a quote) that is in the first person or names no one else ("Попугай Яша ...",
    "Каждый год 5 января отмечаем ...": Russian drops the pronoun), short (`SHORT_STATEMENT` words) in the first
    person and about no one else, or announcing a change and about no one else ("Тренировки теперь по
    понедельникам"). A request for work ("Write a query that counts rows in table Users") is none of these. Keyed
    by its words other than the values ("~" marks such keys; see `similar_key`)."""
    if _TASK.match(clause.strip()):
        return None
    mine = bool(FIRST_PERSON.search(clause))
    others = bool(THIRD_PARTY.search(clause))
    valued = bool(VALUE_LIKE.search(clause)) and (mine or not others)
    short = mine and len(clause.split()) <= SHORT_STATEMENT and not others
    if not (valued or short or (_CHANGE.search(clause) and not others)):
        return None
    found = re.findall(r"[^\W\d_]+", clause)
    words = found[:1] + [w for w in found[1:] if not w[0].isupper()]  # capitals past the first word are values
    stems_ = {stem(w) for w in re.findall(r"\w+", normalize(" ".join(words)))} - _STATEMENT_STOP
    if not stems_:
        return None
    return Fact("~" + " ".join(sorted(stems_)), clause.strip()[:80], clause[:400])


def similar_key(key: str, keys: Sequence[str]) -> str | None:
    """An existing key about the same subject as `key`, or None: equal, or sharing at least two stems that make
    up most of the shorter key, so a statement no pattern understood can still supersede an older one ("the
    policy number on my travel insurance is X" ... "I renewed the travel insurance; the new policy number is
    Y"). Only a statement key ("~") is matched loosely. The most recent such key wins."""
    mine = set(key.lstrip("~").split())
    for other in reversed(keys):
        if other == key:
            return other
        if not (key.startswith("~") or other.startswith("~")):
            continue  # two understood subjects are the same only when equal: "colour" is not "landlord colour"
        theirs = set(other.lstrip("~").split())
        common = len(mine & theirs)
        if common >= 2 and common >= 0.6 * min(len(mine), len(theirs)):
            return other
    return None
