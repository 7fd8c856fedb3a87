"""Facts the user states about themselves and their world, in English and Russian, without a model.

A fact is (key, value, sentence). The key names the subject — "residence", "employer", or the stemmed words of
"my <subject> is ...", so "my dog's name is Rex" and "we named our dog Max" share the key "dog" — and a newer
fact with the same key supersedes the older one (the store does that). A statement no pattern understands is
kept by broad cues (the first person, a value, a change announced; `_statement`) and keyed by its content words.
Patterns and cues, not an LLM: on a CPU an LLM cannot read 750k tokens in time, while these run at about 60 µs a
sentence. What they miss is still found by the lexical and vector search over the messages and chunks; what they
get wrong costs one stale line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from moe_system.data.lexicon import function_stems
from moe_system.text.words import normalize, stem, stems

_SENTENCE = re.compile(r"(?<=[.!?…])\s+(?=[\"«(]?[A-ZА-ЯЁ0-9])|\n+")
_VALUE_END = re.compile(
    r"[;!?]|,\s|\.\s|\.$|\s[-–—]\s|\s\(|\s(?:and|but|so|because|which|since|though|и|но|а|потому|так что|"
    r"который|которая|которое|хотя)\s", re.IGNORECASE)
_LEADING = re.compile(r"^(?:now|still|actually|currently|officially|теперь|сейчас|уже|всё ещё|все еще|по-прежнему)"
                      r"\s+", re.IGNORECASE)
_TRAILING = re.compile(r"\s+(?:right now|now|these days|at the moment|for now|again|too|as well|"
                       r"last (?:week|month|year)|recently|officially|теперь|сейчас|уже|тоже|недавно|"
                       r"в прошлом (?:месяце|году))$", re.IGNORECASE)
_EN_FILLER = {"my", "our", "new", "current", "old", "the", "a", "an", "own", "actual", "real", "s", "personal",
              "home", "main", "primary", "usual", "these", "days", "day", "nowadays",
              "currently", "today", "lately", "still", "at", "in", "on", "of", "for", "from", "with", "by"}
_RU_FILLER = {"мой", "моя", "мое", "мои", "моего", "моей", "мою", "наш", "наша", "наше", "наши", "нашего", "нашей",
              "нашу", "новый", "новая", "новое", "новые", "текущий", "старый", "нынешний", "самый", "самая", "самое",
              "самые", "самого", "самую", "в", "во", "на", "у", "по", "с", "из", "для"}
# dropped when the subject has other words: generic heads, and where the thing is ("my parking spot at work")
_HEADS = {"name", "number", "имя", "номер", "назван", "кличк", "work", "job", "работ"}
_SYNONYMS = {"mobil": "phone", "cell": "phone", "telephon": "phone", "телефон": "phone", "мобильн": "phone",
             "favourit": "favorit", "colour": "color", "surnam": "famili", "фамил": "famili",
             "mum": "mother", "mom": "mother", "мам": "мат", "матер": "мат", "dad": "father", "пап": "отец",
             "отц": "отец",
             "gran": "grandmoth", "granni": "grandmoth", "grandma": "grandmoth", "grandad": "grandfath",
             "grandpa": "grandfath", "mate": "friend", "closest": "best", "близк": "лучш",
             "depart": "team", "squad": "team", "команд": "team", "отдел": "team", "проект": "project",
             "инструмент": "instrument", "спорт": "sport"}
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
    "team": "team department group work команда отдел работа",
    "project": "project work working проект работа работаю",
    "instrument": "instrument play music musical играю инструмент музыка музыкальный",
    "sport": "sport play game спорт играю игра вид",
    "reading": "reading read book currently читаю читать книга книгу сейчас",
}
_FAVOURITE = {"favourit", "favorit", "любим"}  # stems: "my favourite X" and "мой любимый/любимым X" share a key


VALUE_LIKE = re.compile(r"\d|«|\"|(?<=\s)[A-ZА-ЯЁ][\w-]+")
FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|my|we|we're|our|me|я|мой|моя|мое|моё|мои|моего|моей|мою|моему|моим|моём|"
                           r"моем|моих|мы|наш|наша|наше|наши|нашего|нашей|нашу|нашему|нашим|нашем|наших|меня|мне|"
                           r"у меня|у нас)\b", re.IGNORECASE)
# what says "I" without a pronoun: a Russian verb in the first person singular ("Играю в регби", "Каждое утро беру
# эспрессо"); a parent named as only one's own is, in any case ("Dad moved to Bergamo", "Маме нельзя ибупрофен");
# an English sentence that drops its "I" before a verb in the past or a participle ("Moved to Leeds last month",
# "Been bouldering since spring", "Got a new job"); a bare noun with "is" ("Title is analytics lead": whose title
# goes without saying; not a pronoun or a function word, see `_implied_first_person`)
_IMPLIED_FIRST_PERSON = re.compile(
    r"(?<![\w-])(?:[а-яё]+(?:аю|яю|ею|аюсь|яюсь|еюсь|уюсь|(?:с|ц|ств|ир)ую)|живу|хожу|беру|пью|езжу|учусь|веду|"
    r"пишу|вожу|люблю|сижу|иду|еду|могу|хочу|сплю|готовлю|ношу|смотрю|говорю|слежу|держу|пеку|вяжу|шью|"
    r"тренируюсь)(?![\w-])|^(?:(?:у |к |с |для |от )?(?:mum|mom|dad|gran|granny|grandma|grandpa|grandad|"
    r"пап[аеуыо]й?|мам[аеуыо]й?|бабушк[аеиуо]й?|дедушк[аеиуо]й?)\b|"
    r"(?:just |finally |recently |already )?(?:[a-z]+ed|been|got|went|took|began|bought|made|found|left|met|"
    r"spent|sold|won|lost|quit|broke|switched|signed up)\b(?!['’]))",
    re.IGNORECASE)
_BARE_NOUN_IS = re.compile(r"^(?P<w>[a-zа-яё]+) (?:is|'s|’s|are|was|were)\b", re.IGNORECASE)
# someone else's: a statement naming one of these is about another person ("my sister's dog is called Bruno"). The
# one group is the word without its ending, so "сестру" in a question and "сестра" in a fact name the same person.
# "друг к другу" (each other) names no friend
THIRD_PARTY = re.compile(
    r"\b(sister|brother|mother|father|mum|mom|dad|parent|aunt|uncle|cousin|niece|nephew|grandmother|grandfather|"
    r"grandma|grandpa|grandparent|grandson|granddaughter|grandchild|granny|grandad|friend|colleague|co-?worker|boss|"
    r"manager|neighbou?r|flatmate|roommate|classmate|landlord|in-law|"
    r"сестр|брат|мам|пап|родител|т[её]т|дяд|племянник|племянниц|бабушк|дедушк|"
    r"(?<!друг )(?<!друг к )(?<!друг с )(?<!друг о )(?<!друг на )(?<!друг за )(?<!друг от )(?<!друг у )"
    r"друг(?!(?:ой|ие|ое|ая|их|ими|ую|ого|ому)\b)(?!\s+(?:(?:к|с|о|на|за|от|у)\s+)?друг)|"
    r"друз|подруг|коллег|начальник|начальниц|соседк|сосед|одноклассник|одноклассниц|однокурсник|"
    r"однокурсниц|кум|свекров|т[её]щ|кузен|кузин)"
    r"(?:s|es|а|ы|е|у|ой|ою|ом|ем|ам|ами|ах|и|ей|ю|я|ям|ями|ях|ов|ев|ья|ь|ью|ьям|ьями|ьях)?\b", re.IGNORECASE)
# stems that say who a statement is about (`similar_key` needs more than these in common)
_PERSON_STEMS = set(stems(
    "sister brother mother father mum mom dad parent aunt uncle cousin niece nephew grandmother grandfather grandma "
    "grandpa granny gran friend friends best closest mate colleague coworker boss manager neighbour neighbor "
    "flatmate roommate classmate landlord partner wife husband son daughter сестра брат мама мать папа отец "
    "родители тётя тетя дядя племянник племянница бабушка дедушка друг подруга лучший близкий коллега начальник "
    "сосед соседка одноклассник однокурсник кум свекровь тёща теща жена муж сын дочь дочка двоюродный"))
_STATEMENT_STOP = function_stems("function")  # words that say nothing about a subject (data/lexicon)


# a change announced: "Training is on Mondays now", "New role at work: ...", "Расписание поменялось: ..."
# a request for work ("Write a SQL query that counts rows in table users."), not a statement about the user's world
_TASK = re.compile(
    r"^(?:please |pls |could you |can you |пожалуйста,? )?(?:write|fix|solve|compute|calculate|count|translate|"
    r"explain|show|list|give|generate|create|make|find|sort|convert|summari[sz]e|describe|implement|refactor|"
    r"rewrite|draw|tell|напиши|исправь|реши|посчитай|вычисли|подсчитай|переведи|объясни|покажи|перечисли|дай|"
    r"сгенерируй|создай|сделай|найди|отсортируй|преобразуй|опиши|реализуй|перепиши|нарисуй|расскажи|составь)\b",
    re.IGNORECASE)
# a sentence about someone or something the sentence before it named: it starts with a third-person pronoun
_CONTINUES = re.compile(r"^(?:he|she|he's|she's|his|her|they|they're|their|him|them|it|it's|its|that's|this is|"
                        r"он|она|они|оно|его|ее|её|ему|ей|их|им|него|нее|неё|нему|ней|это)\b", re.IGNORECASE)
_NAME_INSIDE = re.compile(r"(?<=\s)(?-i:[A-ZА-ЯЁ][a-zа-яё-]+)")  # a capitalized word past the first: a name
_CHANGE = re.compile(r"\b(?:now|new|newly|changed|switched|moved|since|anymore|no longer|these days|теперь|сейчас|"
                     r"нов\w*|поменял\w*|изменил\w*|сменил\w*|перенес\w*|перен[её]с\w*|больше не|с тех пор)\b",
                     re.IGNORECASE)


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
    if {"number", "номер"} & set(stems) and set(kept) <= _PERSON_STEMS:
        kept.append("phone")  # "my best friend's number" is their phone, not them
    key = " ".join(sorted(set(kept) | ({"favorit"} if favourite else set())))
    return _BARE.get(key, key)


def _value(raw: str) -> str:
    """The value a pattern captured, cut at the end of its clause, without quotes and trailing punctuation."""
    value = _LEADING.sub("", raw.strip())
    cut = _VALUE_END.search(value, 1)
    value = value[: cut.start()] if cut else value
    value = _TRAILING.sub("", value.strip(" \t.,!"))
    return value.strip(" \t\"'«»“”„.,:;—–-")[:80]


# people and pets known by name ("my best friend Tamsin", "Tamsin, my best friend", "мой брат Олег")
_REL_EN = (r"(?:(?:best|closest|oldest|old|childhood|older|younger|little|big|elder|twin) )?(?:step|half-|god)?"
           r"(?:friend|mate|pal|sister|brother|cousin|aunt|auntie|uncle|niece|nephew|mother|father|mum|mom|dad|gran|"
           r"granny|grandma|grandmother|grandpa|grandad|grandfather|wife|husband|partner|girlfriend|boyfriend|"
           r"fianc[eé]e?|son|daughter|neighbou?r|colleague|boss|manager|flatmate|roommate|landlord|landlady|coach|"
           r"tutor|teacher|therapist|dentist|doctor|vet|mentor|dog|cat|puppy|kitten|parrot|rabbit|hamster|horse|"
           r"tortoise)(?:-in-law)?")
_NAME_EN = r"(?-i:(?:Dr |Mr |Mrs |Ms )?[A-Z][\w-]+(?: [A-Z][\w-]+)?)"
_REL_RU = (r"(?:(?:лучш(?:ий|ая|его|ую|ей)|сам(?:ый|ая|ого|ую) близк(?:ий|ая|ого|ую)|старш(?:ий|ая|его|ую)|"
           r"младш(?:ий|ая|его|ую)|двоюродн(?:ый|ая|ого|ую)|родн(?:ой|ая|ого|ую)) )?(?:друга?|подруг[аиу]|сестр[аыу]|"
           r"брата?|кузин[аыу]|кузена?|т[её]т[яиюе]|дяд[яюи]|племянни(?:ка?|ц[аыу])|мам[аыу]|мать|папа|папу|отец|"
           r"отца|бабушк[аиу]|дедушк[аиу]|жена|жену|муж|мужа|сына?|дочь|дочк[аиу]|соседк?[аиу]?|коллег[аиу]|"
           r"начальни(?:ка?|ц[аыу])|руководител[ья]|свекров[ьи]|т[её]щ[аиу]|св[её]кор|св[её]кра|тесть|тестя|"
           r"кр[её]стн(?:ый|ая|ого|ую)|тренера?|врача?|ветеринара?|собак[аиу]|п[её]с|пса|кота?|кошк[аиу]|"
           r"попуга[йя]|щенка?|щенок|кот[её]нка?|кот[её]нок)")
_NAME_RU = r"(?-i:(?:[А-ЯЁ][а-яё-]+|[A-Z][a-z-]+)(?: [А-ЯЁ][а-яё-]+)?)"
_PLACE_EN = r"(?:lives|has lived|moved|has moved|relocated|has relocated|settled|is moving|is living)"
_PLACE_RU = r"(?:живет|живёт|живут|переехал[аи]?|перебрал(?:ся|ась|ись)|поселил(?:ся|ась|ись)|обосновал(?:ся|ась|ись))"
# words with a capital that are no name: a pattern's value never is one of these
_NOT_NAMES = {"oh", "hey", "hi", "hello", "yes", "no", "well", "so", "and", "but", "also", "anyway", "today",
              "tonight", "yesterday", "tomorrow", "honestly", "actually", "sorry", "thanks", "please", "okay", "ok",
              "right", "morning", "evening", "luckily", "sadly", "apparently", "finally", "meanwhile", "this", "that",
              "it", "he", "she", "they", "there", "here", "what", "which", "monday", "tuesday", "wednesday",
              "thursday", "friday", "saturday", "sunday", "сегодня", "вчера", "завтра", "кстати", "теперь", "сейчас",
              "привет", "слушай", "ладно", "короче", "спасибо", "поправка", "кажется", "вообще", "ну", "да", "нет",
              "итак", "также", "это", "он", "она", "они", "тогда", "здесь", "там"}

# (pattern, fixed key or None: the `s` group gives it; "{s} residence": the `s` group's key with a suffix)
_EN = [
    (r"\bmy name is (?P<v>.+)|\bcall me (?P<v2>.+)", "name"),
    (rf"\b(?:my|our) (?P<s>{_REL_EN}),? (?P<v>{_NAME_EN})(?=['’\s,.;:!?)—–]|$)", None),
    (rf"\b(?:i|we) (?:have|'ve got|have got|had) an? (?P<s>{_REL_EN}) (?:called |named )?(?P<v>{_NAME_EN})"
     r"(?=['’\s,.;:!?)—–]|$)", None),
    (rf"(?:^|[\s(])(?P<v>{_NAME_EN}),? (?:[,—–-] ?)?(?:my|our) (?P<s>{_REL_EN})\b(?!['’])", None),
    (rf"(?:^|[\s(])(?P<v>{_NAME_EN}) (?:is|has become|became) (?:now |really )?(?:my|our) (?:new )?(?P<s>{_REL_EN})"
     r"\b(?!['’])", None),
    (rf"\b(?:(?:my|our) )?(?P<s>{_REL_EN})\b(?!['’])(?:[:,]? [\w']+){{0,6}}? {_PLACE_EN}(?: back)? (?:to|in) "
     r"(?P<v>(?-i:[A-Z]).+)", "{s} residence"),
    (r"\bthe (?P<s>[\w -]{2,30}? (?:of|on|for|at) (?:my|our) [\w -]{2,30}?) (?:is|was|are|has become|changed to|:) "
     r"(?:now |still |actually )?(?P<v>.+)", None),
    (r"\bi(?:'m| am)? (?:now |currently |still )?(?:on|in|part of|with) the (?P<v>(?-i:[A-Z])[\w&' -]+?) "
     r"(?:team|department|squad)\b", "team"),
    (r"\b(?:project|codename|code name) (?:called |named |codenamed |code-named )?[«\"“]?(?P<v>(?-i:[A-Z])[\w -]*)",
     "project"),
    (r"\bi (?:now |still |also |mostly )?(?:play|practi[sc]e|am learning|'m learning|took up|have taken up|"
     r"'ve taken up) the (?P<v>[a-z][\w -]{2,30}?)(?=[\s,.;:!?]|$)", "instrument"),
    (r"\bi (?:now |still |also |mostly )?(?:play|took up|have taken up|'ve taken up) (?P<v>(?!(?:the|a|an|with|it|"
     r"them|for|on|in|at|some|games?|music|around|along|outside|by|to)\b)[a-z][\w -]{2,30}?)(?=[\s,.;:!?]|$)",
     "sport"),
    (r"\bi(?:'m| am) (?:now |currently |still |just )?(?:reading|halfway through|listening to) "
     r"(?P<v>(?-i:[A-Z«\"“]).+)", "reading"),
    (r"\b(?:we|i) (?:have )?(?:named|called) (?:our|my|the) (?P<s>[\w -]{2,30}?) (?P<v>[A-Z0-9«\"][^,;]*)", None),
    (r"\b(?:my|our) (?P<s>[\w' -]{2,40}?) (?:is|was|'s) (?:now |still )?(?:called|named) (?P<v>.+)", None),
    (r"\b(?:i|we)(?:'ve| have|'re| are|'m| am)? (?:now |currently |still |just |finally |recently )?"
     r"(?:live|lived|living|reside|moved|relocated|settled)(?: back)? (?:to|in) (?P<v>(?-i:[A-Z]).+)", "residence"),
    (r"\bi(?:'m| am)? (?:now |currently |still )?(?:work|working|employed) (?:at|for|in) (?P<v>.+)", "employer"),
    (r"\bi (?:just |recently )?(?:joined|started (?:a job )?at|got a job at|switched jobs to) (?P<v>.+)", "employer"),
    (r"\bi(?:'m| am)? (?:now |currently )?(?:work|working) as (?:an? )?(?P<v>.+)", "job"),
    (r"\bi(?:'m| am) (?:now )?an? (?P<v>[\w -]+?) by (?:trade|profession)\b", "job"),
    (r"\bi(?:'m| am) allergic to (?P<v>.+)", "allergy"),
    (r"\bi was born in (?P<v>[A-Z].+)", "birthplace"),
    (r"\bi was born on (?P<v>.+)", "birthday"),
    (r"\bi(?:'m| am) (?P<v>\d{1,3}) years old", "age"),
    (r"^(?:[\w ,']+: )?(?P<v>[\w' -]{2,40}?) (?:is|has become|became) (?:now )?my (?:new |main |only )?"
     r"(?P<s>(?:favou?rite )?[\w -]{2,30}?)(?: now| these days)?[.!]?$", None),
    (r"\bi (?:now )?drive an? (?P<v>.+)", "car"),
    (r"\b(?:my|our) (?P<s>[\w' -]{2,40}?)(?: is| are| was| has become| became| changed to|:| =)"
     r" (?:now |still |actually )?(?P<v>.+)", None),
]
_RU = [
    (r"\bменя зовут (?P<v>.+)", "name"),
    (r"\b(?:моего|мою|мою|моих|нашего|нашу|наших) (?P<s>[\w-]+(?: [\w-]+)?) (?:теперь |сейчас )?зовут (?P<v>.+)",
     None),
    (rf"\b(?:мой|моя|моё|мое|наш|наша) (?P<s>{_REL_RU}) (?P<v>{_NAME_RU})(?=[\s,.;:!?)—–]|$)", None),
    (rf"(?:^|[\s(])(?P<v>{_NAME_RU}),? (?:[,—–-] ?)?(?:мой|моя|наш|наша) (?P<s>{_REL_RU})(?![\w-])", None),
    (rf"^(?:[^:]{{1,30}}: )?(?P<s>{_REL_RU}) (?:теперь |сейчас )?зовут (?P<v>(?-i:[А-ЯЁA-Z]).+)", None),
    (rf"\b(?:(?:мой|моя|наш|наша) )?(?P<s>{_REL_RU})(?![\w-])(?: [\w-]+){{0,5}}? {_PLACE_RU} (?:в|во) "
     r"(?:город[еу]? )?(?P<v>(?-i:[А-ЯЁA-Z]).+)", "{s} residence"),
    (r"\bв (?:нашей |моей |новой |свою )?(?:команде|отделе|команду|отдел) [«\"“]?(?P<v>(?-i:[А-ЯЁA-Z]).+)", "team"),
    (r"\b(?:проект\w*|кодов\w+ назван\w+) (?:под названием )?[«\"“](?P<v>[^»\"”]+)", "project"),
    (r"(?:^|\s)(?:я )?(?:теперь |сейчас |уже |тоже |давно )?(?:играю|занимаюсь|учусь играть|"
     r"(?:начал[аи]? )?учиться играть|научил(?:ся|ась) играть) на (?P<v>[а-яё-]+)", "instrument"),
    (r"(?:^|\s)(?:я )?(?:теперь |сейчас |уже |тоже |давно )?играю в (?P<v>[а-яё -]+?)(?=[\s,.;:!?]|$)", "sport"),
    (r"(?:^|\s)(?:я )?(?:сейчас |теперь |как раз |уже )?(?:читаю|дочитываю) [«\"“](?P<v>[^»\"”]+)", "reading"),
    (r"^(?P<s>[\w-]+(?: [\w-]+)?) у (?:меня|нас) (?:—|–|-) (?:это )?(?P<v>.+)", None),
    (r"\bу (?:меня|нас) (?:есть |теперь )?(?P<s>[\w-]+(?: [\w-]+)?) по (?:имени|кличке) (?P<v>.+)", None),
    (rf"\bу (?:меня|нас) (?:есть |теперь )?(?P<s>{_REL_RU}),? (?P<v>{_NAME_RU})(?=[\s,.;:!?)—–]|$)", None),
    (r"\b(?:я|мы) (?:теперь |сейчас |уже |недавно |наконец )?(?:живу|живем|переехал|переехала|переехали|"
     r"перебрался|перебралась|перебрались|поселился|поселилась|поселились) (?:в|во|на) (?:город[еу]? )?"
     r"(?P<v>(?-i:[А-ЯЁA-Z]).+)", "residence"),  # a place has a capital: "moved into a bigger flat" is no new city
    (r"\bя (?:теперь |сейчас |уже )?(?:работаю|устроился|устроилась|перешел|перешла) (?:в|во|на) "
     r"(?!команд|отдел|проект)(?P<v>.+)", "employer"),
    (r"\bя (?:теперь |сейчас )?работаю (?P<v>\w+(?:ом|ем|ой|ицей))\b", "job"),
    (r"\bпо профессии я (?P<v>.+)|\bя (?:теперь )?по профессии (?P<v2>.+)", "job"),
    (r"\bу (?:меня|нас) (?:теперь |сейчас )?(?:нов\w+ )?(?P<s>[\w-]+(?: [\w-]+)?) (?:—|–|-|:) (?P<v>.+)", None),
    (r"\bу меня аллергия на (?P<v>.+)", "allergy"),
    (r"\bя родил(?:ся|ась) (?:в|во) (?P<v>[А-ЯA-Z].+)", "birthplace"),
    (r"\bя родил(?:ся|ась) (?P<v>\d.+)", "birthday"),
    (r"\bмне (?P<v>\d{1,3}) (?:лет|год|года)\b", "age"),
    (r"\b(?P<s>любим(?:ым|ой|ою) [\w-]+) (?:теперь |сейчас )?стал[аои]? (?:для меня )?(?P<v>.+)", None),
    (r"\b(?:мой|моя|мое|моё|мои|наш|наша|наше|наши) (?P<s>[\w -]{2,40}?)\s*(?:—|–|-|:|=|\bэто\b|\bтеперь\b|"
     r"\bсейчас\b)\s*(?:теперь |сейчас |уже )?(?P<v>.+)", None),
    (r"\b(?:мой|моя|мое|моё|мои|наш|наша|наше|наши) (?P<s>[а-я][а-я ]{1,40}?) (?P<v>[+\d«\"A-ZА-Я].*)", None),
]
_PERSON = re.compile(rf"{_REL_EN}|{_REL_RU}", re.IGNORECASE)
_NAMED = re.compile(r"(?:Dr |Mr |Mrs |Ms )?[\"«“]?[A-ZА-ЯЁ]")  # a name or a quoted one (case-sensitive)
_PATTERNS = [(re.compile(p, re.IGNORECASE), key) for p, key in _EN] + \
            [(re.compile(p, re.IGNORECASE), key) for p, key in _RU]
_LOWER_SUBJECT = re.compile(r"^[\w' -]+$")
# where a sentence's clauses meet (a comma, semicolon or colon, a dash between spaces, an opening parenthesis)
_CLAUSE_BREAK = re.compile(r"\s*[,;:]\s+|\s+[—–-]\s+|\s+\(")
# a clause that asks: an auxiliary or a question word first ("can you …", "any ideas …", "что посоветуешь …")
_ASKING = re.compile(
    r"^(?:(?:so|and|but|also|then|а|и|но|так)\s+)?(?:can|could|would|will|should|shall|do|does|did|is|are|am|was|"
    r"were|have|has|what|which|who|whom|whose|when|where|why|how|any|anything|ideas?|thoughts?|tips?|"
    r"можешь|можете|можно|подскажи|подскажите|посоветуй|посоветуйте|помоги|помогите|как|что|какой|какая|какое|"
    r"какие|где|когда|куда|почему|зачем|кто|сколько|стоит|есть ли|не)\b", re.IGNORECASE)
_CLAUSE = re.compile(r",?\s+(?:and|but|also|while|и|а|но|также)\s+(?=(?:i|we|my|our|я|мы|мой|моя|мое|моё|мои|наш|наша|"
                     r"наше|наши|у меня|меня|мне|моего|мою)\b)|;\s+", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """Split text into sentences (period/question/exclamation + capital, or a line break)."""
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def extract_facts(text: str) -> list[Fact]:
    """The facts stated in a user's message: at most one per clause (the first pattern that matches), clauses
    being sentences split before "and I ...", "и я ..." and the like. A fact stated by a sentence that starts with a
    pronoun ("She's my son's teacher", "Его зовут Ростислав Игоревич") keeps the sentence before it in its text,
    which names who the pronoun is ("… a thank-you note to Mrs Pemberton-Ayles?", "… что подарить свёкру?")."""
    found: list[Fact] = []
    previous = ""
    for whole in sentences(text):
        sentence = _stated_before_asking(whole) if whole.rstrip().endswith("?") else whole
        if sentence:  # a question that states nothing keeps nothing
            clauses = _CLAUSE.split(sentence)
            understood = [_pattern_fact(clause) for clause in clauses]
            # what no pattern understood may still be a statement: "Been bouldering twice a week since spring"
            # before "and my fingers are the weak link" (a pattern's fact)
            rest = [clause for clause, fact in zip(clauses, understood, strict=True) if fact is None]
            statement = _statement(sentence if len(rest) == len(clauses) else ", ".join(rest)) if rest else None
            facts = [fact for fact in understood if fact] + ([statement] if statement else [])
            if previous and _CONTINUES.match(sentence):  # "Его зовут Ростислав" says whose name after the sentence
                facts = [replace(fact, text=f"{previous} {fact.text}"[:400]) for fact in facts]  # before it
            found.extend(facts)
        previous = whole
    return found


def _stated_before_asking(question: str) -> str:
    """The statement a question starts with, if any: "I'm flying out on BA2490 on the 3rd, can you help me pack?"
    states the flight before it asks. The clauses before the first one that asks (`_ASKING`, or the last clause),
    when those are said in the first person or hold a value ("Сына зовут Тимур, что ему подарить?"); else the whole
    question when it is in the first person and names someone or something ("Could you help me write a note to Mrs
    Pemberton-Ayles?", "Can I bring my dog, Rex, on the train?"); "" otherwise ("Any ideas for a takeaway?")."""
    clauses = _CLAUSE_BREAK.split(question.strip())
    stated: list[str] = []
    for clause in clauses[:-1]:
        if _ASKING.match(clause):
            break
        stated.append(clause)
    head = ", ".join(stated)
    if head and (_in_first_person(head) or VALUE_LIKE.search(head)):
        return head
    if FIRST_PERSON.search(question) and _NAME_INSIDE.search(question):
        return question.strip()
    return ""


def _in_first_person(text: str) -> bool:
    """Whether `text` speaks in the first person, by a pronoun or implied (`_IMPLIED_FIRST_PERSON`, or a bare
    content noun before "is": "Title is …", "Rent's due on the 3rd", not "It is …" or "There's …")."""
    text = text.strip()
    if FIRST_PERSON.search(text) or _IMPLIED_FIRST_PERSON.search(text):
        return True
    bare = _BARE_NOUN_IS.match(text)
    return bool(bare and stem(bare.group("w").casefold()) not in _STATEMENT_STOP)


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
            if not value or value.casefold() in _NOT_NAMES or (subject is not None and
                                                                not _LOWER_SUBJECT.match(subject)):
                continue
            if fixed is None and subject is not None and _PERSON.fullmatch(subject) and not _NAMED.match(value):
                continue  # "my cousin is allergic to wasp stings" describes the cousin, it does not name them
            key = fixed.replace("{s}", _key(subject or "")) if fixed else _key(subject or "")
            if key:
                return Fact(key, value, sentence[:400])
    return None


def _statement(clause: str) -> Fact | None:
    """A statement no pattern understood that still looks like a fact about the user's world: one in the first
    person, of any length ("I take levocetirizine every day during hay fever season"), or with a value in it (a
    number, a code, a name, a quote), about the user or anyone ("Попугай Яша ...", "Сестру зовут Катя": Russian
    drops the pronoun), or announcing a change and about no one else ("Тренировки теперь по понедельникам").
    Judged by these broad cues, not by what it is about: the subject patterns above know only the subjects they were
    written for (a hand-written length limit on first-person statements dropped "I take levocetirizine ..."). A
    request for work ("Write a query that counts rows in table Users") is none of these, unless it names someone
    or something of the user's ("Write a birthday card for my goddaughter Philippa"). Keyed by its words other
    than the values and function words ("~" marks such keys; see `similar_key`)."""
    mine = _in_first_person(clause)
    if _TASK.match(clause.strip()) and not (mine and _NAME_INSIDE.search(clause)):
        return None
    others = bool(THIRD_PARTY.search(clause))
    if not (mine or VALUE_LIKE.search(clause) or (_CHANGE.search(clause) and not others)):
        return None
    found = re.findall(r"[^\W\d_]+", clause)
    words = found[:1] + [w for w in found[1:] if not w[0].isupper()]  # capitals past the first word are values
    stems_ = {stem(w) for w in re.findall(r"\w+", normalize(" ".join(words)))} - _STATEMENT_STOP
    if not stems_:  # nothing but values and function words ("Still Tesco Express, by the way."): keyed by its values
        stems_ = {stem(w) for w in re.findall(r"\w+", normalize(" ".join(found)))} - _STATEMENT_STOP
    if not stems_:
        return None
    return Fact("~" + " ".join(sorted(stems_)), clause.strip()[:80], clause[:400])


def similar_key(key: str, keys: Sequence[str]) -> str | None:
    """An existing key about the same subject as `key`, or None: equal, or sharing at least two stems that make
    up most of the shorter key, so a statement no pattern understood can still supersede an older one ("the
    policy number on my travel insurance is X" ... "I renewed the travel insurance; the new policy number is
    Y"). Only a statement key ("~") is matched loosely, and the two stems must say what about someone, not only
    who: "my best friend is visiting" does not replace "my best friend Tamsin". Both must be about the same people
    (the same kinship and role words, or none). The most recent such key wins."""
    mine = set(key.lstrip("~").split())
    for other in reversed(keys):
        if other == key:
            return other
        if not (key.startswith("~") or other.startswith("~")):
            continue  # two understood subjects are the same only when equal: "colour" is not "landlord colour"
        theirs = set(other.lstrip("~").split())
        shared = mine & theirs
        if mine & _PERSON_STEMS != theirs & _PERSON_STEMS:
            continue  # about someone else: "У тёти день рождения 23 января" does not replace the user's birthday
        if len(shared - _PERSON_STEMS) >= 2 and len(shared) >= 0.6 * min(len(mine), len(theirs)):
            return other
    return None
