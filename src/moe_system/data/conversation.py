"""A synthetic long English/Russian chat with facts about the user planted in it: the benchmark for long-conversation
memory.

A memory system that serves a chat of hundreds of thousands of tokens has to put the few facts that matter into a
small context. This module writes such a chat, up to 750,000 tokens: everyday assistant conversation (travel,
cooking, programming, books, sport, weather, work, history, science, health, home, money, music and film) in runs
of English and Russian turns, with first-person statements about the user spread over it ("We named our cat
Pixel.", "Мой номер телефона: +7 913 555-21-08."). Some of the facts are later updated: the user states a new
value for the same thing, usually in a different phrasing ("I live in Bergen" ... "we moved to Trondheim last
month"). At the end the benchmark asks one question per fact, and the memory system has to bring the newest value.

The filler is built from templates and word lists, so messages practically never repeat verbatim (a memory
system de-duplicates near-identical text, so repetitive filler would be unrealistically easy), and it is full of
numbers, names, places, dates and codes, including distractors: the same kinds of facts about other people ("my
neighbour's dog is called Bruno", "у коллеги машина — Skoda Octavia"). No filler or assistant message ever
contains a planted value, current or stale (compared case-insensitively; a message that would is drawn again), and
no value of one fact is part of another's, so "is the answer in the context" is a sound check.

    conversation = synthetic_conversation(750_000, lambda text: len(tokenizer.encode(text)), seed=0)
    for fact in conversation.facts:
        print(fact.question, "->", fact.answer, "stale:", fact.stale)

The result is deterministic for (total_tokens, seed, facts, updated) and the token counter; `count_tokens` is
called once per message.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

Slot = tuple[str, ...] | Callable[[random.Random], str]
Vocab = dict[str, Slot]


@dataclass(frozen=True)
class PlantedFact:
    """One fact about the user, stated in the conversation once and possibly updated later."""

    key: str  # a stable id of the subject, e.g. "dog_name"
    language: str  # "en" or "ru": the language of the statements and the question
    question: str  # asked at the end, e.g. "What is my dog's name?"
    answer: str  # the newest value, verbatim in the newest statement
    stale: tuple[str, ...]  # older values, oldest first (empty when never updated), each verbatim in its statement
    positions: tuple[int, ...]  # indices into `messages` of the statements, oldest first (the last states `answer`)


@dataclass(frozen=True)
class SyntheticConversation:
    """The chat, the facts planted in it and its size in the caller's tokens."""

    messages: list[tuple[str, str]]  # (role, text): "user" and "assistant" alternating, starting with "user"
    facts: list[PlantedFact]
    tokens: int  # sum of count_tokens(text) over messages


# ----------------------------------------------------------------------------------------------- value generators

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
_MONTHS_RU = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
              "ноября", "декабря")
_LATIN = "ABCDEFGHJKLMNPRSTUVWXYZ"
_PLATE_RU = "АВЕКМНОРСТУХ"


def _letters(rng: random.Random, n: int, alphabet: str = _LATIN) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _phone_en(rng: random.Random) -> str:
    return f"+44 7{rng.randint(300, 999)} {rng.randint(100, 999)} {rng.randint(100, 999)}"


def _phone_ru(rng: random.Random) -> str:
    return f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"


def _day_en(rng: random.Random) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(_MONTHS_EN)}"


def _day_ru(rng: random.Random) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(_MONTHS_RU)}"


def _expiry_en(rng: random.Random) -> str:
    return f"{_day_en(rng)} {rng.randint(2029, 2036)}"


def _expiry_ru(rng: random.Random) -> str:
    return f"{_day_ru(rng)} {rng.randint(2029, 2036)}"


_WIFI_WORDS = ("Copper", "Falcon", "Maple", "Orbit", "Velvet", "Tundra", "Lantern", "Pebble", "Saffron", "Comet",
               "Harbor", "Quartz", "Meadow", "Cinder")


def _wifi(rng: random.Random) -> str:
    first, second = rng.sample(_WIFI_WORDS, 2)
    return f"{first}{second}{rng.randint(10, 99)}{rng.choice('!#$%*?')}"


def _locker(rng: random.Random) -> str:
    return f"{_letters(rng, 2)}-{rng.randint(1000, 9999)}"


def _flight_en(rng: random.Random) -> str:
    return f"{rng.choice(('LX', 'SK', 'AY', 'TP', 'OS', 'KL', 'IB', 'EI'))} {rng.randint(100, 1999)}"


def _flight_ru(rng: random.Random) -> str:
    return f"{rng.choice(('SU', 'S7', 'U6', 'DP', 'UT', 'FV'))} {rng.randint(1000, 6999)}"


def _plate_en(rng: random.Random) -> str:
    return f"{_letters(rng, 2)}{rng.randint(10, 74)} {_letters(rng, 3)}"


def _plate_ru(rng: random.Random) -> str:
    region = rng.choice(("77", "97", "177", "50", "78", "154", "66", "116", "163", "38"))
    return f"{rng.choice(_PLATE_RU)}{rng.randint(100, 999)}{_letters(rng, 2, _PLATE_RU)} {region}"


def _apartment_en(rng: random.Random) -> str:
    return f"{rng.randint(101, 999)}{rng.choice('ABCDEF')}"


def _apartment_ru(rng: random.Random) -> str:
    return f"{rng.randint(101, 999)}{rng.choice('АБВ')}"


def _parking_en(rng: random.Random) -> str:
    return f"P{rng.randint(1, 4)}-{rng.randint(101, 399)}"


def _parking_ru(rng: random.Random) -> str:
    return f"П{rng.randint(1, 4)}-{rng.randint(101, 399)}"


def _policy(rng: random.Random) -> str:
    return f"{_letters(rng, 3)}-{rng.randint(1000, 9999)}-{rng.randint(10, 99)}"


# ------------------------------------------------------------------------------------------------- planted facts


@dataclass(frozen=True)
class _Side:
    """A subject in one language: the question, the values to draw from and the statement phrasings (`{v}` is the
    value). `says` states it for the first time; `updates` announce a change (or correct an earlier value)."""

    question: str
    values: Slot
    says: tuple[str, ...]
    updates: tuple[str, ...]


@dataclass(frozen=True)
class _Kind:
    key: str
    changes: bool  # whether the value naturally changes (a new phone) or is only ever corrected (a birthday)
    en: _Side
    ru: _Side


_KINDS: tuple[_Kind, ...] = (
    _Kind("dog_name", False, _Side(
        "What is my dog's name?",
        ("Pumpernickel", "Gizmo", "Ziggy", "Juniper", "Rascal", "Bramble", "Wobbles", "Marmaduke"),
        ("We named our dog {v} — the kids picked it.",
         "Our dog is called {v}, a very loud beagle.",
         "My dog {v} ate half a sock this morning, so I'm already behind schedule.",
         "Walking {v}, my dog, takes up most of my mornings."),
        ("We ended up renaming the dog — he answers to {v} now.",
         "The dog's name changed, by the way: everyone calls him {v} these days and it stuck.",
         "Funny thing, the dog now only responds to {v}, so that's officially his name."),
    ), _Side(
        "Как зовут мою собаку?",
        ("Жужа", "Тузик", "Фунтик", "Кнопа", "Чапа", "Боцман", "Гаврюша", "Бакс"),
        ("Нашу собаку зовут {v}, она очень шумная.",
         "У меня пёс по кличке {v}, и сегодня он опять сгрыз тапок.",
         "Мою собаку, кстати, зовут {v}.",
         "Собака у нас — {v}, помесь спаниеля неизвестно с кем."),
        ("Мы переименовали собаку, теперь её зовут {v}.",
         "Собака теперь откликается только на кличку {v}, так что это её новое имя.",
         "Поменяли псу кличку: теперь он {v}."),
    )),
    _Kind("cat_name", False, _Side(
        "What is my cat's name?",
        ("Pixel", "Sprocket", "Zephyr", "Mortimer", "Tiberius", "Bartholomew", "Ramona", "Whiskerton"),
        ("We named our cat {v}.",
         "Our cat {v} has decided my keyboard is her bed.",
         "My cat is called {v} and she hates the vacuum cleaner.",
         "I should mention my cat, {v}, who keeps walking across the laptop."),
        ("We renamed the cat — she's {v} now, the old name never suited her.",
         "The cat has a new name, by the way: {v}.",
         "Everyone at home calls the cat {v} now, so let's go with that."),
    ), _Side(
        "Как зовут моего кота?",
        ("Пиксель", "Маркиз", "Дымок", "Тиша", "Люцифер", "Кекс", "Бегемот", "Персей"),
        ("Нашего кота зовут {v}.",
         "Кот {v} опять спит на клавиатуре, печатаю одной рукой.",
         "У меня кот по кличке {v}, рыжий и наглый.",
         "Мой кот — {v}, ему уже пять лет."),
        ("Мы переименовали кота, теперь он {v}.",
         "Кота теперь зовут {v}: старое имя так и не прижилось.",
         "Дети упросили сменить коту имя, теперь он у нас {v}."),
    )),
    _Kind("home_city", True, _Side(
        "Which city do I live in?",
        ("Tromsø", "Bergen", "Aarhus", "Ghent", "Ljubljana", "Tallinn", "Utrecht", "Trondheim", "Bilbao", "Gdańsk"),
        ("I live in {v}, so it's already evening here.",
         "Here in {v} the buses stop running at midnight, which is annoying.",
         "For context, my home is in {v}.",
         "I'm based in {v}."),
        ("Big news: we moved to {v} last month.",
         "I live in {v} now — the move finally happened.",
         "We've relocated to {v}, still unpacking boxes."),
    ), _Side(
        "В каком городе я живу?",
        ("Томск", "Иркутск", "Петрозаводск", "Калининград", "Мурманск", "Ярославль", "Казань", "Тверь", "Рязань",
         "Владивосток", "Пермь"),
        ("Для контекста: я живу в городе {v}.",
         "Мой город — {v}, у нас уже вечер.",
         "Мой дом — {v}, отсюда я и работаю удалённо."),
        ("Новость: мы переехали в {v}!",
         "Теперь я живу в другом городе — это {v}.",
         "Переезд позади, наш новый дом — {v}."),
    )),
    _Kind("employer", True, _Side(
        "Which company do I work for?",
        ("Lumen Robotics", "Brightwater Analytics", "Kestrel Biotech", "Halcyon Games", "Ferrowave Energy",
         "Quillfeather Press", "Tidewell Insurance", "Marrowgate Labs", "Bluefjord Systems"),
        ("I work at {v}.",
         "My employer is {v}, a mid-sized company.",
         "Things at {v}, where I work, are hectic this quarter.",
         "I've been with {v} for a while now."),
        ("I switched jobs — I'm at {v} now.",
         "Started at {v} last week, new job!",
         "I've left my old company; these days I work for {v}."),
    ), _Side(
        "В какой компании я работаю?",
        ("Полярный экспресс", "Техносфера-Юг", "Вектор Плюс", "Сибирские сети", "Ладога Софт", "Кедр Консалтинг",
         "Волжские верфи", "Инфолайн-М"),
        ("Я работаю в компании «{v}».",
         "Мой работодатель — «{v}», средняя по размеру фирма.",
         "У нас в «{v}» сейчас аврал, конец квартала."),
        ("Новости с работы: теперь я работаю в «{v}».",
         "Работу поменять всё-таки пришлось — теперь это «{v}».",
         "Теперь мой работодатель — «{v}», первая неделя прошла нормально."),
    )),
    _Kind("job_title", True, _Side(
        "What is my job title?",
        ("senior data engineer", "logistics coordinator", "product designer", "site reliability engineer",
         "clinical research associate", "technical writer", "quality assurance lead", "procurement analyst"),
        ("I'm a {v} by trade.",
         "My job title is {v}.",
         "As a {v}, I spend half my day in meetings."),
        ("I got promoted — I'm a {v} now.",
         "My title changed this month: {v}.",
         "New role at work: {v}, officially since Monday."),
    ), _Side(
        "Кем я работаю?",
        ("инженер-сметчик", "ведущий аналитик данных", "технический писатель", "руководитель отдела логистики",
         "мастер смены", "продуктовый дизайнер", "старший бухгалтер", "специалист по закупкам"),
        ("Моя должность — {v}.",
         "По профессии я {v}.",
         "В трудовой книжке у меня записано: {v}."),
        ("Меня повысили, теперь я {v}.",
         "С этого месяца моя должность называется так: {v}.",
         "Теперь я {v} — новая роль, новые задачи."),
    )),
    _Kind("car_model", True, _Side(
        "What car do I drive?",
        ("Mazda CX-30", "Volvo V60", "Subaru Outback", "Kia Niro", "Hyundai Ioniq 5", "Toyota RAV4", "Peugeot 308",
         "Renault Zoe", "Citroën C4"),
        ("I drive a {v}.",
         "My car is a {v}, nothing fancy.",
         "My {v} needs new tyres before winter."),
        ("Sold the old car and bought a {v}.",
         "I've got a new car now — a {v}.",
         "We traded in the old car; I'm driving a {v} these days."),
    ), _Side(
        "На какой машине я езжу?",
        ("Kia Rio", "Haval Jolion", "Chery Tiggo 7", "Geely Coolray", "Renault Duster", "Toyota Camry",
         "Mitsubishi Outlander", "Volkswagen Polo"),
        ("Я езжу на {v}.",
         "У меня машина — {v}, ничего особенного.",
         "Машине пора менять резину — у меня {v}, а зима близко."),
        ("Продали старую машину, теперь у меня {v}.",
         "Теперь езжу на {v} — купили на прошлой неделе.",
         "Машина новая: {v}, пока привыкаю."),
    )),
    _Kind("phone_number", True, _Side(
        "What is my phone number?",
        _phone_en,
        ("My number is {v}.",
         "You can reach me on {v}.",
         "If it matters, my mobile is {v}."),
        ("I got a new phone number: {v}.",
         "My number has changed, it's {v} now.",
         "New SIM, new number — {v}."),
    ), _Side(
        "Какой у меня номер телефона?",
        _phone_ru,
        ("Мой номер телефона: {v}.",
         "Звонить мне можно по номеру {v}.",
         "Мой мобильный — {v}."),
        ("У меня новый номер — {v}.",
         "Номер у меня поменялся, теперь {v}.",
         "Старую симку заблокировали, теперь мой номер {v}."),
    )),
    _Kind("birthday", False, _Side(
        "When is my birthday?",
        _day_en,
        ("My birthday is on {v}.",
         "My birthday is {v}, and I still haven't planned anything.",
         "I'm celebrating my birthday on {v} as usual."),
        ("Small correction: my birthday is actually {v}, I mistyped it earlier.",
         "I got my own birthday wrong before, it's {v}.",
         "Oops — my birthday is {v}, not the date I gave you."),
    ), _Side(
        "Когда у меня день рождения?",
        _day_ru,
        ("Мой день рождения — {v}.",
         "День рождения у меня {v}, а планов до сих пор никаких.",
         "У меня день рождения {v}, как обычно, отмечаем на даче."),
        ("Поправка: день рождения у меня {v}, в прошлый раз была опечатка.",
         "Уточню: мой день рождения — {v}, а не та дата, что была раньше.",
         "Ошибка вышла с датой: день рождения у меня {v}."),
    )),
    _Kind("favourite_food", True, _Side(
        "What is my favourite food?",
        ("shakshuka", "pad see ew", "bibimbap", "khachapuri", "laksa", "tonkotsu ramen", "moussaka", "jollof rice"),
        ("My favourite food is {v}.",
         "Nothing beats {v} for me, it's my favourite.",
         "If I could eat one thing forever it would be {v}."),
        ("These days my favourite food is {v}.",
         "I've gone off my old favourite — now it's {v}.",
         "New favourite dish: {v}, I've had it three times this week."),
    ), _Side(
        "Какое моё любимое блюдо?",
        ("шакшука", "хинкали", "лагман", "бибимбап", "фалафель", "рататуй", "хачапури по-аджарски", "пад-тай"),
        ("Моя любимая еда — {v}.",
         "Если выбирать одно блюдо на всю жизнь, это будет {v}.",
         "Любимое блюдо у меня — {v}, без вариантов."),
        ("Теперь моё любимое блюдо — {v}.",
         "Вкусы поменялись: любимая еда теперь {v}.",
         "Новый фаворит на кухне — {v}, третий раз за неделю заказываю."),
    )),
    _Kind("favourite_colour", True, _Side(
        "What is my favourite colour?",
        ("petrol blue", "burnt orange", "mustard yellow", "lavender", "cobalt blue", "sage green", "terracotta",
         "charcoal grey"),
        ("My favourite colour is {v}.",
         "I always go for {v} — it's my favourite colour.",
         "Half my wardrobe is {v}, my favourite colour."),
        ("My favourite colour these days is {v}.",
         "I've switched allegiance: {v} is my favourite colour now.",
         "Funny, but my favourite colour has changed to {v}."),
    ), _Side(
        "Какой мой любимый цвет?",
        ("бирюзовый", "терракотовый", "горчичный", "лавандовый", "изумрудный", "кобальтовый", "графитовый",
         "оливковый"),
        ("Мой любимый цвет — {v}.",
         "Любимый цвет у меня {v}, и половина одежды такая же.",
         "Я всегда выбираю {v} цвет — он мой любимый."),
        ("Теперь мой любимый цвет — {v}.",
         "Вкусы меняются: любимый цвет теперь {v}.",
         "Сейчас мой любимый цвет — {v}, даже новый чехол для телефона такой."),
    )),
    _Kind("favourite_book", True, _Side(
        "What is my favourite book?",
        ("The Left Hand of Darkness", "Pale Fire", "Middlemarch", "The Remains of the Day", "Blindsight",
         "Piranesi", "A Gentleman in Moscow", "Station Eleven", "The Name of the Rose"),
        ("My favourite book is {v}.",
         "I keep rereading {v}; it's my favourite.",
         "Nothing has topped {v} for me yet."),
        ("I have a new favourite book: {v}.",
         "After this summer, my favourite book is {v}.",
         "{v} has replaced my old favourite book."),
    ), _Side(
        "Какая моя любимая книга?",
        ("Пикник на обочине", "Белая гвардия", "Обломов", "Понедельник начинается в субботу", "Двенадцать стульев",
         "Мастер и Маргарита", "Зимняя дорога", "Generation П"),
        ("Моя любимая книга — «{v}».",
         "Я постоянно перечитываю «{v}», это моя любимая книга.",
         "Лучше, чем «{v}», для меня пока ничего не написали."),
        ("У меня новая любимая книга — «{v}».",
         "После этого лета любимая книга у меня другая: «{v}».",
         "«{v}» теперь моя самая любимая книга."),
    )),
    _Kind("allergy", False, _Side(
        "What am I allergic to?",
        ("penicillin", "hazelnuts", "shellfish", "birch pollen", "latex", "sesame", "ibuprofen", "kiwi fruit"),
        ("I'm allergic to {v}.",
         "Just so you know, I have an allergy to {v}.",
         "I can't go near {v} — allergy."),
        ("I had allergy tests done: it's actually {v} I react to.",
         "Update from the allergist — my allergy is to {v}, not what we thought.",
         "Turns out the culprit all along was {v}; that's my allergy."),
    ), _Side(
        "На что у меня аллергия?",
        ("пенициллин", "фундук", "латекс", "кунжут", "ибупрофен", "морепродукты", "арахис", "киви"),
        ("У меня аллергия на {v}.",
         "На всякий случай: мне нельзя {v}, аллергия.",
         "Я не переношу {v}: аллергия."),
        ("Сделали аллергопробы: на самом деле у меня аллергия на {v}.",
         "Аллерголог уточнил: реакция у меня на {v}.",
         "Оказалось, главный аллерген у меня — {v}."),
    )),
    _Kind("wifi_password", True, _Side(
        "What is my home Wi-Fi password?",
        _wifi,
        ("Our home Wi-Fi password is {v}.",
         "The Wi-Fi at home uses {v} as the password.",
         "For the router at home, the password is {v}."),
        ("I changed the Wi-Fi password to {v}.",
         "New router, new password: {v}.",
         "The home Wi-Fi password is now {v} after the reset."),
    ), _Side(
        "Какой пароль от моего домашнего Wi-Fi?",
        _wifi,
        ("Пароль от нашего домашнего Wi-Fi: {v}.",
         "Дома на роутере пароль {v}.",
         "Пароль от вайфая дома — {v}."),
        ("Пароль от Wi-Fi теперь другой: {v}.",
         "Новый роутер, новый пароль — {v}.",
         "После сброса роутера пароль стал {v}."),
    )),
    _Kind("locker_code", True, _Side(
        "What is the code of my gym locker?",
        _locker,
        ("My gym locker code is {v}.",
         "The locker at the gym opens with {v}.",
         "I keep forgetting my locker code at the gym: {v}."),
        ("They reassigned lockers at the gym — mine is now {v}.",
         "New locker code: {v}.",
         "The gym changed the locks; my code is {v} now."),
    ), _Side(
        "Какой код у моего шкафчика в спортзале?",
        _locker,
        ("Код моего шкафчика в спортзале — {v}.",
         "Шкафчик в зале открывается кодом {v}.",
         "Вечно забываю код шкафчика в спортзале: {v}."),
        ("В зале перераздали шкафчики, теперь мой код {v}.",
         "Новый код шкафчика: {v}.",
         "В спортзале поменяли замки, код теперь {v}."),
    )),
    _Kind("flight_number", True, _Side(
        "What is my flight number?",
        _flight_en,
        ("My flight is {v}, leaving early in the morning.",
         "I'm booked on {v}.",
         "The ticket says {v}, departing from terminal 2."),
        ("They rebooked me onto {v}.",
         "My flight changed — it's {v} now.",
         "The airline cancelled my original flight; I'm on {v} instead."),
    ), _Side(
        "Какой у меня номер рейса?",
        _flight_ru,
        ("Мой рейс — {v}, вылет рано утром.",
         "Я лечу рейсом {v}.",
         "В билете указан рейс {v}."),
        ("Меня пересадили на рейс {v}.",
         "Рейс поменялся, теперь у меня {v}.",
         "Авиакомпания отменила мой рейс, лечу теперь {v}."),
    )),
    _Kind("passport_expiry", True, _Side(
        "When does my passport expire?",
        _expiry_en,
        ("My passport expires on {v}.",
         "The expiry date on my passport is {v}.",
         "My passport is valid until {v}."),
        ("I renewed my passport — the new one expires on {v}.",
         "Got my new passport; it's valid until {v}.",
         "With the new passport, the expiry date is {v}."),
    ), _Side(
        "Когда истекает срок действия моего паспорта?",
        _expiry_ru,
        ("Мой загранпаспорт действует до {v} года.",
         "Срок действия паспорта у меня истекает {v} года.",
         "В паспорте указано: действителен до {v} года."),
        ("Новый загранпаспорт уже на руках, действует до {v} года.",
         "Паспорт обновили, теперь он действителен до {v} года.",
         "С новым паспортом срок действия — до {v} года."),
    )),
    _Kind("daughter_name", False, _Side(
        "What is my daughter's name?",
        ("Isolde", "Marigold", "Saoirse", "Ottilie", "Linnea", "Elowen", "Briony", "Philippa"),
        ("My daughter's name is {v}.",
         "My daughter {v} starts school in September.",
         "{v}, my daughter, just lost her first tooth."),
        ("My daughter has decided she goes by her middle name, {v}, so that's what we call her now.",
         "Quick correction: my daughter's name is {v}, autocorrect mangled it earlier.",
         "At home and at school she's {v} now — my daughter insisted on the change."),
    ), _Side(
        "Как зовут мою дочь?",
        ("Василиса", "Ульяна", "Мирослава", "Есения", "Злата", "Агния", "Таисия", "Милана"),
        ("Мою дочь зовут {v}.",
         "Дочка {v} в этом году идёт в первый класс.",
         "У дочери, её зовут {v}, сегодня выпал первый зуб."),
        ("Поправка: дочь зовут {v}, автозамена раньше исказила имя.",
         "Дочка теперь просит называть её {v}, и все в семье согласились.",
         "Уточню имя дочери: {v}."),
    )),
    _Kind("doctor_name", True, _Side(
        "What is my doctor's name?",
        ("Okonkwo", "Haverford", "Lindqvist", "Abernathy", "Castellanos", "Nakashima", "Whitcombe", "Ferreira-Lund"),
        ("My GP is Dr {v}.",
         "I see Dr {v} for check-ups.",
         "Dr {v} has been my doctor for years."),
        ("I switched practices; my doctor is now Dr {v}.",
         "My new GP is Dr {v}.",
         "Dr {v} took over as my doctor after the old one retired."),
    ), _Side(
        "Как фамилия моего врача?",
        ("Сабурова", "Левченко", "Гарипова", "Шадрина", "Мельниченко", "Аксёнова", "Бондаренко", "Зарецкая"),
        ("Мой терапевт — доктор {v}.",
         "Наблюдаюсь у врача по фамилии {v}.",
         "Мой лечащий врач — {v}, очень внимательный специалист."),
        ("Теперь мой врач — {v}, прежний ушёл на пенсию.",
         "Меня перевели к другому врачу, фамилия — {v}.",
         "Новый терапевт у меня — доктор {v}."),
    )),
    _Kind("gym_schedule", True, _Side(
        "On which days do I go to the gym?",
        ("Mondays and Thursdays", "Tuesdays and Fridays", "Wednesdays and Saturdays",
         "Mondays, Wednesdays and Fridays", "Tuesdays and Sundays", "Thursdays and Saturdays"),
        ("I go to the gym on {v}.",
         "My gym days are {v}.",
         "I train on {v}, usually straight after work."),
        ("My gym schedule changed: now it's {v}.",
         "I've moved my workouts to {v}.",
         "New timetable — gym on {v} from now on."),
    ), _Side(
        "В какие дни я хожу в спортзал?",
        ("по понедельникам и четвергам", "по вторникам и пятницам", "по средам и субботам",
         "по понедельникам, средам и пятницам", "по вторникам и воскресеньям", "по четвергам и субботам"),
        ("В спортзал я хожу {v}.",
         "Тренируюсь {v}, обычно сразу после работы.",
         "Зал у меня {v}, это святое."),
        ("Расписание поменялось: теперь зал {v}.",
         "Тренировки теперь {v}.",
         "С этого месяца хожу в зал {v}."),
    )),
    _Kind("bank", True, _Side(
        "Which bank do I use?",
        ("Harbourline Bank", "Crestmoor Building Society", "Aldenbrook Bank", "Fenwick Mutual",
         "Silverpine Credit Union", "Larchmont Savings", "Greyheron Bank"),
        ("I bank with {v}.",
         "My current account is with {v}.",
         "{v} is my bank, and their app is terrible."),
        ("I moved my accounts to {v}.",
         "I've switched banks — it's {v} now.",
         "Closed the old account; everything is at {v} these days."),
    ), _Side(
        "Каким банком я пользуюсь?",
        ("Балтийский кредит", "Уралкапитал", "Кедр-Банк", "Меридиан-Финанс", "Северная казна", "Волга-Инвест",
         "Енисей-Банк"),
        ("Я обслуживаюсь в банке «{v}».",
         "Зарплатная карта у меня в «{v}».",
         "Мой банк — «{v}», и приложение у них ужасное."),
        ("Все счета теперь в банке «{v}».",
         "Банк у меня теперь другой — «{v}».",
         "Старый счёт закрыт, теперь пользуюсь банком «{v}»."),
    )),
    _Kind("blood_type", False, _Side(
        "What is my blood type?",
        ("type O positive", "type O negative", "type A positive", "type A negative", "type B positive",
         "type B negative", "type AB positive", "type AB negative"),
        ("I'm {v}, according to my donor card.",
         "The blood test says I'm {v}.",
         "For the medical form: I'm {v}."),
        ("The clinic re-tested me and I'm actually {v}.",
         "Correction: I'm {v}; the old card had a mistake.",
         "Turns out I'm {v} — the earlier record was wrong."),
    ), _Side(
        "Какая у меня группа крови?",
        ("первая положительная", "первая отрицательная", "вторая положительная", "вторая отрицательная",
         "третья положительная", "третья отрицательная", "четвёртая положительная", "четвёртая отрицательная"),
        ("Группа крови у меня — {v}.",
         "У меня {v}, если вдруг понадобится для анкеты.",
         "В медкарте записано: группа крови {v}."),
        ("Перепроверили анализ: на самом деле группа крови у меня {v}.",
         "Поправка: моя группа крови — {v}, в старой карте была ошибка.",
         "Оказалось, у меня {v} — раньше записали неправильно."),
    )),
    _Kind("shoe_size", False, _Side(
        "What is my shoe size?",
        ("EU 38", "EU 39", "EU 40", "EU 41", "EU 42", "EU 43", "EU 44", "EU 45", "EU 46"),
        ("My shoe size is {v}.",
         "I wear {v} in most brands.",
         "I always buy shoes in {v}."),
        ("Turns out my real shoe size is {v}; I'd been buying the wrong size for years.",
         "The shop measured my feet properly: {v}.",
         "Correction on shoes — I take {v}."),
    ), _Side(
        "Какой у меня размер обуви?",
        ("38-й", "39-й", "40-й", "41-й", "42-й", "43-й", "44-й", "45-й", "46-й"),
        ("Размер обуви у меня {v}.",
         "Я ношу {v} размер.",
         "Мой размер обуви — {v}."),
        ("В магазине нормально измерили стопу: мой размер {v}.",
         "Оказалось, мой настоящий размер обуви — {v}.",
         "Поправка по обуви: у меня {v} размер."),
    )),
    _Kind("licence_plate", True, _Side(
        "What is my car's licence plate?",
        _plate_en,
        ("My car's plate is {v}.",
         "The registration on my car is {v}.",
         "If you need the number plate for the parking form, it's {v}."),
        ("I got a personalised plate — {v}.",
         "New car, new registration: {v}.",
         "The car has been re-registered as {v}."),
    ), _Side(
        "Какой госномер у моей машины?",
        _plate_ru,
        ("Номер моей машины — {v}.",
         "Госномер у меня {v}.",
         "Для пропуска на парковку: номер машины {v}."),
        ("Машину перерегистрировали, теперь номер {v}.",
         "Новая машина — новый номер: {v}.",
         "Номера поменяли, теперь у меня {v}."),
    )),
    _Kind("apartment_number", True, _Side(
        "What is my apartment number?",
        _apartment_en,
        ("I'm in apartment {v}.",
         "Deliveries should go to flat {v}.",
         "Our flat is number {v}, on the top floor."),
        ("We moved to a bigger flat in the same building — it's {v} now.",
         "New apartment, same block: {v}.",
         "Our apartment number changed after the renovation, it's {v}."),
    ), _Side(
        "Какой номер моей квартиры?",
        _apartment_ru,
        ("Я живу в квартире {v}.",
         "Курьеру: квартира {v}, домофон работает.",
         "Наша квартира — {v}, последний этаж."),
        ("Мы переехали в квартиру побольше в том же доме — теперь это {v}.",
         "Новая квартира в том же подъезде: {v}.",
         "После перенумерации наша квартира теперь {v}."),
    )),
    _Kind("partner_name", False, _Side(
        "What is my partner's name?",
        ("Evangeline", "Ignatius", "Rosalind", "Leopold", "Anouk", "Cosima", "Lysander", "Thomasina"),
        ("My partner {v} is cooking tonight.",
         "My partner's name is {v}.",
         "{v}, my partner, thinks I spend too much time on my phone."),
        ("Sorry, I think I typed it wrong before — my partner is {v}.",
         "Small fix: my partner's name is {v}.",
         "I should correct that: my partner's name is {v}."),
    ), _Side(
        "Как зовут мою вторую половинку?",
        ("Аглая", "Серафима", "Евдокия", "Ариадна", "Ростислав", "Добрыня", "Агафья", "Мстислав"),
        ("Мою вторую половинку зовут {v}.",
         "Сегодня ужин готовит {v}, моя вторая половинка.",
         "Моя вторая половинка — {v}, мы вместе уже шесть лет."),
        ("Поправка: мою вторую половинку зовут {v}, в прошлый раз была опечатка.",
         "Уточню: имя моей второй половинки — {v}.",
         "Раньше имя вышло с ошибкой, правильно — {v}."),
    )),
    _Kind("hobby", True, _Side(
        "What is my main hobby?",
        ("bouldering", "birdwatching", "woodturning", "sea kayaking", "calligraphy", "amateur astronomy",
         "beekeeping", "letterpress printing"),
        ("My main hobby is {v}.",
         "Most weekends I'm doing {v}.",
         "I'm really into {v}; it's how I switch off."),
        ("I've picked up a new main hobby: {v}.",
         "These days my free time goes into {v}.",
         "I've dropped my old hobby; it's all {v} now."),
    ), _Side(
        "Какое у меня главное хобби?",
        ("скалолазание", "наблюдение за птицами", "гончарное дело", "каллиграфия", "пчеловодство",
         "резьба по дереву", "сплав на байдарках", "астрофотография"),
        ("Моё главное хобби — {v}.",
         "Всё свободное время у меня занимает {v}.",
         "Моё увлечение — {v}, уже несколько лет."),
        ("У меня новое хобби — {v}.",
         "Теперь главное увлечение — {v}, старое пришлось отложить.",
         "Сейчас всё свободное время уходит на новое хобби: {v}."),
    )),
    _Kind("native_town", False, _Side(
        "Which town am I originally from?",
        ("Kirkwall", "Penzance", "Whitby", "Tobermory", "Lismore", "Dunedin", "Ushuaia", "Hallstatt"),
        ("I grew up in {v}.",
         "I'm originally from {v}.",
         "My hometown is {v}, a tiny place by the water."),
        ("Correction: I was actually born in {v}; we only moved later.",
         "Technically my hometown is {v} — that's where I was born.",
         "I said otherwise before, but I'm really from {v}."),
    ), _Side(
        "Какой мой родной город?",
        ("Кандалакша", "Торжок", "Вельск", "Кириллов", "Мышкин", "Суздаль", "Плёс", "Зарайск"),
        ("Мой родной город — {v}.",
         "Родом я из места под названием {v}.",
         "Детство моё прошло в городке под названием {v}."),
        ("Поправка: родной мой город — {v}, переехали мы уже потом.",
         "Строго говоря, мой родной город — {v}, там прошло всё детство.",
         "Уточню: родом я из города {v}."),
    )),
    _Kind("diet", True, _Side(
        "What diet do I follow?",
        ("pescatarian", "vegan", "keto", "low-FODMAP", "gluten-free", "vegetarian", "dairy-free", "flexitarian"),
        ("I follow a {v} diet.",
         "My diet is strictly {v}, so please keep recipes compatible.",
         "I eat {v} and have done for a while."),
        ("I've switched to a {v} diet.",
         "New diet since last month: {v}.",
         "I'm {v} now, doctor's advice."),
    ), _Side(
        "Какого режима питания я придерживаюсь?",
        ("кето", "вегетарианство", "пескетарианство", "веганство", "безглютеновая диета", "низкоуглеводное питание",
         "интервальное голодание", "средиземноморская диета"),
        ("Мой режим питания — {v}.",
         "Я придерживаюсь такого питания: {v}.",
         "Сейчас у меня {v}, так что рецепты нужны подходящие."),
        ("Теперь у меня {v} — по совету врача.",
         "С прошлого месяца мой режим питания — {v}.",
         "Питание поменялось: теперь это {v}."),
    )),
    _Kind("favourite_film", True, _Side(
        "What is my favourite film?",
        ("Paterson", "Spirited Away", "The Grand Budapest Hotel", "Paddington 2", "Gattaca",
         "Portrait of a Lady on Fire", "Amélie", "In the Mood for Love"),
        ("My favourite film is {v}.",
         "I could watch {v} every weekend; it's my favourite film.",
         "{v} is still my all-time favourite film."),
        ("My favourite film is now {v}.",
         "I have a new favourite film: {v}.",
         "After rewatching it, {v} became my favourite film."),
    ), _Side(
        "Какой мой любимый фильм?",
        ("Сталкер", "Кин-дза-дза!", "Покровские ворота", "Служебный роман", "Иван Васильевич меняет профессию",
         "Солярис", "Берегись автомобиля", "Летят журавли"),
        ("Мой любимый фильм — «{v}».",
         "Могу пересматривать «{v}» бесконечно, это мой любимый фильм.",
         "«{v}» — до сих пор мой самый любимый фильм."),
        ("Теперь мой любимый фильм — «{v}».",
         "У меня новый любимый фильм: «{v}».",
         "После недавнего просмотра любимым фильмом стал «{v}»."),
    )),
    _Kind("favourite_band", True, _Side(
        "What is my favourite band?",
        ("Khruangbin", "Portishead", "Sigur Rós", "Bon Iver", "Cocteau Twins", "Fleet Foxes", "Slowdive",
         "Radiohead"),
        ("My favourite band is {v}.",
         "I've had {v} on repeat for years; they're my favourite band.",
         "Nobody beats {v} for me, favourite band by a mile."),
        ("My favourite band these days is {v}.",
         "New favourite band: {v}.",
         "I've switched camps — {v} is my favourite band now."),
    ), _Side(
        "Какая моя любимая группа?",
        ("Сплин", "Мумий Тролль", "Наутилус Помпилиус", "Би-2", "Ночные снайперы", "ДДТ", "Аигел", "Калинов мост"),
        ("Моя любимая группа — «{v}».",
         "Годами слушаю «{v}», это моя любимая группа.",
         "Лучше, чем «{v}», для меня никого нет, любимая группа."),
        ("Теперь моя любимая группа — «{v}».",
         "Новая любимая группа: «{v}».",
         "Вкусы поменялись, любимая группа теперь «{v}»."),
    )),
    _Kind("son_name", False, _Side(
        "What is my son's name?",
        ("Thaddeus", "Evander", "Lachlan", "Rafferty", "Atticus", "Peregrine", "Barnaby", "Alistair"),
        ("My son's name is {v}.",
         "My son {v} has a football match on Saturday.",
         "{v}, my son, wants a dinosaur cake this year."),
        ("My son insists on going by {v} now, and honestly it suits him.",
         "Quick correction: my son is {v}, I mistyped earlier.",
         "At school my son goes by his second name, {v}, so we use it at home too."),
    ), _Side(
        "Как зовут моего сына?",
        ("Святослав", "Елисей", "Тихон", "Мирон", "Прохор", "Демид", "Савва", "Платон"),
        ("Моего сына зовут {v}.",
         "Сын {v} в субботу играет в футбол.",
         "У сына, его зовут {v}, скоро день рождения."),
        ("Сын теперь просит, чтобы все звали его {v}.",
         "Поправка: сына зовут {v}, автозамена исказила имя.",
         "Уточню имя сына: {v}."),
    )),
    _Kind("coffee_order", True, _Side(
        "What is my usual coffee order?",
        ("oat flat white", "double cortado", "iced americano with oat milk", "decaf cappuccino", "almond-milk latte",
         "long black with a splash of cream", "cinnamon oat latte"),
        ("My usual coffee order is {v}.",
         "I always order the same thing at the café downstairs: {v}.",
         "Every morning it's {v} for me."),
        ("I've changed my coffee order to {v}.",
         "New usual at the café: {v}.",
         "These days my go-to coffee is {v}."),
    ), _Side(
        "Какой кофе я обычно заказываю?",
        ("раф с лавандой", "капучино на кокосовом молоке", "двойной эспрессо", "флэт уайт на овсяном",
         "латте без сахара", "холодный американо", "кортадо с корицей"),
        ("Обычно я заказываю {v}.",
         "Мой стандартный заказ в кофейне — {v}.",
         "Каждое утро беру {v} в кофейне у дома."),
        ("Теперь мой обычный заказ — {v}.",
         "В кофейне у меня теперь новый заказ: {v}.",
         "Сейчас пью только {v}."),
    )),
    _Kind("boat_name", True, _Side(
        "What is my boat called?",
        ("Second Wind", "Kittiwake", "Salty Lass", "Wanderlust III", "Marlinspike", "Blue Heron II", "Lucky Dip",
         "Storm Petrel"),
        ("Our boat is called {v}.",
         "My little sailboat, {v}, is still in the harbour.",
         "I named my boat {v}."),
        ("We renamed the boat — she's {v} now.",
         "The boat got a new name after the refit: {v}.",
         "New paint, new name: the boat is {v} these days."),
    ), _Side(
        "Как называется моя лодка?",
        ("Чайка-2", "Бригантина", "Вольный ветер", "Непоседа", "Альбатрос", "Морская звезда", "Бродяга"),
        ("Наша лодка называется «{v}».",
         "Моя лодка, «{v}», стоит в яхт-клубе.",
         "Лодку мы назвали «{v}»."),
        ("Мы переименовали лодку, теперь она «{v}».",
         "После ремонта у лодки новое имя — «{v}».",
         "Новая краска, новое имя: лодка теперь «{v}»."),
    )),
    _Kind("learning_language", True, _Side(
        "Which language am I learning?",
        ("Portuguese", "Korean", "Finnish", "Icelandic", "Georgian", "Swahili", "Hungarian", "Catalan"),
        ("I'm learning {v} at the moment.",
         "I've been studying {v} for a few months.",
         "My evening class is {v} — slow progress."),
        ("I switched to learning {v}.",
         "New challenge: I'm learning {v} now.",
         "I gave up on the old language and started {v}."),
    ), _Side(
        "Какой язык я учу?",
        ("португальский", "корейский", "финский", "исландский", "грузинский", "суахили", "венгерский",
         "каталанский"),
        ("Я сейчас учу {v}.",
         "Уже несколько месяцев занимаюсь языком: {v}.",
         "По вечерам у меня {v}, прогресс медленный."),
        ("Теперь я учу {v}.",
         "Переключаюсь на новый язык — теперь это {v}.",
         "Старый язык отложен, сейчас учу {v}."),
    )),
    _Kind("manager_name", True, _Side(
        "What is my manager's name?",
        ("Priyanka Raman", "Tobias Wexler", "Greta Holmqvist", "Desmond Achebe", "Yolanda Ferris", "Rupert Vance",
         "Ingrid Solberg", "Marcus Oyelaran"),
        ("My manager is {v}.",
         "I report to {v}.",
         "{v}, my boss, wants the report by Friday."),
        ("I have a new manager: {v}.",
         "After the reorg I report to {v}.",
         "My old boss left; {v} is my manager now."),
    ), _Side(
        "Как зовут моего руководителя?",
        ("Аркадий Семёнович", "Зинаида Павловна", "Тимур Ринатович", "Валентина Георгиевна", "Эдуард Львович",
         "Лилия Маратовна", "Станислав Игоревич", "Ангелина Олеговна"),
        ("Мой руководитель — {v}.",
         "Отчитываюсь я перед руководителем, это {v}.",
         "Начальник у меня — {v}, строгий, но справедливый человек."),
        ("У меня новый руководитель: {v}.",
         "После реорганизации мой начальник — {v}.",
         "Прежний начальник ушёл, теперь руководитель — {v}."),
    )),
    _Kind("parking_spot", True, _Side(
        "What is my parking spot at work?",
        _parking_en,
        ("My parking spot at work is {v}.",
         "I park in bay {v} in the underground garage.",
         "The office gave me spot {v}."),
        ("They reshuffled the car park — my spot is {v} now.",
         "New parking space: {v}.",
         "Facilities moved me to bay {v}."),
    ), _Side(
        "Какое у меня парковочное место на работе?",
        _parking_ru,
        ("Моё парковочное место на работе — {v}.",
         "Паркуюсь на месте {v} в подземном паркинге.",
         "На работе мне выделили место {v}."),
        ("Парковку перераспределили, теперь моё место {v}.",
         "Новое парковочное место: {v}.",
         "Меня перевели на место {v}."),
    )),
    _Kind("insurance_policy", True, _Side(
        "What is my travel insurance policy number?",
        _policy,
        ("My travel insurance policy number is {v}.",
         "The policy number on my travel insurance is {v}.",
         "For the trip I'm insured under policy {v}."),
        ("I renewed the travel insurance; the new policy number is {v}.",
         "New insurer, new policy: {v}.",
         "The travel insurance policy is now {v}."),
    ), _Side(
        "Какой номер у моего туристического страхового полиса?",
        _policy,
        ("Номер моего туристического полиса — {v}.",
         "Страховка для поездок оформлена, полис {v}.",
         "В полисе для путешествий указан номер {v}."),
        ("Страховку продлили, новый номер полиса — {v}.",
         "Сменили страховую, теперь полис {v}.",
         "Теперь номер туристического полиса {v}."),
    )),
    _Kind("anniversary", False, _Side(
        "When is my wedding anniversary?",
        _day_en,
        ("Our wedding anniversary is on {v}.",
         "We got married on {v}, so the anniversary is coming up.",
         "Every year on {v} we celebrate our anniversary."),
        ("I mixed up the dates earlier — our anniversary is {v}.",
         "Correction: the wedding anniversary is {v}.",
         "My partner reminded me the anniversary is actually {v}."),
    ), _Side(
        "Когда у меня годовщина свадьбы?",
        _day_ru,
        ("Годовщина свадьбы у нас {v}.",
         "Мы поженились {v}, так что скоро годовщина.",
         "Каждый год {v} отмечаем годовщину свадьбы."),
        ("Поправка: годовщина свадьбы — {v}.",
         "Вторая половинка напомнила: годовщина на самом деле {v}.",
         "Уточню дату годовщины: {v}."),
    )),
    _Kind("football_club", False, _Side(
        "Which football club do I support?",
        ("Brentford", "Hibernian", "Sheffield Wednesday", "Stoke City", "Aston Villa", "Real Betis", "Hajduk Split",
         "Sporting Gijón"),
        ("I support {v}.",
         "I've been a {v} fan since I was a kid.",
         "Weekend plans depend on how {v} play, as always."),
        ("Correction: the club I actually support is {v}; the other one was my dad's.",
         "I'm a {v} supporter now — long story, it involves my in-laws.",
         "Fine, I admit it: I support {v} these days."),
    ), _Side(
        "За какой футбольный клуб я болею?",
        ("Зенит", "Спартак", "Рубин", "Ротор", "Крылья Советов", "Локомотив", "Торпедо", "Факел"),
        ("Я болею за «{v}».",
         "С детства болею за «{v}».",
         "Выходные зависят от того, как сыграет «{v}»."),
        ("Поправка: болею я за «{v}», тот клуб был папин.",
         "Теперь я болельщик «{v}» — долгая история.",
         "Признаюсь: сейчас болею за «{v}»."),
    )),
    _Kind("parrot_name", False, _Side(
        "What is my parrot's name?",
        ("Rasputin", "Bartleby", "Gandalf", "Montgomery", "Percival", "Horatio", "Sinbad", "Lancelot"),
        ("Our parrot is called {v}.",
         "My parrot {v} learned to imitate the doorbell.",
         "We have a parrot named {v}."),
        ("We renamed the parrot — he's {v} now.",
         "The parrot has a new name: {v}.",
         "The kids decided the parrot should be {v}, so that's his name now."),
    ), _Side(
        "Как зовут моего попугая?",
        ("Кеша", "Гоша", "Жорик", "Рикки", "Карлуша", "Яша", "Петруша", "Чижик"),
        ("Нашего попугая зовут {v}.",
         "Попугай {v} научился изображать дверной звонок.",
         "У нас есть попугай по имени {v}."),
        ("Мы переименовали попугая, теперь он {v}.",
         "У попугая новое имя — {v}.",
         "Дети решили, что попугай теперь {v}, так и зовём."),
    )),
)

# ---------------------------------------------------------------------------------------------------------- filler


@dataclass(frozen=True)
class _Topic:
    """One subject of everyday chat in one language: what the user asks, details the user adds, sentences the
    assistant answers with, and the topic's own word lists for `{slot}`s."""

    asks: tuple[str, ...]
    notes: tuple[str, ...]
    says: tuple[str, ...]
    vocab: Vocab


@dataclass(frozen=True)
class _Chat:
    """The pieces every topic of one language shares, and the common `{slot}` word lists."""

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
    vocab: Vocab


def _num(lo: int, hi: int) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randint(lo, hi))


def _forms(rows: tuple[tuple[str, ...], ...], *names: str) -> Vocab:
    """Slots from rows of word forms: `_forms((("сосед", "соседа"),), "rel", "rel_gen")`."""
    return {name: tuple(row[i] for row in rows) for i, name in enumerate(names)}


def _capitalised(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(word[0].upper() + word[1:] for word in words)


def _big(rng: random.Random) -> str:
    return f"{rng.randint(1, 90) * 1000 + rng.randint(0, 9) * 100:,}"


def _code(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"#{rng.randint(10000, 999999)}"
    return f"ORD-{rng.randint(100000, 999999)}"


def _ticket(rng: random.Random) -> str:
    return f"{rng.choice(('OPS', 'WEB', 'DATA', 'INFRA', 'MOB'))}-{rng.randint(100, 9999)}"


def _parcel(rng: random.Random) -> str:
    return f"{_letters(rng, 2)}{rng.randint(100000000, 999999999)}{rng.choice(('GB', 'DE', 'NL', 'RU'))}"


def _hash(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(7))


def _version(rng: random.Random) -> str:
    return f"v{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(6, 22)}:{rng.choice(('00', '05', '15', '20', '30', '40', '45', '50'))}"


def _temp(rng: random.Random) -> str:
    return f"{rng.randint(-15, 34)} °C"


def _oven(rng: random.Random) -> str:
    return f"{rng.randint(16, 23) * 10} °C"


def _runtime(rng: random.Random) -> str:
    return f"{rng.randint(19, 39)}:{rng.randint(0, 59):02d}"


def _date_en(rng: random.Random) -> str:
    day, month = rng.randint(1, 30), rng.choice(_MONTHS_EN)
    return f"{month} {day}" if rng.random() < 0.5 else f"{day} {month} {rng.randint(2019, 2027)}"


def _price_en(rng: random.Random) -> str:
    return f"{rng.choice(('€', '$', '£'))}{rng.randint(5, 900)}"


def _pct(rng: random.Random) -> str:
    return f"{rng.randint(3, 85)}%"


def _flight_filler_en(rng: random.Random) -> str:
    return f"{rng.choice(('BA', 'LH', 'AF', 'UA', 'EK', 'TK'))} {rng.randint(100, 2999)}"


def _flight_filler_ru(rng: random.Random) -> str:
    return f"{rng.choice(('SU', 'S7', 'U6', 'N4', 'WZ'))} {rng.randint(100, 6999)}"


def _wifi_filler(rng: random.Random) -> str:
    return f"{rng.choice(('sunny', 'home', 'guest', 'flat', 'dacha'))}{rng.randint(1000, 99999)}"


_NUMBERS: Vocab = {
    "n": _num(2, 12), "n3": _num(2, 4), "n5": _num(5, 20), "mins": _num(5, 90), "hours": _num(2, 9),
    "km": _num(3, 420), "big": _big, "pct": _pct, "year": _num(1995, 2026), "hyear": _num(1200, 1975),
    "time": _time, "temp": _temp, "temp_oven": _oven, "code": _code, "ticket": _ticket, "parcel": _parcel,
    "hash": _hash, "version": _version, "http": ("429", "500", "502", "503", "504"), "room": _num(101, 699),
    "runtime": _runtime, "bib": _num(100, 4999), "alt": lambda rng: str(rng.randint(15, 45) * 100),
    "bpm": _num(50, 80), "g": lambda rng: str(rng.randint(5, 90) * 10), "sqm": _num(8, 40),
}

_EN_NAMES = ("Mark", "Julia", "Tom", "Priya", "Daniel", "Sofia", "Ahmed", "Chloe", "Lucas", "Hannah", "Ben", "Nina",
             "Oscar", "Ruth", "Victor", "Lena", "George", "Maya", "Felix", "Iris", "Sam", "Elena", "Kofi", "Zoe",
             "Hugo", "Amira")
_EN_SURNAMES = ("Patel", "Novak", "Brennan", "Fischer", "Moreau", "Kowalski", "Silva", "Jansen", "Duffy", "Costa",
                "Lindgren", "Murphy")

_EN_VOCAB: Vocab = {
    **_NUMBERS,
    "name": _EN_NAMES,
    "surname": _EN_SURNAMES,
    "fullname": lambda rng: f"{rng.choice(_EN_NAMES)} {rng.choice(_EN_SURNAMES)}",
    "rel": ("neighbour", "sister", "brother", "colleague", "cousin", "best friend", "boss", "flatmate", "uncle",
            "aunt", "brother-in-law", "old classmate", "landlord", "niece", "mother-in-law"),
    "city": ("Lisbon", "Madrid", "Vienna", "Prague", "Berlin", "Kyoto", "Boston", "Lyon", "Seville", "Krakow",
             "Edinburgh", "Dublin", "Montreal", "Melbourne", "Istanbul", "Athens", "Budapest", "Munich",
             "Copenhagen", "Naples", "Valencia", "Toronto", "Chicago", "Florence", "Zurich", "Warsaw", "Riga",
             "Marseille", "Hamburg", "Rotterdam"),
    "country": ("Spain", "Japan", "Canada", "Greece", "Italy", "Chile", "Vietnam", "Morocco", "Mexico", "Turkey",
                "Croatia", "Scotland"),
    "place": ("the train station", "a café near the office", "the airport", "the library", "my parents' place",
              "a hotel lobby", "the car wash", "the dentist's waiting room", "a co-working space",
              "the kids' swimming lesson"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "month": _MONTHS_EN,
    "date": _date_en,
    "price": _price_en,
    "dog": ("Bruno", "Rex", "Buddy", "Charlie", "Bella", "Rocky", "Daisy", "Milo", "Toby", "Lola"),
    "cat": ("Simba", "Tiger", "Oreo", "Smokey", "Shadow", "Misty", "Salem", "Luna"),
    "company": ("Nordlicht GmbH", "Acme Logistics", "Greenfield Foods", "Orion Telecom", "Riverside Clinic",
                "Baker & Lane", "Summit Software", "the city council", "a small design studio", "Westbrook Media"),
    "car": ("Ford Focus", "Honda Civic", "VW Golf", "Tesla Model 3", "Fiat 500", "Nissan Leaf", "Skoda Fabia",
            "Opel Astra", "BMW 3 Series"),
    "phone": _phone_en,
    "bday": _day_en,
    "allergen": ("peanuts", "pollen", "dust mites", "cats", "strawberries", "wasp stings", "mould"),
    "wifi": _wifi_filler,
    "flight": _flight_filler_en,
    "blood": ("type O positive", "type A positive", "type B negative", "type AB positive"),
    "kid": ("Emma", "Olivia", "Lily", "Ava", "Mia", "Grace"),
    "son": ("Jack", "Noah", "Harry", "Oliver", "Jacob", "Leo"),
    "boat": ("Sea Breeze", "Osprey", "Dolphin", "Lady Grace", "Blue Moon"),
    "food": ("lasagne", "fish and chips", "chicken curry", "sushi", "tacos", "roast beef", "carbonara"),
    "team": ("Arsenal", "Ajax", "Benfica", "Juventus", "Bayern", "Napoli", "Feyenoord", "Celta Vigo"),
    "locker": _locker,
    "plate": _plate_en,
    "language": ("Spanish", "German", "Japanese", "Italian", "French", "Mandarin", "Dutch", "Polish"),
    "parrot": ("Polly", "Kiwi", "Rio", "Sunny", "Coco"),
    "colour": ("red", "navy", "yellow", "green", "purple", "pink", "beige", "white"),
    "apt": _apartment_en,
}

_EN_CHAT = _Chat(
    openers=("Hi!", "Hey.", "Quick question.", "Morning!", "Okay, next thing.", "Another one for you.",
             "Sorry, me again.", "Hope your day's going well.", "Random question:", "Right, switching topics.",
             "Good evening!", "So, here's a thing.", "Can I ask you something?", "Back again with a question."),
    context=(
        "I'm at {place} right now and have about {mins} minutes.",
        "It's been a long week, so bear with me.",
        "The meeting got moved to {day} at {time}, which gives me some time.",
        "I've got {n} browser tabs open and none of them agree.",
        "The kids are finally asleep.",
        "My {rel} asked me the same thing yesterday and I had no idea.",
        "It's {temp} outside and the heating is acting up.",
        "I'm waiting for a delivery, tracking number {parcel}, so I'm stuck at home.",
        "I only have my phone with me, so typing is slow.",
        "This is coffee number {n} today, so hopefully I make sense.",
        "We just got back from {city}, still tired.",
        "I'm on the train to {city} and the connection keeps dropping.",
        "I wrote this down on {date} and only now found the note.",
        "My {rel} is visiting until {day}, so everything is chaos.",
        "I've been thinking about this since {day}.",
        "Someone at work mentioned it over lunch.",
        "I tried searching, but the results were all ads.",
    ),
    distractors=(
        "My {rel}'s dog is called {dog}.",
        "My {rel} just adopted a cat called {cat}.",
        "My {rel} lives in {city} now.",
        "My {rel} just moved to {city} with the whole family.",
        "My {rel} works at {company}.",
        "{name}, my {rel}, just switched jobs and now works at {company}.",
        "My {rel} drives a {car}.",
        "My {rel}'s number is {phone}, in case it comes up.",
        "My {rel} got a new phone number: {phone}.",
        "My {rel}'s birthday is on {bday}.",
        "My {rel} is allergic to {allergen}.",
        "The Wi-Fi password at my {rel}'s place is {wifi}.",
        "My {rel} is on flight {flight} tomorrow.",
        "My {rel}'s GP is Dr {surname}.",
        "My {rel} is {blood}, apparently.",
        "My {rel}'s daughter is called {kid}.",
        "My {rel}'s son {son} is in the same class as the neighbours' twins.",
        "My {rel} has a boat called {boat}.",
        "My {rel}'s favourite food is {food}.",
        "My {rel} supports {team}.",
        "My {rel}'s locker code at the pool is {locker}.",
        "My {rel}'s car plate is {plate}.",
        "My {rel} is learning {language}.",
        "My {rel}'s boss is called {fullname}.",
        "My {rel} has a parrot named {parrot}.",
        "My {rel}'s favourite colour is {colour}.",
        "My {rel} lives in apartment {apt}.",
    ),
    closers=("Thanks in advance!", "A rough answer is fine.", "Keep it short, please.", "No rush.", "Thanks!",
             "Any ideas welcome.", "Bullet points are fine.", "Cheers."),
    segues=("Oh, and one more thing.", "Unrelated, but worth mentioning.", "Side note, while I remember.",
            "Also, for context.", "Separate topic.", "Before I forget."),
    returns=("Anyway, my actual question.", "But that's not why I'm writing.", "Anyway.", "Now, the question."),
    intros=("Good question.", "Sure.", "Happy to help.", "Let's break it down.", "Short answer first, then details.",
            "Here's how I'd approach it.", "That's a common one.", "Right, a few thoughts.", "Okay, let's see.",
            "There are a couple of angles here."),
    leads=("Generally, ", "In practice, ", "As a rule of thumb, ", "Honestly, ", "In most cases, ", "Also, "),
    tails=(", at least in my experience", ", from what I've seen", " — this matters more than it looks",
           ", if that's practical for you", ", though it's not a hard rule", ", especially in {month}",
           ", which most guides published since {year} agree on", " — a tip that comes up in almost every forum",
           ", even if it feels slow at first", ", and that holds for most people I've helped with this"),
    advice=(
        "It depends a bit on your situation, but the basics are the same.",
        "Don't aim for perfect; aim for something you'll actually keep doing.",
        "If you can, test it on a small scale first.",
        "Write the key numbers down so you're not relying on memory.",
        "It's worth checking the official source before you commit.",
        "Most people overcomplicate this step.",
        "Give it a couple of weeks before judging the result.",
        "Start simple and add detail only where it matters.",
        "Ask someone who has done it recently; details change faster than guides are updated.",
        "Keep a short note of what you tried, so you can compare later.",
    ),
    list_heads=("Here's what I'd suggest:", "A few points:", "In short:", "Step by step:"),
    outros=("Hope that helps!", "Let me know how it goes.", "Want me to go into more detail on any of this?",
            "Good luck!", "If anything's unclear, just ask.", "Happy to adjust this if your situation is different.",
            "Shout if you want a shorter version.", "Tell me if you'd like a checklist."),
    acks=("Noted, thanks for telling me.", "Got it — I'll keep that in mind.", "Thanks, that's useful context.",
          "Understood.", "Okay, noted.", "Good to know!", "Thanks for the update.",
          "Noted — I'll use that from now on.", "Got it.", "Thanks, I've taken that on board."),
    offers=("Anything else I can help with?", "Is there something you'd like me to do with that?",
            "I'll factor that in next time.", "Let me know if that changes anything in your plans."),
    vocab=_EN_VOCAB,
)

_EN_TOPICS: tuple[_Topic, ...] = (
    _Topic(  # travel
        asks=("What's the best way to get from {city} to {city2} — {transport} or something else?",
              "I'm planning {n} days in {city} around {date}. What should I not miss?",
              "Is {sight} in {city} worth the queue, or is it a tourist trap?",
              "How much cash should I carry in {country}, roughly?",
              "Can you suggest an itinerary for a weekend in {city} on a budget of {price}?",
              "What should I pack for {city} in {month}?",
              "Is it realistic to do {city} and {city2} in one week by {transport}?",
              "My {rel} recommends {lodging} in {city}. Good idea, or should I look elsewhere?"),
        notes=("We'd arrive on {date} and leave {n} days later.",
               "The budget is about {price} per person, not counting flights.",
               "The hotel confirmation number is {code}, in case it matters.",
               "Last time I was in {city} it rained every single day.",
               "There will be {n} of us, two of them kids.",
               "I'd rather avoid anything that takes more than {hours} hours of travel in one go."),
        says=("{city} is compact, so most of the centre is walkable in under {mins} minutes.",
              "If you go in {month}, expect temperatures around {temp} and book {lodging} early.",
              "{sight_cap} is busiest between 11:00 and 15:00; go right at opening and you'll skip most of the queue.",
              "A city pass usually costs around {price} and pays off if you visit three or more museums.",
              "{transport_cap} between the two cities takes roughly {hours} hours and is often cheaper if booked "
              "{n} weeks ahead.",
              "Keep a digital copy of your documents and some local cash; small places in {country} may not take "
              "cards.",
              "For a {n}-day trip I'd spend the first day around {sight} and keep the last one free.",
              "Travellers often underestimate distances: {km} km on a map can mean a long day on regional roads.",
              "Check the public holiday calendar — on {date} many shops may close early.",
              "A reasonable daily budget there is {price} including food and local transport.",
              "If the weather turns, {sight} and the covered markets are good backups.",
              "The tourist office near the main square sells tickets for {transport} without the online fee."),
        vocab={"city2": _EN_VOCAB["city"],
               "sight": ("the old town", "the cathedral", "the harbour", "the botanical garden",
                         "the modern art museum", "the castle", "the central market", "the riverside promenade",
                         "the cable car", "the city walls"),
               "sight_cap": ("The old town", "The cathedral", "The harbour", "The botanical garden",
                             "The modern art museum", "The castle", "The central market", "The cable car"),
               "transport": ("the night train", "a rental car", "the ferry", "a regional bus", "a budget flight",
                             "the high-speed train"),
               "transport_cap": ("The night train", "The ferry", "The regional bus", "The high-speed train"),
               "lodging": ("a small guesthouse", "an apartment near the centre", "a hostel", "a hotel by the station",
                           "a farm stay")},
    ),
    _Topic(  # cooking
        asks=("How long should I cook {dish} for {n} people?",
              "Can I replace {ingredient} with {ingredient2} in {dish}?",
              "My {dish} came out too dry last time. What went wrong?",
              "What's a quick dinner I can make with {ingredient}, {ingredient2} and some leftover rice?",
              "How do I scale a {dish} recipe from {n} to {n5} servings without ruining it?",
              "Is it safe to freeze {dish}, and for how long?",
              "My {rel} wants the recipe for {dish}. Can you write a simple version?"),
        notes=("The oven runs hot, probably {temp_oven} when the dial says less.",
               "I have about {mins} minutes before guests arrive.",
               "The recipe card calls for {g} g of {ingredient}.",
               "Last time I used {pct} less salt and nobody noticed.",
               "Everything has to fit in one pot, the other one is broken."),
        says=("Bake {dish} at {temp_oven} for about {mins} minutes, then let it rest.",
              "Swap {ingredient} for {ingredient2} one-to-one, but reduce the liquid slightly.",
              "For {n} servings you'll need roughly {g} g of {ingredient}.",
              "Dryness usually means the heat was too high; lower it a little and cover the dish halfway through.",
              "Season in layers: a pinch of salt at each stage works better than a lot at the end.",
              "Most cooked dishes keep for three months in the freezer if cooled quickly and sealed well.",
              "Toast the spices in a dry pan for a minute before adding {ingredient} — it makes a big difference.",
              "Scaling works linearly for ingredients, but not for cooking time: check the centre at {mins} minutes.",
              "Let the dough rise somewhere warm until it doubles, which takes about {hours} hours in a cool kitchen.",
              "A squeeze of lemon at the end brightens {dish} more than extra salt.",
              "Weigh flour instead of using cups; {g} g is far more reliable than a heaped cup.",
              "If you're short on time, {dish} can be made a day ahead and reheated gently."),
        vocab={"dish": ("risotto", "lasagne", "banana bread", "chicken curry", "minestrone", "shepherd's pie",
                        "beef stew", "focaccia", "lentil soup", "apple crumble", "fish pie", "chili con carne",
                        "gnocchi", "pizza dough"),
               "ingredient": ("flour", "butter", "garlic", "onions", "tomatoes", "lemon zest", "parmesan",
                              "chickpeas", "smoked paprika", "cream", "yeast", "spinach", "mushrooms", "ginger",
                              "coriander"),
               "ingredient2": ("olive oil", "yoghurt", "shallots", "tinned tomatoes", "lime zest", "cheddar",
                               "white beans", "cumin", "crème fraîche", "kale", "leeks")},
    ),
    _Topic(  # programming
        asks=("How do I debug {err} in {thing} written in {lang}?",
              "Should I use {tool} or {tool2} for {thing}?",
              "Our {thing} started failing after upgrading to {version}. Where do I start?",
              "Can you explain how to structure tests for {thing} in {lang}?",
              "What's a clean way to retry {thing} when the API returns HTTP {http}?",
              "The CI job {ticket} fails only on {day}s. Any idea why?",
              "Why does my {lang} script take {mins} minutes on a {big}-row file?"),
        notes=("The error log shows {code} right before the crash.",
               "It works on my machine but not in {tool}.",
               "The service handles about {big} requests per minute at peak.",
               "We pinned the dependency to {version} last sprint.",
               "Commit {hash} is where it started, as far as I can tell."),
        says=("Start by reproducing {err} with the smallest possible input and a fixed seed.",
              "Add structured logging around {thing} so you can see timings per step.",
              "{tool} is a good default here; only switch if you hit a concrete limitation.",
              "Retry with exponential backoff: wait 1, 2, 4 and 8 seconds, and give up after {n} attempts.",
              "Write one test per behaviour, not per function, and keep fixtures small.",
              "Profile before optimising: usually {pct} of the time is spent in one or two hot loops.",
              "Read the changelog up to {version}; breaking changes are usually listed there.",
              "Stream the file in chunks of {big} rows instead of loading it all into memory.",
              "If it fails only on one runner, compare environment variables and time zones first.",
              "Wrap the external call in a timeout of around {n} seconds so one slow request can't block "
              "everything.",
              "Run `git bisect` between the last good commit and {hash}; it usually takes fewer than ten steps.",
              "Keep configuration in environment variables and validate it at start-up."),
        vocab={"lang": ("Python", "Go", "Rust", "TypeScript", "Java", "Kotlin", "C#", "Ruby"),
               "tool": ("Docker", "Git", "PostgreSQL", "Redis", "nginx", "Kubernetes", "pytest", "SQLite",
                        "GitHub Actions"),
               "tool2": ("Podman", "Mercurial", "MySQL", "Memcached", "Caddy", "Nomad", "unittest", "DuckDB"),
               "thing": ("a REST endpoint", "a background job", "the login form", "a CSV import", "a caching layer",
                         "the search page", "a date parser", "the payment webhook", "a CLI tool",
                         "the nightly report"),
               "err": ("a timeout", "a race condition", "a memory leak", "an off-by-one error", "a deadlock",
                       "a null pointer exception", "an encoding error")},
    ),
    _Topic(  # books
        asks=("I just finished {book}. What should I read next?",
              "Is {book} worth reading if I didn't enjoy {book2}?",
              "Can you recommend some {genre} for a {hours}-hour train ride?",
              "How do I get back into reading? I've managed maybe {n} books this year.",
              "My book club picked {book} for {month}. Any discussion questions?",
              "Which {author} novel is the best starting point?"),
        notes=("My {rel} lent me a copy with half the pages highlighted.",
               "I read mostly on the commute, about {mins} minutes each way.",
               "The library hold is number {n} in the queue.",
               "I tried audiobooks but kept drifting off after {mins} minutes."),
        says=("If you liked {book}, try {book2}: similar pace, very different setting.",
              "{author} is easiest to start with the shorter novels.",
              "For a train ride, {genre} works well because the chapters are short.",
              "Set a small target, say {n} pages a day; consistency matters more than speed.",
              "Book clubs enjoy questions about motives: why does the narrator hide what they know?",
              "{book} reads differently once you know the context it was written in.",
              "Alternate a heavy book with something light so you don't stall.",
              "Audiobooks at 1.2x speed help some people stay focused.",
              "Libraries often have e-book loans, so you can skip the waiting list for the paper copy.",
              "Keep a short note after each chapter; it makes the ending land better.",
              "If a book hasn't grabbed you after {n}0 pages, it's fine to put it down."),
        vocab={"book": ("War and Peace", "Dune", "Moby-Dick", "Pride and Prejudice", "The Hobbit", "Sapiens",
                        "Brave New World", "Jane Eyre", "The Road", "Beloved", "Wolf Hall", "The Secret History",
                        "Never Let Me Go", "Rebecca", "Great Expectations"),
               "book2": ("Anna Karenina", "Emma", "Frankenstein", "Dracula", "Ulysses", "Lolita", "Persuasion",
                         "Catch-22"),
               "author": ("Tolstoy", "Austen", "Woolf", "Dickens", "Murakami", "Atwood", "Mantel", "Pratchett",
                          "Le Guin", "Calvino"),
               "genre": ("crime fiction", "historical novels", "science fiction", "short stories", "poetry",
                         "biographies", "fantasy")},
    ),
    _Topic(  # sport
        asks=("How should I prepare for {event} in {n} weeks?",
              "Is it OK to do {sport} two days in a row?",
              "What's a realistic pace for {km} km if I'm a beginner?",
              "How did {team} do last season? My {rel} won't stop talking about them.",
              "What should I eat before {event}?",
              "I keep getting a sore knee after {sport}. Should I be worried?"),
        notes=("My current best for 5 km is {runtime}.",
               "I have about {mins} minutes a day for training.",
               "The race starts at {time} and my bib number is {bib}.",
               "Last week I managed {km} km in total."),
        says=("Build up volume by about 10% per week and keep one easy week in four.",
              "For {event}, most plans have {n3} or more sessions a week: one long, one fast, the rest easy.",
              "Sore knees after {sport} often come from doing too much too soon; rest for a few days first.",
              "Eat something familiar {n3} hours before the start, mostly carbohydrates.",
              "{team} had a mixed season by most accounts, but the cup run was the real story.",
              "A beginner-friendly pace is one where you can still speak in full sentences.",
              "Warm up for {mins} minutes, including a few short accelerations.",
              "Sleep matters as much as training; aim for regular hours in the final week.",
              "If pain is sharp or lasts more than {n} days, see a physiotherapist.",
              "On race day, start slower than you think — the first {n} km should feel easy.",
              "Cross-training like {sport} keeps fitness up while giving joints a break."),
        vocab={"sport": ("running", "swimming", "cycling", "tennis", "yoga", "rowing", "basketball",
                         "cross-country skiing"),
               "event": ("a 10K race", "a half marathon", "a charity ride", "a local tennis tournament",
                         "a triathlon relay", "an open-water swim")},
    ),
    _Topic(  # weather
        asks=("What's the weather usually like in {city} in {month}?",
              "Will it be warm enough in {city} in {month} for a picnic?",
              "How cold does it get in {city} in winter?",
              "Should I cancel the barbecue if rain is forecast at {pct}?",
              "Why is the weather app saying {temp} when it feels much colder?",
              "Is {km} km of cycling in {temp} weather a bad idea?"),
        notes=("The app says {pct} chance of rain after {time}.",
               "Yesterday it was {temp} and windy.",
               "We'll be outside from {time} until late."),
        says=("I can't check live forecasts, but in {month} {city} typically sees highs around {temp}.",
              "A {pct} chance of rain describes how likely rain is at all, not how much of the day it will rain.",
              "Wind chill can make {temp} feel several degrees colder, especially near water.",
              "Pack a light waterproof layer; showers in spring often pass within {mins} minutes.",
              "UV can be strong even on cloudy days, so sunscreen is still a good idea.",
              "Check the radar an hour before you leave; it's more reliable than a daily forecast.",
              "Humidity above {pct} makes heat feel heavier, so plan breaks in the shade.",
              "Frost is likely on clear, still nights, even if the daytime high was {temp}.",
              "Layers work better than one thick jacket when the temperature swings during the day.",
              "Mountain weather changes fast: temperatures drop roughly 6 °C per 1000 m of altitude."),
        vocab={},
    ),
    _Topic(  # work
        asks=("How do I politely push back on a deadline of {date} for {task}?",
              "Can you help me structure {task}? I have {n} days.",
              "What's a good agenda for a {mins}-minute meeting about {task}?",
              "How do I write an email asking for {pct} more budget?",
              "My {rel} says I should ask for a raise in {month}. Is that good timing?",
              "How can I stop meetings from eating my whole {day}?"),
        notes=("The meeting is on {day} at {time}, room {room}.",
               "There are {n} people on the team, spread over three time zones.",
               "The ticket for it is {ticket}.",
               "The deadline was moved twice already."),
        says=("Lead with what you can deliver by {date}, then explain what needs more time.",
              "A good structure: context, options, recommendation, risks — one slide each.",
              "For a {mins}-minute meeting, keep it to three agenda items and send notes within the hour.",
              "Ask for the budget in terms of outcomes: what the extra {pct} buys and what happens without it.",
              "Block two mornings a week as focus time and treat them like meetings.",
              "Write the summary first; if you can't state it in two sentences, the plan isn't ready.",
              "When estimating, add a buffer of about {pct} for reviews and surprises.",
              "Raise timing matters less than evidence: list results with numbers.",
              "Decide who owns each action item before the meeting ends.",
              "If time zones differ, rotate the meeting slot so the same people don't always stay late.",
              "Keep a running document for {task} so updates don't get lost in chat."),
        vocab={"task": ("the quarterly report", "a project proposal", "the onboarding plan", "a budget review",
                        "the client presentation", "a performance review", "the migration plan",
                        "the hiring pipeline")},
    ),
    _Topic(  # history
        asks=("Can you explain {event} in simple terms?",
              "Why did {event} matter so much for ordinary people?",
              "What was happening in {city} around {hyear}?",
              "My {rel} claims {event} happened in {hyear}. Is that right?",
              "What's a good book or documentary about {event}?",
              "How reliable are population numbers like {big} for cities in {hyear}?"),
        notes=("We're visiting a museum about it on {day}.",
               "My kid has a school project on it due {date}.",
               "I only remember a couple of dates from school."),
        says=("In short, {event} changed who controlled trade and, with it, who paid taxes to whom.",
              "Historians usually argue about the exact turning point, and the process itself took decades.",
              "Numbers like {big} are estimates reconstructed from tax rolls and church records.",
              "For ordinary people the biggest changes were prices, travel times and who they answered to.",
              "A good way in is a local museum: objects make abstract dates easier to remember.",
              "Contemporary accounts disagree, so it helps to compare at least two sources.",
              "Around {hyear}, most towns were far smaller than today, often a few thousand people.",
              "Maps from the period are useful, but they often show ambitions rather than reality.",
              "Many popular dates are rounded; the treaties themselves took years to negotiate.",
              "For a school project, a timeline with {n} key events and one quote per event works well."),
        vocab={"event": ("the fall of Constantinople", "the printing press", "the Hanseatic League",
                         "the Meiji Restoration", "the building of the Panama Canal", "the Congress of Vienna",
                         "the Silk Road trade", "the Great Fire of London", "the Apollo programme",
                         "the Dutch Golden Age")},
    ),
    _Topic(  # science
        asks=("Can you explain {concept} like I'm twelve?",
              "How do scientists actually measure {quantity}?",
              "Is it true that {claim}?",
              "My {rel} sent me an article about {concept}. What's the catch?",
              "Why does water boil at a lower temperature at {alt} m?"),
        notes=("The article says the effect is {pct} stronger than expected.",
               "We did an experiment at home with {n} jars and some food colouring.",
               "The documentary we watched was from {year}."),
        says=("The short version: {concept} is simpler than it sounds, and most confusion comes from the jargon.",
              "Scientists rarely measure {quantity} directly; they combine several indirect methods and compare.",
              "That claim is a myth — it spread because it sounds plausible, not because of data.",
              "When an article says {pct} stronger, check the baseline: small numbers make big percentages.",
              "At {alt} m air pressure is lower, so water boils below 100 °C and pasta takes longer.",
              "Good studies report uncertainty; a result without error bars is hard to judge.",
              "One experiment is a hint, not proof; replication by other groups is what counts.",
              "A useful analogy: think of it as a queue where only {n} people can pass per second.",
              "The headline often leaves out that the study had only {n}0 participants.",
              "Most textbooks simplify, and some details were only settled in the last few decades.",
              "If you want to try it at home, a kitchen scale and a thermometer go a long way."),
        vocab={"concept": ("photosynthesis", "plate tectonics", "the greenhouse effect", "vaccines", "black holes",
                           "antibiotic resistance", "quantum entanglement", "the tides", "radiocarbon dating",
                           "CRISPR"),
               "quantity": ("the age of a rock", "the distance to a star", "the speed of a glacier",
                            "ocean temperature", "the mass of a planet"),
               "claim": ("we only use a small part of our brains", "lightning never strikes the same place twice",
                         "goldfish have a three-second memory", "the Great Wall is visible from orbit",
                         "hair keeps growing after death")},
    ),
    _Topic(  # health
        asks=("Any tips for {issue}? It's been going on for {n} days.",
              "Is {habit} actually worth it, or is it a fad?",
              "How many steps a day is reasonable? I'm at about {big}.",
              "What should I ask at a check-up if I've had {issue}?",
              "My {rel} swears by {habit}. Does it really help?"),
        notes=("I sit at a desk for about {hours} hours a day.",
               "I've cut down to {n3} cups of tea a day.",
               "The appointment is on {date} at {time}."),
        says=("I'm not a doctor, but for {issue} the usual first steps are sleep, movement and fewer screens at "
              "night.",
              "There's decent evidence behind {habit}, and it costs nothing to try.",
              "Around {big} steps a day is a reasonable target; more is fine but not magic.",
              "If symptoms last longer than {n} days or get worse, book an appointment.",
              "Write down when it happens and what you ate or did before; patterns show up quickly.",
              "Set a reminder to stand up every {mins} minutes while working.",
              "Keep the bedroom cool, around 18 °C, and dark.",
              "Caffeine has a long half-life, so a cup at {time} can still affect sleep.",
              "Bring a list of questions to the appointment so nothing gets forgotten.",
              "Gentle stretching for {mins} minutes a day helps stiffness more than occasional long sessions."),
        vocab={"issue": ("trouble sleeping", "a stiff neck", "afternoon headaches", "low energy in winter",
                         "back pain from sitting", "seasonal sniffles", "dry eyes from screens"),
               "habit": ("drinking more water", "a daily walk", "stretching breaks", "a regular bedtime",
                         "less caffeine after lunch")},
    ),
    _Topic(  # home and garden
        asks=("How do I fix {fix} without calling someone?",
              "When should I plant {plant} if the last frost is around {date}?",
              "What paint finish works best for a kitchen?",
              "How much paint do I need for a room of {sqm} square metres?",
              "My {rel} says {plant} need watering every day. True?",
              "Is it worth buying a cordless drill for around {price}?"),
        notes=("The balcony faces south and gets sun until about {time}.",
               "I've got a free weekend on {date}.",
               "The hardware store is {km} km away."),
        says=("For {fix}, turn off the supply first and take a photo before you take anything apart.",
              "Sow {plant} indoors about six weeks before the last frost and move them out after {date}.",
              "Satin or semi-gloss is easiest to wipe in kitchens and bathrooms.",
              "A litre of paint covers roughly 10 square metres per coat, so {sqm} square metres needs a few "
              "litres for two coats.",
              "Water deeply twice a week rather than a little every day; roots grow stronger.",
              "A mid-range drill around {price} is plenty for shelves and furniture.",
              "Replace the washer or cartridge — a spare usually costs very little.",
              "Ventilate for at least {mins} minutes after showering to keep mould away.",
              "Bleed the radiator with a key until water, not air, comes out.",
              "Mark the wall with painter's tape before drilling to stop the bit from slipping."),
        vocab={"fix": ("a dripping tap", "a squeaky door", "a cracked tile", "a wobbly shelf",
                       "mould in the bathroom", "a radiator that won't heat up", "a sticking window"),
               "plant": ("tomatoes", "basil", "roses", "strawberries", "mint", "hydrangeas", "courgettes",
                         "chillies")},
    ),
    _Topic(  # money
        asks=("How much should I put aside each month for {goal}?",
              "Is it better to pay off a loan at {pct} or invest the money?",
              "How do I split a shared bill of {price} fairly between {n} people with different incomes?",
              "What's a simple way to track spending without an app?",
              "My {rel} wants to borrow {price}. How do I say no nicely?",
              "Is a subscription at {price} a month worth it if I use it twice a week?"),
        notes=("Payday is on the {payday} of each month.",
               "Rent takes about {pct} of my income.",
               "The receipt number is {code}, for what it's worth."),
        says=("A common rule of thumb is three to six months of expenses for an emergency fund.",
              "Paying off a loan at a high rate is effectively a guaranteed return at that rate.",
              "Split shared costs in proportion to income, or agree on a fixed share and review it every {n} "
              "months.",
              "Write every purchase in a notebook for {n} weeks; the patterns are usually surprising.",
              "Automate the transfer on payday so saving happens before spending.",
              "Divide the monthly price by how often you actually use it; at {price} per use it may still be fine.",
              "Saying no is easier with a reason you can repeat: 'I keep that money for fixed costs.'",
              "For {goal}, split the target by the number of months and round up a little.",
              "Check fees: a {n3}% annual fee quietly eats a large part of long-term growth.",
              "Keep a small buffer of around {price} in your current account to avoid overdraft charges."),
        vocab={"goal": ("an emergency fund", "a new laptop", "a holiday", "a deposit for a house", "a wedding",
                        "a new kitchen"),
               "payday": ("1st", "10th", "15th", "25th", "28th")},
    ),
    _Topic(  # music and film
        asks=("Can you suggest albums similar to {artist} for a long drive?",
              "Is {film} suitable for a {n}-year-old?",
              "How long does it take an adult to learn basic {instrument}?",
              "We're doing a film night on {day}. Something like {film}, but newer?",
              "My {rel} got tickets to a {artist} tribute show on {date}. Is that a fun night out?",
              "What's a good first song to learn on the {instrument}?"),
        notes=("The concert starts at {time}, doors open an hour earlier.",
               "Our speakers are an old pair from {year}.",
               "I practise about {mins} minutes a day."),
        says=("If you like {artist}, try the mid-career albums rather than a greatest-hits compilation.",
              "Most adults can play simple {instrument} accompaniment after {n} weeks of regular practice.",
              "For a film night, pick something under two hours and keep one backup.",
              "Short daily practice of {mins} minutes beats one long session on the weekend.",
              "Start with songs that use three or four chords; you'll be playing along quickly.",
              "Check the age rating and a parents' guide; it lists scenes that might be too intense.",
              "Tribute shows in small venues can be great fun.",
              "A metronome at a slow tempo, around {bpm} bpm, helps more than speeding through.",
              "For long drives, mix familiar songs with a few new ones to stay alert."),
        vocab={"artist": ("the Beatles", "ABBA", "Nina Simone", "Miles Davis", "Björk", "Daft Punk", "Kraftwerk",
                          "Queen", "Adele", "Leonard Cohen"),
               "film": ("Casablanca", "The Godfather", "Jaws", "Alien", "Amadeus", "Rear Window", "Parasite",
                        "Toy Story", "Roman Holiday"),
               "instrument": ("guitar", "piano", "ukulele", "drums", "violin", "cello")},
    ),
)

_RU_NAMES = (("Андрей", "Андрея"), ("Марина", "Марины"), ("Олег", "Олега"), ("Наташа", "Наташи"),
             ("Сергей", "Сергея"), ("Ирина", "Ирины"), ("Павел", "Павла"), ("Вера", "Веры"), ("Денис", "Дениса"),
             ("Алина", "Алины"), ("Роман", "Романа"), ("Света", "Светы"), ("Игорь", "Игоря"), ("Юля", "Юли"),
             ("Максим", "Максима"), ("Антон", "Антона"), ("Катя", "Кати"), ("Глеб", "Глеба"),
             ("Дарья", "Дарьи"), ("Фёдор", "Фёдора"))
_RU_SURNAMES = ("Иванова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Морозов", "Новикова", "Волков",
                "Фёдорова", "Смирнов")
# nominative, genitive
_RU_RELS = (("сосед", "соседа"), ("сестра", "сестры"), ("брат", "брата"), ("коллега", "коллеги"),
            ("подруга", "подруги"), ("друг", "друга"), ("начальник", "начальника"),
            ("двоюродный брат", "двоюродного брата"), ("тётя", "тёти"), ("дядя", "дяди"), ("соседка", "соседки"),
            ("однокурсник", "однокурсника"), ("кум", "кума"), ("свекровь", "свекрови"))
# nominative, "в" + prepositional, "в" + accusative, "из" + genitive
_RU_CITIES = (("Москва", "в Москве", "в Москву", "из Москвы"),
              ("Санкт-Петербург", "в Санкт-Петербурге", "в Санкт-Петербург", "из Санкт-Петербурга"),
              ("Новосибирск", "в Новосибирске", "в Новосибирск", "из Новосибирска"),
              ("Екатеринбург", "в Екатеринбурге", "в Екатеринбург", "из Екатеринбурга"),
              ("Самара", "в Самаре", "в Самару", "из Самары"),
              ("Нижний Новгород", "в Нижнем Новгороде", "в Нижний Новгород", "из Нижнего Новгорода"),
              ("Воронеж", "в Воронеже", "в Воронеж", "из Воронежа"),
              ("Уфа", "в Уфе", "в Уфу", "из Уфы"),
              ("Омск", "в Омске", "в Омск", "из Омска"),
              ("Краснодар", "в Краснодаре", "в Краснодар", "из Краснодара"),
              ("Челябинск", "в Челябинске", "в Челябинск", "из Челябинска"),
              ("Красноярск", "в Красноярске", "в Красноярск", "из Красноярска"),
              ("Барнаул", "в Барнауле", "в Барнаул", "из Барнаула"),
              ("Саратов", "в Саратове", "в Саратов", "из Саратова"),
              ("Тула", "в Туле", "в Тулу", "из Тулы"),
              ("Архангельск", "в Архангельске", "в Архангельск", "из Архангельска"),
              ("Вологда", "в Вологде", "в Вологду", "из Вологды"),
              ("Псков", "в Пскове", "в Псков", "из Пскова"),
              ("Смоленск", "в Смоленске", "в Смоленск", "из Смоленска"),
              ("Минск", "в Минске", "в Минск", "из Минска"),
              ("Тбилиси", "в Тбилиси", "в Тбилиси", "из Тбилиси"),
              ("Ереван", "в Ереване", "в Ереван", "из Еревана"),
              ("Алматы", "в Алматы", "в Алматы", "из Алматы"),
              ("Берлин", "в Берлине", "в Берлин", "из Берлина"),
              ("Прага", "в Праге", "в Прагу", "из Праги"),
              ("Стамбул", "в Стамбуле", "в Стамбул", "из Стамбула"),
              ("Белград", "в Белграде", "в Белград", "из Белграда"))
_RU_DAYS_IN = ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье")
_RU_MONTHS_IN = ("в январе", "в феврале", "в марте", "в апреле", "в мае", "в июне", "в июле", "в августе",
                 "в сентябре", "в октябре", "в ноябре", "в декабре")


def _date_ru(rng: random.Random) -> str:
    day, month = rng.randint(1, 30), rng.choice(_MONTHS_RU)
    return f"{day} {month}" if rng.random() < 0.6 else f"{day} {month} {rng.randint(2019, 2027)} года"


def _price_ru(rng: random.Random) -> str:
    return f"{rng.randint(3, 900) * 100:,} ₽".replace(",", " ")


_RU_VOCAB: Vocab = {
    **_NUMBERS,
    "big": lambda rng: _big(rng).replace(",", " "),
    **_forms(_RU_NAMES, "name", "name_gen"),
    "surname": _RU_SURNAMES,
    "fullname": lambda rng: f"{rng.choice(_RU_NAMES)[0]} {rng.choice(_RU_SURNAMES)}",
    **_forms(_RU_RELS, "rel", "rel_gen"),
    "rel_cap": _capitalised(tuple(rel for rel, _ in _RU_RELS)),
    **_forms(_RU_CITIES, "city", "city_in", "city_to", "city_from"),
    "country_in": ("в Турции", "в Италии", "в Испании", "в Армении", "в Сербии", "в Черногории", "во Вьетнаме",
                   "в Марокко", "в Японии", "в Казахстане"),
    "place": ("на вокзале", "в кафе у офиса", "в аэропорту", "в библиотеке", "у родителей",
              "в очереди к стоматологу", "в коворкинге", "на даче", "в электричке", "в лобби гостиницы"),
    "day_in": _RU_DAYS_IN,
    "month_in": _RU_MONTHS_IN,
    "date": _date_ru,
    "price": _price_ru,
    "dog": ("Рекс", "Барон", "Дружок", "Бим", "Найда", "Лайма", "Граф Тоша"),
    "cat": ("Мурзик", "Васька", "Симба", "Барсик", "Рыжик", "Мотя"),
    "company": ("Ромашка", "СтройИнвест", "Гермес", "ТрансЛогистик", "Альфа-Сервис", "Городская поликлиника №3",
                "Атлант", "Северный ветер"),
    "car": ("Skoda Octavia", "Hyundai Solaris", "Lada Granta", "Ford Focus", "Nissan Qashqai", "BMW X5",
            "Lada Vesta", "Kia Sportage"),
    "phone": _phone_ru,
    "bday": _day_ru,
    "allergen": ("кошек", "пыльцу", "пыль", "цитрусовые", "клубнику", "мёд", "укусы ос"),
    "wifi": _wifi_filler,
    "flight": _flight_filler_ru,
    "blood": ("первая положительная", "вторая отрицательная", "третья положительная"),
    "kid": ("Маша", "Соня", "Алиса", "Варя", "Полина", "Ева"),
    "son": ("Артём", "Миша", "Ваня", "Егор", "Тимофей", "Костя"),
    "boat": ("Заря", "Волна", "Стриж", "Надежда", "Дельфин"),
    "food": ("борщ", "плов", "пельмени", "оливье", "шашлык", "голубцы"),
    "team": ("ЦСКА", "«Динамо»", "«Ахмат»", "«Краснодар»", "«Ростов»", "«Оренбург»"),
    "locker": _locker,
    "plate": _plate_ru,
    "language": ("испанский", "немецкий", "японский", "итальянский", "французский", "китайский", "польский"),
    "parrot": ("Кузя", "Арчи", "Лори", "Чика"),
    "colour": ("красный", "синий", "жёлтый", "зелёный", "белый", "розовый", "бежевый", "фиолетовый"),
    "apt": _apartment_ru,
}

_RU_CHAT = _Chat(
    openers=("Привет!", "Слушай, вопрос.", "Доброе утро!", "Так, следующее.", "Ещё один вопрос.", "Снова я.",
             "Добрый вечер!", "Короче, такое дело.", "Можно спросить?", "Вопрос вне темы.", "Ладно, переключимся.",
             "Есть минутка?"),
    context=(
        "Я сейчас {place}, у меня минут {mins}.",
        "Неделя была длинная, так что не суди строго.",
        "Встречу перенесли, теперь она {day_in} в {time}, так что время есть.",
        "Открыто {n5} вкладок, и везде пишут разное.",
        "Дети наконец уснули.",
        "Вчера об этом зашёл разговор в семье, и никто не знал ответа.",
        "На улице {temp}, а батареи еле тёплые.",
        "Жду доставку, трек-номер {parcel}, так что сижу дома.",
        "Пишу с телефона, так что медленно.",
        "Это уже {n3}-я чашка кофе за день, так что соображаю с трудом.",
        "Только вернулись {city_from}, ещё не отошли.",
        "Еду в поезде {city_to}, интернет постоянно пропадает.",
        "Нашлась заметка от {date}, только сейчас до неё дошли руки.",
        "У нас гости до выходных, дома кавардак.",
        "Думаю об этом с самого утра.",
        "На работе за обедом кто-то об этом упомянул.",
        "Поиск ничего не дал, в выдаче одна реклама.",
        "Кстати, {rel} тоже ищет ответ на этот вопрос.",
    ),
    distractors=(
        "У {rel_gen} собаку зовут {dog}.",
        "У {rel_gen} недавно появился кот по кличке {cat}.",
        "{rel_cap} теперь живёт {city_in}.",
        "{rel_cap} собирается переезжать {city_to}.",
        "{rel_cap} работает в компании «{company}».",
        "У {name_gen} новая работа — теперь в «{company}».",
        "У {rel_gen} машина — {car}.",
        "{rel_cap} ездит на новой машине — {car}.",
        "{name} из соседнего отдела ездит на {car}.",
        "Номер {rel_gen}: {phone}, на всякий случай.",
        "У {rel_gen} новый номер: {phone}.",
        "У {rel_gen} день рождения {bday}.",
        "У {rel_gen} аллергия на {allergen}.",
        "Пароль от Wi-Fi у {rel_gen} — {wifi}.",
        "{rel_cap} завтра летит рейсом {flight}.",
        "Врач у {rel_gen} — доктор {surname}.",
        "У {rel_gen} группа крови {blood}.",
        "Дочку {rel_gen} зовут {kid}.",
        "Сына {rel_gen} зовут {son}.",
        "У {rel_gen} есть лодка «{boat}».",
        "Любимое блюдо {rel_gen} — {food}.",
        "{rel_cap} болеет за {team}.",
        "Код шкафчика в бассейне у {rel_gen} — {locker}.",
        "Госномер у {rel_gen} — {plate}.",
        "{rel_cap} учит {language}.",
        "Начальника {rel_gen} зовут {fullname}.",
        "У {rel_gen} попугай по кличке {parrot}.",
        "Любимый цвет {rel_gen} — {colour}.",
        "{rel_cap} живёт в квартире {apt}.",
    ),
    closers=("Заранее спасибо!", "Можно примерно.", "Коротко, пожалуйста.", "Не срочно.", "Спасибо!",
             "Любые идеи приветствуются.", "Можно списком."),
    segues=("И ещё кое-что.", "И вот ещё что.", "Не по теме, но пусть будет.", "Пока не вылетело из головы.",
            "Для контекста.", "Отдельно."),
    returns=("Так вот, вопрос.", "Но пишу не поэтому.", "Ладно, к делу.", "Теперь сам вопрос."),
    intros=("Хороший вопрос.", "Конечно.", "С удовольствием помогу.", "Давайте разберёмся.",
            "Сначала коротко, потом подробнее.", "Вот что можно сделать.", "Частый вопрос.", "Пара мыслей.",
            "Посмотрим.", "Тут есть несколько сторон."),
    leads=("Как правило, ", "На практике ", "Честно говоря, ", "В большинстве случаев ", "Кроме того, ", "Вообще, "),
    tails=(", по крайней мере по моему опыту", ", насколько я могу судить", " — это важнее, чем кажется",
           ", если вам так удобно", ", хотя это не жёсткое правило", ", особенно {month_in}",
           ", и с этим согласно большинство руководств после {year} года",
           " — этот совет встречается почти в каждом обсуждении", ", даже если поначалу кажется, что это медленно",
           ", и это подходит большинству"),
    advice=(
        "Многое зависит от ситуации, но основы одинаковые.",
        "Не стремитесь к идеалу — важнее то, что вы реально будете делать.",
        "Если есть возможность, сначала попробуйте в малом масштабе.",
        "Запишите ключевые цифры, чтобы не держать их в голове.",
        "Перед решением стоит свериться с официальным источником.",
        "На этом шаге многие всё усложняют.",
        "Дайте этому пару недель, прежде чем оценивать результат.",
        "Начните с простого и добавляйте детали только там, где это важно.",
        "Спросите того, кто делал это недавно: детали меняются быстрее, чем обновляются инструкции.",
        "Коротко записывайте, что уже пробовали, чтобы потом сравнить.",
    ),
    list_heads=("Вот что можно предложить:", "Несколько пунктов:", "Если коротко:", "По шагам:"),
    outros=("Надеюсь, это поможет!", "Расскажите потом, как получилось.", "Хотите, разберу что-то подробнее?",
            "Удачи!", "Если что-то непонятно — спрашивайте.", "Могу подстроить совет под вашу ситуацию.",
            "Если нужно короче — скажите.", "Могу сделать из этого чек-лист."),
    acks=("Принято, спасибо.", "Хорошо, учту.", "Спасибо, это полезный контекст.", "Ясно, спасибо, что сообщили.",
          "Отлично, буду иметь в виду.", "Спасибо за уточнение.", "Учту это дальше.", "Хорошо, принято к сведению.",
          "Понятно, спасибо.", "Буду знать, спасибо."),
    offers=("Чем ещё помочь?", "Нужно что-то сделать с этой информацией?", "Учту это в следующих ответах.",
            "Скажите, если это что-то меняет в планах."),
    vocab=_RU_VOCAB,
)

_RU_TOPICS: tuple[_Topic, ...] = (
    _Topic(  # путешествия
        asks=("Как лучше добраться {city_from} {city_to}: поезд или самолёт?",
              "Планирую поездку {city_to} {month_in}, что обязательно посмотреть?",
              "Что скажешь про такое место {city_in}: {sight}? Стоит тратить время?",
              "Сколько наличных нужно {country_in} на неделю, примерно?",
              "Помоги составить план на выходные {city_in} с бюджетом {price}.",
              "Что взять с собой в поездку {city_to} {month_in}?",
              "Реально ли за неделю побывать {city_in} и {city_in2}?",
              "{rel_cap} советует остановиться в гостинице у вокзала {city_in}. Хорошая идея?"),
        notes=("Прилетаем {date}, обратно через {n5} дней.",
               "Бюджет — около {price} на человека без перелёта.",
               "Номер брони в гостинице: {code}, если вдруг пригодится.",
               "В прошлый раз {city_in} всё время шёл дождь.",
               "Нас будет {n5} человек, двое из них дети.",
               "Больше {hours} часов подряд в дороге не хочется."),
        says=("{city} — компактный город, центр можно обойти пешком примерно за {mins} мин.",
              "Если ехать {month_in}, рассчитывайте на температуру около {temp} и бронируйте жильё заранее.",
              "Меньше всего людей утром, сразу после открытия, — так можно избежать очередей.",
              "Городской туристический пропуск стоит около {price} и окупается, если посетить хотя бы три музея.",
              "Дорога между городами занимает примерно {hours} ч, а билеты дешевле, если брать их за {n5} дней.",
              "Сделайте цифровые копии документов и возьмите немного наличных: в небольших кафе карты принимают "
              "не везде.",
              "На поездку в {n5} дней лучше оставить последний день свободным.",
              "На карте {km} км выглядят близко, но по региональным дорогам это может занять целый день.",
              "Проверьте календарь праздников: {date} многие магазины могут закрыться раньше.",
              "Разумный дневной бюджет там — около {price} с едой и местным транспортом.",
              "Если погода испортится, спасут крытые рынки и музеи.",
              "Смотровая площадка лучше всего на закате, но приходите минут за {n5} до него."),
        vocab={"city_in2": _RU_VOCAB["city_in"],
               "sight": ("старый город", "кафедральный собор", "набережная", "ботанический сад",
                         "музей современного искусства", "крепость", "центральный рынок", "канатная дорога",
                         "смотровая площадка", "старый порт")},
    ),
    _Topic(  # кулинария
        asks=("Сколько времени готовить {dish_acc} на {n5} человек?",
              "Можно ли заменить {ingr_acc} на что-то другое в рецепте?",
              "В прошлый раз блюдо вышло суховатым. Что я делаю не так? Готовлю {dish_acc}.",
              "Что быстро приготовить на ужин, если есть {ingr}, {ingr2} и немного риса?",
              "Как пересчитать рецепт на {n5} порций, чтобы ничего не испортить?",
              "Можно ли заморозить {dish_acc} и сколько это потом хранится?",
              "{rel_cap} просит рецепт, блюдо — {dish}. Напишешь простую версию?"),
        notes=("Духовка у меня греет сильнее, чем показывает ручка, градусов на {n5}.",
               "До прихода гостей примерно {mins} мин.",
               "В рецепте написано {g} г {ingr_gen}.",
               "В прошлый раз соли было на {pct} меньше, и никто не заметил.",
               "Всё должно поместиться в одну кастрюлю, вторая сломалась."),
        says=("Запекайте при {temp_oven} около {mins} мин, потом дайте постоять.",
              "Можно заменить один к одному, только уменьшите количество жидкости.",
              "На {n5} порций понадобится примерно {g} г {ingr_gen}.",
              "Сухость обычно означает слишком сильный огонь: убавьте температуру и накройте форму на середине "
              "времени.",
              "Солите слоями: понемногу на каждом этапе лучше, чем много в конце.",
              "Большинство готовых блюд спокойно хранятся в морозилке до трёх месяцев, если быстро их остудить.",
              "Прогрейте специи на сухой сковороде минуту, прежде чем добавлять {ingr_acc}.",
              "Ингредиенты пересчитываются линейно, а время — нет: проверьте середину через {mins} мин.",
              "Тесто поставьте подходить в тёплое место, пока не увеличится вдвое, это около {hours} ч.",
              "Капля лимонного сока в конце освежает вкус лучше, чем лишняя соль.",
              "Муку лучше взвешивать: {g} г надёжнее, чем «стакан с горкой».",
              "Если времени мало, можно приготовить {dish_acc} накануне и аккуратно разогреть."),
        vocab={**_forms((("борщ", "борщ"), ("плов", "плов"), ("сырники", "сырники"), ("окрошка", "окрошку"),
                         ("солянка", "солянку"), ("котлеты", "котлеты"), ("гречка с грибами", "гречку с грибами"),
                         ("запеканка", "запеканку"), ("пирог с капустой", "пирог с капустой"),
                         ("лазанья", "лазанью"), ("тыквенный суп", "тыквенный суп"), ("шарлотка", "шарлотку"),
                         ("голубцы", "голубцы"), ("уха", "уху"), ("драники", "драники")), "dish", "dish_acc"),
               **_forms((("мука", "муку", "муки"), ("сливочное масло", "сливочное масло", "сливочного масла"),
                         ("чеснок", "чеснок", "чеснока"), ("сметана", "сметану", "сметаны"),
                         ("сливки", "сливки", "сливок"), ("шпинат", "шпинат", "шпината"),
                         ("грибы", "грибы", "грибов"), ("имбирь", "имбирь", "имбиря"),
                         ("пармезан", "пармезан", "пармезана"), ("нут", "нут", "нута"), ("рис", "рис", "риса"),
                         ("творог", "творог", "творога"), ("сахар", "сахар", "сахара"),
                         ("томаты", "томаты", "томатов")), "ingr", "ingr_acc", "ingr_gen"),
               "ingr2": ("кабачок", "сыр", "яйца", "курица", "фарш", "морковь", "зелень")},
    ),
    _Topic(  # программирование
        asks=("Как найти причину, если {thing} падает, а в логе — {err}?",
              "Что лучше взять для такой задачи, {tool} или {tool2}? Задача: {thing}.",
              "После обновления до {version} у нас сломалось вот что: {thing}. С чего начать?",
              "Как правильно организовать тесты на {lang}?",
              "Как аккуратно сделать повторные запросы, если API отвечает {http}?",
              "Сборка {ticket} падает только {day_in}. Почему?",
              "Почему скрипт на {lang} обрабатывает файл на {big} строк целых {mins} мин?"),
        notes=("В логе перед падением видно {code}.",
               "Локально всё работает, а в {tool} — нет.",
               "В пике сервис получает около {big} запросов в минуту.",
               "Зависимость мы зафиксировали на {version} в прошлом спринте.",
               "Судя по всему, всё началось с коммита {hash}."),
        says=("Сначала воспроизведите ошибку на минимальных входных данных и с фиксированным seed.",
              "Добавьте структурированные логи с замером времени на каждом шаге.",
              "{tool} — хороший вариант по умолчанию; менять стоит, только если упрётесь в конкретное ограничение.",
              "Повторяйте с экспоненциальной задержкой: 1, 2, 4 и 8 секунд, и сдавайтесь после {n5} попыток.",
              "Пишите по одному тесту на поведение, а не на функцию, и держите фикстуры маленькими.",
              "Сначала профилируйте: обычно {pct} времени уходит на один-два горячих цикла.",
              "Прочитайте changelog вплоть до {version}: несовместимые изменения обычно перечислены там.",
              "Читайте файл порциями по {big} строк, а не целиком в память.",
              "Если падает только на одном раннере, сравните переменные окружения и часовой пояс.",
              "Оберните внешний вызов таймаутом секунд в {n5}, чтобы один медленный запрос не блокировал всё.",
              "Запустите `git bisect` между последним рабочим коммитом и {hash}, обычно хватает десятка шагов.",
              "Храните настройки в переменных окружения и проверяйте их при старте."),
        vocab={"lang": ("Python", "Go", "Rust", "TypeScript", "Java", "Kotlin", "C#", "PHP"),
               "tool": ("Docker", "Git", "PostgreSQL", "Redis", "nginx", "Kubernetes", "pytest", "ClickHouse"),
               "tool2": ("Podman", "MySQL", "Memcached", "Caddy", "Nomad", "unittest", "DuckDB"),
               "thing": ("REST-эндпоинт", "фоновая задача", "форма логина", "импорт CSV", "слой кэширования",
                         "страница поиска", "парсер дат", "вебхук платёжной системы", "консольная утилита",
                         "ночной отчёт"),
               "err": ("таймаут", "гонка данных", "утечка памяти", "ошибка на единицу", "взаимная блокировка",
                       "ошибка кодировки", "NullPointerException")},
    ),
    _Topic(  # книги
        asks=("Книга {book} прочитана. Что почитать дальше?",
              "Стоит ли браться за книгу {book}, если не зашла {book2}?",
              "Что почитать в поезде на {n5} часов? Хочется чего-то в жанре: {genre}.",
              "Как снова начать читать? В этом году осилено от силы {n5} книг.",
              "В книжном клубе {month_in} обсуждаем {book}. Подскажешь вопросы для обсуждения?",
              "С какой книги лучше начинать знакомство с автором, если это {author}?"),
        notes=("{rel_cap} обещает дать свой экземпляр с пометками на полях.",
               "Читаю в основном в метро, около {mins} мин в одну сторону.",
               "В библиотеке на эту книгу очередь из {n5} человек.",
               "С аудиокнигами не сложилось: через {mins} мин теряю нить."),
        says=("Если зашла книга {book}, попробуйте {book2}: похожий темп, совсем другая обстановка.",
              "{author} лучше начинать с небольших вещей.",
              "Для поезда хороши рассказы: главы короткие, легко прерваться.",
              "Поставьте маленькую цель, например {n5} страниц в день: регулярность важнее скорости.",
              "Для клуба хорошо работают вопросы о мотивах: почему рассказчик что-то скрывает?",
              "Книга {book} читается иначе, если знать, в какое время она написана.",
              "Чередуйте тяжёлые книги с лёгкими, чтобы не застрять.",
              "Некоторым помогает слушать аудиокниги на скорости 1,2.",
              "В библиотеках часто есть электронные версии — можно не ждать бумажную.",
              "Делайте короткую заметку после каждой главы, так финал запомнится лучше.",
              "Если книга не зацепила за {n5} страниц, её можно спокойно отложить."),
        vocab={"book": ("«Война и мир»", "«Преступление и наказание»", "«Отцы и дети»", "«Евгений Онегин»",
                        "«Мёртвые души»", "«Герой нашего времени»", "«Тихий Дон»", "«Анна Каренина»",
                        "«Доктор Живаго»", "«Собачье сердце»", "«Капитанская дочка»"),
               "book2": ("«Идиот»", "«Обрыв»", "«Дни Турбиных»", "«Чевенгур»", "«Палата № 6»", "«Вишнёвый сад»"),
               "author": ("Толстой", "Достоевский", "Тургенев", "Чехов", "Пушкин", "Гоголь", "Лермонтов",
                          "Улицкая", "Пелевин"),
               "genre": ("детективы", "исторические романы", "фантастика", "рассказы", "поэзия", "биографии",
                         "фэнтези")},
    ),
    _Topic(  # спорт
        asks=("Как подготовиться к старту через {n5} недель? Это {event}.",
              "Нормально ли, если {sport} два дня подряд?",
              "Какой темп реален на {km} км для новичка?",
              "Как сыграл {team} в прошлом сезоне? {rel_cap} только о нём и говорит.",
              "Что съесть перед стартом? Предстоит {event}.",
              "После {sport_gen} болит колено. Стоит волноваться?"),
        notes=("Мой лучший результат на 5 км сейчас — {runtime}.",
               "На тренировки есть около {mins} мин в день.",
               "Старт в {time}, стартовый номер {bib}.",
               "За прошлую неделю набралось {km} км."),
        says=("Увеличивайте объём примерно на 10% в неделю и каждую четвёртую неделю делайте разгрузочной.",
              "В большинстве планов три-четыре тренировки в неделю: одна длинная, одна быстрая, остальные лёгкие.",
              "Колено после нагрузки часто болит от слишком резкого старта: дайте ему отдохнуть пару дней.",
              "Поешьте что-то привычное за {n3} ч до старта, в основном углеводы.",
              "Сезон у команды {team} получился неровным, но главной историей стал кубок.",
              "Комфортный темп для новичка — тот, при котором можно говорить полными предложениями.",
              "Разминайтесь {mins} мин, включая несколько коротких ускорений.",
              "Сон важен не меньше тренировок: в последнюю неделю ложитесь в одно и то же время.",
              "Если боль острая или держится больше {n5} дней, покажитесь физиотерапевту.",
              "В день старта начинайте медленнее, чем хочется: первые километры должны быть лёгкими.",
              "Смена нагрузки, например {sport}, помогает суставам отдохнуть."),
        vocab={**_forms((("бег", "бега"), ("плавание", "плавания"), ("велосипед", "велосипеда"),
                         ("теннис", "тенниса"), ("йога", "йоги"), ("гребля", "гребли"), ("лыжи", "лыж"),
                         ("баскетбол", "баскетбола")), "sport", "sport_gen"),
               "team": ("ЦСКА", "«Динамо»", "«Ахмат»", "«Краснодар»", "«Ростов»", "«Оренбург»", "«Урал»"),
               "event": ("забег на 10 км", "полумарафон", "велозаезд", "любительский турнир по теннису",
                         "эстафета", "заплыв на открытой воде")},
    ),
    _Topic(  # погода
        asks=("Какая погода обычно {city_in} {month_in}?",
              "Достаточно ли тепло {city_in} {month_in}, чтобы посидеть на природе?",
              "Насколько холодно бывает {city_in} зимой?",
              "Отменять ли шашлыки, если вероятность дождя {pct}?",
              "Почему приложение показывает {temp}, а ощущается гораздо холоднее?",
              "Стоит ли ехать {km} км на велосипеде при {temp}?"),
        notes=("Приложение обещает дождь с вероятностью {pct} после {time}.",
               "Вчера было {temp} и сильный ветер.",
               "Мы будем на улице с {time} и до позднего вечера."),
        says=("Актуальный прогноз я посмотреть не могу, но {month_in} {city_in} днём обычно около {temp}.",
              "Вероятность дождя {pct} — это шанс, что он вообще пойдёт, а не доля дня с дождём.",
              "Из-за ветра {temp} может ощущаться на несколько градусов холоднее, особенно у воды.",
              "Возьмите лёгкую непромокаемую куртку: весенние ливни часто проходят за {mins} мин.",
              "Ультрафиолет бывает сильным даже в облачную погоду, так что крем не помешает.",
              "Посмотрите радар осадков за час до выхода — он надёжнее суточного прогноза.",
              "При влажности выше {pct} жара переносится тяжелее, планируйте перерывы в тени.",
              "В ясную безветренную ночь вероятны заморозки, даже если днём было {temp}.",
              "Несколько слоёв одежды лучше одной толстой куртки, когда температура скачет.",
              "В горах погода меняется быстро: примерно минус 6 °C на каждую тысячу метров высоты."),
        vocab={},
    ),
    _Topic(  # работа
        asks=("Как вежливо попросить перенести срок {date}? Речь про {task_acc}.",
              "Помоги структурировать {task_acc}, у меня {n5} дней.",
              "Какую повестку сделать для встречи на {mins} мин? Тема: {task}.",
              "Как написать письмо с просьбой увеличить бюджет на {pct}?",
              "{rel_cap} советует просить повышение зарплаты {month_in}. Хорошее время?",
              "Как сделать так, чтобы встречи не съедали весь день, особенно {day_in}?"),
        notes=("Встреча {day_in} в {time}, переговорная {room}.",
               "В команде {n5} человек в трёх часовых поясах.",
               "Задача в трекере: {ticket}.",
               "Дедлайн уже дважды переносили."),
        says=("Начните с того, что точно успеете к {date}, а потом объясните, чему нужно больше времени.",
              "Хорошая структура: контекст, варианты, рекомендация, риски — по слайду на каждый пункт.",
              "Для встречи на {mins} мин хватит трёх пунктов повестки, а итоги отправьте в течение часа.",
              "Просите бюджет через результат: что дадут дополнительные {pct} и что будет без них.",
              "Выделите два утра в неделю под сосредоточенную работу и относитесь к ним как к встречам.",
              "Сначала напишите краткое резюме: если суть не помещается в два предложения, план ещё не готов.",
              "В оценку сроков заложите запас около {pct} на ревью и сюрпризы.",
              "Для разговора о повышении важнее не время, а аргументы с цифрами.",
              "До конца встречи договоритесь, кто отвечает за каждый пункт.",
              "Если часовые пояса разные, меняйте время встречи по очереди.",
              "Ведите общий документ по задаче, чтобы обновления не терялись в чате."),
        vocab=_forms((("квартальный отчёт", "квартальный отчёт"), ("проектное предложение", "проектное предложение"),
                      ("план адаптации новичков", "план адаптации новичков"),
                      ("пересмотр бюджета", "пересмотр бюджета"),
                      ("презентация для клиента", "презентацию для клиента"), ("план миграции", "план миграции"),
                      ("оценка эффективности", "оценку эффективности")), "task", "task_acc"),
    ),
    _Topic(  # история
        asks=("Объясни простыми словами: {event} — что это было?",
              "Почему это событие, {event}, так сильно повлияло на обычных людей?",
              "Что происходило {city_in} около {hyear} года?",
              "{rel_cap} утверждает, что всё это было в {hyear} году. Речь про такое событие: {event}. Это правда?",
              "Посоветуй книгу или документальный фильм на тему: {event}.",
              "Насколько можно верить цифрам вроде {big} жителей для городов {hyear} года?"),
        notes=("Мы идём в музей на эту тему {day_in}.",
               "У ребёнка школьный проект по этой теме, сдавать {date}.",
               "Из школы я помню пару дат, не больше."),
        says=("Если коротко, изменилось то, кто контролирует торговлю, а значит, и кто кому платит налоги.",
              "Историки спорят о точном поворотном моменте, а сам процесс занял десятилетия.",
              "Цифры вроде {big} — это оценки по налоговым спискам и церковным книгам.",
              "Для обычных людей главное менялось в ценах, времени в пути и в том, кому они подчинялись.",
              "Хороший вход в тему — местный музей: предметы запоминаются лучше абстрактных дат.",
              "Современники описывают события по-разному, поэтому полезно сравнить хотя бы два источника.",
              "Около {hyear} года большинство городов были намного меньше нынешних.",
              "Карты того времени полезны, но часто показывают амбиции, а не реальность.",
              "Многие «круглые» даты условны: сами договоры готовились годами.",
              "Для школьного проекта хорошо работает шкала времени с {n5} ключевыми событиями."),
        vocab={"event": ("падение Константинополя", "изобретение книгопечатания", "Ганзейский союз",
                         "реставрация Мэйдзи", "строительство Панамского канала", "Венский конгресс",
                         "торговля на Шёлковом пути", "Великий лондонский пожар", "программа «Аполлон»",
                         "освоение Сибири")},
    ),
    _Topic(  # наука
        asks=("Объясни, как будто мне двенадцать: {concept} — это что?",
              "Как учёные на самом деле измеряют такое: {quantity}?",
              "Правда ли, что {claim}?",
              "Мне прислали статью про такое: {concept}. В чём подвох?",
              "Почему на высоте {alt} м вода закипает при более низкой температуре?"),
        notes=("В статье пишут, что эффект на {pct} сильнее ожидаемого.",
               "Мы дома провели опыт с {n5} банками и пищевым красителем.",
               "Документальный фильм, который мы смотрели, снят в {year} году."),
        says=("Если коротко, это проще, чем кажется: больше всего путаницы создают термины.",
              "Напрямую это почти никогда не меряют: комбинируют несколько косвенных методов и сравнивают.",
              "Это миф: он распространился, потому что звучит правдоподобно, а не из-за данных.",
              "Когда пишут «на {pct} сильнее», проверьте базу: от маленьких чисел проценты получаются большими.",
              "На высоте {alt} м давление ниже, поэтому вода закипает ниже 100 °C и макароны варятся дольше.",
              "Хорошие исследования указывают погрешность; результат без неё трудно оценить.",
              "Один эксперимент — это подсказка, а не доказательство; важно, чтобы его повторили другие группы.",
              "Полезная аналогия — очередь, через которую в секунду проходят {n5} человек.",
              "В заголовке часто умалчивают, что участников было всего {n5}.",
              "Учебники упрощают, а некоторые детали прояснились только в последние десятилетия.",
              "Для домашних опытов хватит кухонных весов и термометра."),
        vocab={"concept": ("фотосинтез", "тектоника плит", "парниковый эффект", "вакцины", "чёрные дыры",
                           "устойчивость к антибиотикам", "квантовая запутанность", "приливы",
                           "радиоуглеродный анализ", "CRISPR"),
               "quantity": ("возраст горной породы", "расстояние до звезды", "скорость ледника",
                            "температура океана", "масса планеты"),
               "claim": ("мы используем только малую часть мозга", "молния не бьёт дважды в одно место",
                         "у золотой рыбки память три секунды", "Великую Китайскую стену видно с орбиты",
                         "волосы растут после смерти")},
    ),
    _Topic(  # здоровье
        asks=("Что делать, если беспокоит такое: {issue}? Уже {n5} дней.",
              "Правда ли помогает вот это: {habit}? Или это мода?",
              "Сколько шагов в день нормально? У меня около {big}.",
              "Что спросить на осмотре, если беспокоит {issue}?",
              "{rel_cap} советует: {habit}. Это правда помогает?"),
        notes=("За столом я провожу около {hours} ч в день.",
               "Чая теперь не больше {n3} чашек в день.",
               "Приём назначен на {date}, в {time}."),
        says=("Я не врач, но обычно начинают со сна, движения и меньшего количества экранов вечером.",
              "У этой привычки неплохая доказательная база, и попробовать ничего не стоит.",
              "Около {big} шагов в день — разумная цель; больше можно, но это не волшебство.",
              "Если симптомы держатся дольше {n5} дней или усиливаются, запишитесь к врачу.",
              "Записывайте, когда это случается и что было перед этим: закономерности видны быстро.",
              "Поставьте напоминание вставать каждые {mins} мин.",
              "В спальне лучше прохладно, около 18 °C, и темно.",
              "Кофеин выводится долго, так что чашка в {time} может мешать сну.",
              "Возьмите на приём список вопросов, чтобы ничего не забыть.",
              "Лёгкая растяжка по {mins} мин каждый день помогает лучше редких долгих занятий."),
        vocab={"issue": ("плохой сон", "затёкшая шея", "головная боль после обеда", "упадок сил зимой",
                         "боль в спине от сидения", "сезонный насморк", "сухость глаз от экрана"),
               "habit": ("пить больше воды", "ежедневная прогулка", "перерывы на растяжку",
                         "ложиться в одно и то же время", "меньше кофе после обеда")},
    ),
    _Topic(  # дом и сад
        asks=("Как самому справиться с проблемой: {fix}? Без мастера.",
              "Когда сажать {plant_acc}, если последние заморозки около {date}?",
              "Какую краску лучше взять для кухни: матовую или полуглянцевую?",
              "Сколько краски нужно на комнату площадью {sqm} кв. м?",
              "{rel_cap} говорит, что {plant_acc} нужно поливать каждый день. Это так?",
              "Стоит ли брать аккумуляторную дрель за {price}?"),
        notes=("Балкон выходит на юг, солнце там до {time}.",
               "Свободные выходные у меня {date}.",
               "До строительного магазина {km} км."),
        says=("Сначала перекройте воду или отключите питание и сфотографируйте всё, прежде чем разбирать.",
              "Рассаду лучше посеять за шесть недель до конца заморозков и высаживать после {date}.",
              "Для кухни и ванной удобнее полуглянцевая краска: её легко мыть.",
              "Литра краски хватает примерно на 10 кв. м в один слой, так что на {sqm} кв. м в два слоя нужно "
              "несколько литров.",
              "Лучше поливать обильно дважды в неделю, чем понемногу каждый день: корни становятся сильнее.",
              "Дрели среднего класса за {price} хватит для полок и мебели.",
              "Обычно достаточно заменить прокладку или картридж — стоят они недорого.",
              "Проветривайте ванную хотя бы {mins} мин после душа, чтобы не было плесени.",
              "Стравите воздух из батареи ключом, пока вместо воздуха не пойдёт вода.",
              "Перед сверлением наклейте малярный скотч, чтобы сверло не соскальзывало."),
        vocab={"fix": ("капающий кран", "скрипящая дверь", "треснувшая плитка", "шатающаяся полка",
                       "плесень в ванной", "холодная батарея", "заедающее окно"),
               "plant_acc": ("томаты", "базилик", "розы", "клубнику", "мяту", "гортензии", "кабачки", "перец")},
    ),
    _Topic(  # деньги
        asks=("Сколько откладывать в месяц на {goal_acc}?",
              "Что выгоднее: досрочно гасить кредит под {pct} или инвестировать?",
              "Как честно поделить общий счёт в {price} на {n5} человек с разными доходами?",
              "Как просто вести учёт трат без приложения?",
              "{rel_cap} просит в долг {price}. Как вежливо отказать?",
              "Стоит ли подписка за {price} в месяц, если пользуюсь ею дважды в неделю?"),
        notes=("Зарплата приходит {payday} числа.",
               "Аренда съедает примерно {pct} дохода.",
               "Номер чека — {code}, если это важно."),
        says=("Обычное правило — подушка безопасности на три–шесть месяцев расходов.",
              "Досрочное погашение кредита с высокой ставкой — это фактически гарантированная доходность по этой "
              "ставке.",
              "Общие расходы можно делить пропорционально доходам или договориться о фиксированной доле и "
              "пересматривать её раз в {n5} месяцев.",
              "Записывайте все покупки в блокнот хотя бы пару недель — закономерности обычно удивляют.",
              "Настройте автоматический перевод в день зарплаты, чтобы сначала откладывать, а потом тратить.",
              "Разделите цену подписки на число использований: если выходит {price} за раз, это может быть "
              "нормально.",
              "Отказывать проще с понятной причиной: «эти деньги у меня на обязательные расходы».",
              "Разделите целевую сумму на число месяцев и немного округлите вверх.",
              "Проверьте комиссии: годовая комиссия {n3}% незаметно съедает заметную часть роста.",
              "Держите на карте небольшой запас, около {price}, чтобы не уходить в минус."),
        vocab={"goal_acc": ("подушку безопасности", "новый ноутбук", "отпуск", "первый взнос за дом", "свадьбу",
                            "ремонт"),
               "payday": ("5-го", "10-го", "15-го", "25-го")},
    ),
    _Topic(  # музыка и кино
        asks=("Что послушать в дороге, если нравится {artist}?",
              "Подойдёт ли фильм {film} ребёнку {n5} лет?",
              "Сколько времени взрослому нужно, чтобы научиться играть на {instr}?",
              "У нас киновечер {day_in}. Хочется что-то вроде {film}, но поновее.",
              "Есть билеты на трибьют-концерт, исполнитель — {artist}, дата — {date}. Стоит идти?",
              "С какой песни начать, если учусь играть на {instr}?"),
        notes=("Концерт в {time}, вход за час.",
               "Колонки у нас старые, ещё {year} года.",
               "Занимаюсь примерно по {mins} мин в день."),
        says=("Если нравится {artist}, начните с альбомов середины карьеры, а не со сборника хитов.",
              "Большинство взрослых через {n5} недель регулярных занятий уже могут аккомпанировать простым песням.",
              "Для киновечера берите фильм короче двух часов и держите запасной вариант.",
              "Короткие ежедневные занятия по {mins} мин лучше одной долгой сессии в выходные.",
              "Начните с песен на три-четыре аккорда — играть вместе с записью получится быстро.",
              "Посмотрите возрастной рейтинг и родительские отзывы: там перечислены сцены, которые могут напугать.",
              "Трибьют-концерты в небольших залах бывают очень душевными.",
              "Метроном на медленном темпе, около {bpm} ударов в минуту, помогает больше, чем спешка.",
              "В долгой дороге смешивайте знакомые песни с парой новых, чтобы не клонило в сон."),
        vocab={"artist": ("Queen", "ABBA", "Земфира", "Алла Пугачёва", "Борис Гребенщиков", "Кипелов", "Daft Punk",
                          "Рахманинов", "Чайковский"),
               "film": ("«Москва слезам не верит»", "«Ирония судьбы»", "«Кавказская пленница»",
                        "«Бриллиантовая рука»", "«Довод»", "«Интерстеллар»", "«Крёстный отец»", "«Титаник»"),
               "instr": ("гитаре", "пианино", "укулеле", "барабанах", "скрипке", "виолончели")},
    ),
)

_CHATS = {"en": _EN_CHAT, "ru": _RU_CHAT}
_TOPICS = {"en": _EN_TOPICS, "ru": _RU_TOPICS}
_SLOT = re.compile(r"\{(\w+)\}")

# ------------------------------------------------------------------------------------------------------ generation

_FIRST_MAX = 0.65  # the first statement of a fact lies in the first 65% of the conversation
_LATE = (0.82, 0.97)  # where the late updates lie
_RETRIES = 200


@dataclass
class _Plan:
    kind: _Kind
    language: str
    values: list[str]  # oldest first
    at: list[float]  # where each statement lies, as a share of the conversation
    templates: list[str]


def _compatible(value: str, taken: list[str]) -> bool:
    """Whether `value` and every value already drawn are distinct and none is part of another."""
    lowered = value.lower()
    return all(lowered not in other and other not in lowered for other in taken)


def _draw_value(rng: random.Random, pool: Slot, taken: list[str]) -> str:
    for _ in range(_RETRIES):
        value = rng.choice(pool) if isinstance(pool, tuple) else pool(rng)
        if _compatible(value, taken):
            return value
    raise RuntimeError("could not draw a planted value distinct from the others")


def _plan(rng: random.Random, facts: int, updated: int) -> list[_Plan]:
    """Which subjects, in which language, with which values and phrasings, and where each statement goes."""
    kinds = rng.sample(_KINDS, facts)
    # subjects whose value naturally changes get the updates first; corrections only when there are not enough
    updated_ids = sorted(range(facts), key=lambda i: not kinds[i].changes)[:updated]
    late_ids = set(rng.sample(updated_ids, (updated + 2) // 3))
    languages = ["en"] * (facts // 2) + ["ru"] * (facts // 2) + [rng.choice(("en", "ru"))] * (facts % 2)
    rng.shuffle(languages)
    taken: list[str] = []
    plans = []
    for i, (kind, language) in enumerate(zip(kinds, languages, strict=True)):
        side = kind.en if language == "en" else kind.ru
        changes = (1 if rng.random() < 0.65 else 2) if i in updated_ids else 0
        values = []
        for _ in range(changes + 1):
            values.append(_draw_value(rng, side.values, taken))
            taken.append(values[-1].lower())
        if changes == 0:
            at = [rng.uniform(0.01, _FIRST_MAX)]
        elif changes == 1:
            first = rng.uniform(0.01, 0.45)
            at = [first, rng.uniform(*_LATE) if i in late_ids else rng.uniform(first + 0.15, _LATE[1])]
        else:
            first = rng.uniform(0.01, 0.35)
            middle = rng.uniform(first + 0.1, 0.65)
            at = [first, middle, rng.uniform(*_LATE) if i in late_ids else rng.uniform(middle + 0.1, _LATE[1])]
        templates = [rng.choice(side.says)]
        for _ in range(changes):
            phrasings = side.updates if rng.random() < 0.8 else side.says
            templates.append(rng.choice([t for t in phrasings if t != templates[-1]]))
        plans.append(_Plan(kind, language, values, at, templates))
    return plans


class _Writer:
    """Writes messages: filler pairs and statement pairs, each message drawn again while it contains a planted
    value it must not, and counted once with the caller's `count_tokens`."""

    def __init__(self, rng: random.Random, count_tokens: Callable[[str], int], values: list[str]) -> None:
        self.rng = rng
        self.count_tokens = count_tokens
        self.values = [value.lower() for value in values]
        self.chars = {"en": 0, "ru": 0}
        self.tokens = {"en": 0, "ru": 0}

    def count(self, text: str, language: str) -> int:
        tokens = self.count_tokens(text)
        if tokens < 1:
            raise ValueError(f"count_tokens must return a positive count for a non-empty message, got {tokens}")
        self.chars[language] += len(text)
        self.tokens[language] += tokens
        return tokens

    def target(self, language: str, tokens: int) -> int:
        """`tokens` of the caller's tokenizer in characters, as measured on the messages so far."""
        ratio = self.chars[language] / self.tokens[language] if self.tokens[language] else 6.0
        return int(tokens * ratio)

    def fill(self, template: str, language: str, vocab: Vocab) -> str:
        common = _CHATS[language].vocab

        def pick(match: re.Match[str]) -> str:
            slot = vocab.get(match[1]) or common[match[1]]
            return self.rng.choice(slot) if isinstance(slot, tuple) else slot(self.rng)

        return _SLOT.sub(pick, template)

    def clean(self, text: str, allowed: str = "") -> bool:
        lowered = text.lower()
        return not any(value in lowered and value != allowed for value in self.values)

    def user(self, language: str, topic: _Topic, size: int) -> tuple[list[str], str, list[str]]:
        """Chatter before the question, the question, details after it: about `size` characters in all."""
        rng, chat = self.rng, _CHATS[language]
        ask = self.fill(rng.choice(topic.asks), language, topic.vocab)
        notes = rng.sample(topic.notes, 3)
        asides = rng.sample(chat.distractors, rng.choice((0, 1, 1, 2))) + rng.sample(chat.context, rng.randint(1, 2))
        rng.shuffle(asides)
        before: list[str] = []
        after: list[str] = []
        length = len(ask)
        while length < size and (notes or asides):
            from_notes = bool(notes) and (rng.random() < 0.5 or not asides)
            sentence = self.fill((notes if from_notes else asides).pop(), language, topic.vocab)
            (after if from_notes else before).append(sentence)
            length += len(sentence) + 1
        return before, ask, after

    def user_filler(self, language: str, topic: _Topic, size: int) -> str:
        rng, chat = self.rng, _CHATS[language]
        before, ask, after = self.user(language, topic, size)
        parts = [rng.choice(chat.openers)] if rng.random() < 0.4 else []
        parts += [*before, ask, *after]
        if rng.random() < 0.35:
            parts.append(rng.choice(chat.closers))
        return " ".join(parts)

    def sentence(self, template: str, language: str, vocab: Vocab) -> str:
        """An assistant sentence, sometimes after a lead-in ("Generally, ...") or with a tail before its full stop
        (", at least in my experience.")."""
        rng, chat = self.rng, _CHATS[language]
        if (rng.random() < 0.15 and template[0] != "{" and template[1].islower()
                and not template.startswith(("I ", "I'm", "I'd", "Я "))):
            template = rng.choice(chat.leads) + template[0].lower() + template[1:]
        if rng.random() < 0.3 and template.endswith(".") and not template.endswith("..."):
            template = template[:-1] + rng.choice(chat.tails) + "."
        return self.fill(template, language, vocab)

    def assistant(self, language: str, topic: _Topic, size: int, ack: str = "") -> str:
        rng, chat = self.rng, _CHATS[language]
        says = rng.sample(topic.says, len(topic.says))
        advice = rng.sample(chat.advice, len(chat.advice))
        body: list[str] = []
        length = len(ack)
        while length < size and (says or advice):
            template = says.pop() if says and (rng.random() < 0.85 or not advice) else advice.pop()
            body.append(self.sentence(template, language, topic.vocab))
            length += len(body[-1]) + 1
        parts = [ack] if ack else []
        if rng.random() < 0.5:
            parts.append(rng.choice(chat.intros))
        if len(body) >= 3 and rng.random() < 0.25:
            numbered = "\n".join(f"{i}. {line}" for i, line in enumerate(body, 1))
            text = " ".join([*parts, rng.choice(chat.list_heads)]) + "\n" + numbered
        else:
            split = rng.randint(1, len(body))
            text = " ".join([*parts, *body[:split]])
            if body[split:]:
                text += "\n\n" + " ".join(body[split:])
        if rng.random() < 0.5:
            text += "\n\n" + rng.choice(chat.outros)
        return text

    def user_size(self, language: str) -> int:
        return self.target(language, 40 + int(110 * self.rng.random() ** 1.6))

    def assistant_size(self, language: str) -> int:
        return self.target(language, 60 + int(190 * self.rng.random()))

    def filler_pair(self, language: str) -> tuple[str, str, int]:
        """A question and its answer with no planted value in either, and their tokens."""
        for _ in range(_RETRIES):
            topic = self.rng.choice(_TOPICS[language])
            user = self.user_filler(language, topic, self.user_size(language))
            reply = self.assistant(language, topic, self.assistant_size(language))
            if self.clean(user) and self.clean(reply):
                return user, reply, self.count(user, language) + self.count(reply, language)
        raise RuntimeError("could not write filler free of planted values")

    def statement_pair(self, language: str, statement: str, value: str) -> tuple[str, str, int]:
        """A user message that states a fact (alone, or amid chatter and a question) and the assistant's reply,
        which acknowledges it without repeating the value."""
        rng, chat = self.rng, _CHATS[language]
        for _ in range(_RETRIES):
            ack = rng.choice(chat.acks)
            if rng.random() < 0.2:
                user = statement if rng.random() < 0.5 else f"{rng.choice(chat.openers)} {statement}"
                reply = f"{ack} {rng.choice(chat.offers)}" if rng.random() < 0.6 else ack
            else:
                topic = rng.choice(_TOPICS[language])
                before, ask, after = self.user(language, topic, self.user_size(language) - len(statement))
                if rng.random() < 0.5:
                    parts = [*before, statement, rng.choice(chat.returns), ask, *after]
                else:
                    parts = [*before, ask, *after, rng.choice(chat.segues), statement]
                user = " ".join(parts)
                reply = self.assistant(language, topic, self.assistant_size(language), ack)
            if self.clean(user, value.lower()) and self.clean(reply):
                return user, reply, self.count(user, language) + self.count(reply, language)
        raise RuntimeError("could not write a statement free of other planted values")


def synthetic_conversation(total_tokens: int, count_tokens: Callable[[str], int], facts: int = 36,
                           updated: int = 12, seed: int = 0) -> SyntheticConversation:
    """A chat of about `total_tokens` tokens (as `count_tokens` counts them; the result is within one message of
    it) with `facts` facts about the user planted in it, `updated` of which are later updated once or twice.

    Half the facts are English and half Russian. The first statement of each fact lies in the first 65% of the
    conversation, updates come later, and about a third of the updated facts get their last update in the final
    fifth. Raises ValueError when the request is impossible, including a `total_tokens` too small to hold the
    statements with at least as much filler around them.
    """
    if facts < 1 or facts > len(_KINDS):
        raise ValueError(f"facts must be between 1 and {len(_KINDS)} (one per subject), got {facts}")
    if updated < 0 or updated > facts:
        raise ValueError(f"updated must be between 0 and facts ({facts}), got {updated}")
    if total_tokens < 1:
        raise ValueError(f"total_tokens must be positive, got {total_tokens}")
    rng = random.Random(seed)
    plans = _plan(rng, facts, updated)
    writer = _Writer(rng, count_tokens, [value for plan in plans for value in plan.values])

    statements: list[tuple[float, int, str, str]] = []  # (share of the conversation, fact index, user, assistant)
    statement_tokens = 0
    for i, plan in enumerate(plans):
        for at, template, value in zip(plan.at, plan.templates, plan.values, strict=True):
            user, reply, tokens = writer.statement_pair(plan.language, template.replace("{v}", value), value)
            statements.append((at, i, user, reply))
            statement_tokens += tokens
    if total_tokens < 2 * statement_tokens:
        raise ValueError(f"total_tokens={total_tokens} is too small for {facts} facts with {updated} updated: their "
                         f"{len(statements)} statements alone take {statement_tokens} tokens, so ask for at least "
                         f"{2 * statement_tokens}")

    budget = total_tokens - statement_tokens
    pairs: list[tuple[str, str]] = []
    ends = [0]  # ends[k]: the tokens of the first k filler pairs
    language, run = rng.choice(("en", "ru")), rng.randint(2, 12)
    while ends[-1] < budget:
        if run == 0:
            language, run = ("ru" if language == "en" else "en"), rng.randint(2, 12)
        run -= 1
        user, reply, tokens = writer.filler_pair(language)
        pairs.append((user, reply))
        ends.append(ends[-1] + tokens)
    if ends[-1] - budget > budget - ends[-2]:  # stopping one pair short is closer to the budget
        pairs.pop()
        ends.pop()

    slots: list[list[tuple[float, int, str, str]]] = [[] for _ in range(len(pairs) + 1)]
    for statement in statements:
        slots[bisect_left(ends, statement[0] * ends[-1])].append(statement)
    messages: list[tuple[str, str]] = []
    positions: list[list[int]] = [[] for _ in plans]
    for k, slot in enumerate(slots):
        for _, i, user, reply in sorted(slot):
            positions[i].append(len(messages))
            messages += [("user", user), ("assistant", reply)]
        if k < len(pairs):
            messages += [("user", pairs[k][0]), ("assistant", pairs[k][1])]

    planted = [PlantedFact(key=plan.kind.key, language=plan.language,
                           question=(plan.kind.en if plan.language == "en" else plan.kind.ru).question,
                           answer=plan.values[-1], stale=tuple(plan.values[:-1]), positions=tuple(where))
               for plan, where in zip(plans, positions, strict=True)]
    return SyntheticConversation(messages=messages, facts=planted, tokens=ends[-1] + statement_tokens)
