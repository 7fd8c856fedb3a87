"""Text-to-SQL data: random schemas from everyday domains, random rows, and English or Russian questions with a
gold SQLite query that is executed to prove it runs and returns rows.

Each item draws a connected set of 1-6 tables from one domain (shop, school, library, hospital, company, music,
travel, sports), fills them with rows, then asks one question of a kind drawn from filters, comparisons,
ORDER BY + LIMIT, aggregates, GROUP BY / HAVING, 2- and 3-table joins, DISTINCT, LIKE, BETWEEN, subqueries and
date conditions. Every item carries the whole database as an SQL script (`db_sql`), so evaluation compares
result sets without any external file.

    moe data generate sql --n 3000 --seed 0 -o sql-train.jsonl
    moe data generate sql --n 500 --seed 1000 --format eval -o sql-eval.jsonl
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from moe_system.data.common import chat_example, collect, difficulty, item_id, ru_plural, stable_choice

TASK = "sql"

# ---------------------------------------------------------------------------------------------------- vocabulary

# Column words: en, en plural, ru nominative, genitive, instrumental, plural, genitive plural, gender (m/f/n), and
# optionally a suffix shared by every Russian form.
_COLUMN_WORDS_TEXT = """
id ID|IDs|номер|номера|номером|номера|номеров|m
full_name name|names|имя|имени|именем|имена|имён|n
name name|names|название|названия|названием|названия|названий|n
title title|titles|название|названия|названием|названия|названий|n
username username|usernames|логин|логина|логином|логины|логинов|m
flight_number number|numbers|номер|номера|номером|номера|номеров|m
email email|emails|email|email|email|email|email|m
city city|cities|город|города|городом|города|городов|m
country country|countries|страна|страны|страной|страны|стран|f
category category|categories|категория|категории|категорией|категории|категорий|f
price price|prices|цена|цены|ценой|цены|цен|f
stock stock quantity|stock quantities|остаток|остатка|остатком|остатки|остатков|m| на складе
rating rating|ratings|рейтинг|рейтинга|рейтингом|рейтинги|рейтингов|m
signup_date sign-up date|sign-up dates|дата|даты|датой|даты|дат|f| регистрации
order_date order date|order dates|дата|даты|датой|даты|дат|f| оформления
status status|statuses|статус|статуса|статусом|статусы|статусов|m
total total amount|total amounts|стоимость|стоимости|стоимостью|стоимости|стоимостей|f
quantity quantity|quantities|количество|количества|количеством|количества|количеств|n| товара
unit_price unit price|unit prices|цена за единицу|цены за единицу|ценой за единицу|цены за единицу|цен за единицу|f
review_date review date|review dates|дата|даты|датой|даты|дат|f| публикации
birth_date birth date|birth dates|дата рождения|даты рождения|датой рождения|даты рождения|дат рождения|f
enrollment_year enrollment year|enrollment years|год|года|годом|годы|годов|m| поступления
subject subject|subjects|предмет|предмета|предметом|предметы|предметов|m
salary salary|salaries|зарплата|зарплаты|зарплатой|зарплаты|зарплат|f
hire_date hire date|hire dates|дата найма|даты найма|датой найма|даты найма|дат найма|f
credits number of credits|numbers of credits|число|числа|числом|числа|чисел|n| кредитов
department department|departments|кафедра|кафедры|кафедрой|кафедры|кафедр|f
enroll_date enrollment date|enrollment dates|дата|даты|датой|даты|дат|f
grade grade|grades|оценка|оценки|оценкой|оценки|оценок|f
birth_year birth year|birth years|год рождения|года рождения|годом рождения|годы рождения|годов рождения|m
founded_year founding year|founding years|год|года|годом|годы|годов|m| основания
genre genre|genres|жанр|жанра|жанром|жанры|жанров|m
published_year publication year|publication years|год издания|года издания|годом издания|годы издания|годов издания|m
pages number of pages|numbers of pages|количество|количества|количеством|количества|количеств|n| страниц
join_date membership date|membership dates|дата|даты|датой|даты|дат|f| вступления
loan_date loan date|loan dates|дата|даты|датой|даты|дат|f
fine fine|fines|штраф|штрафа|штрафом|штрафы|штрафов|m
floor floor|floors|этаж|этажа|этажом|этажи|этажей|m
specialty specialty|specialties|специальность|специальности|специальностью|специальности|специальностей|f
blood_type blood type|blood types|группа крови|группы крови|группой крови|группы крови|групп крови|f
appointment_date appointment date|appointment dates|дата|даты|датой|даты|дат|f| проведения
fee fee|fees|стоимость|стоимости|стоимостью|стоимости|стоимостей|f
medicine medicine|medicines|лекарство|лекарства|лекарством|лекарства|лекарств|n
dosage_mg dosage in mg|dosages in mg|дозировка в мг|дозировки в мг|дозировкой в мг|дозировки в мг|дозировок в мг|f
days number of days|numbers of days|количество дней|количества дней|количеством дней|количества дней|количеств дней|n
budget budget|budgets|бюджет|бюджета|бюджетом|бюджеты|бюджетов|m
position position|positions|должность|должности|должностью|должности|должностей|f
age age|ages|возраст|возраста|возрастом|возрасты|возрастов|m
start_date start date|start dates|дата начала|даты начала|датой начала|даты начала|дат начала|f
hours number of hours|numbers of hours|количество|количества|количеством|количества|количеств|n| часов
role role|roles|роль|роли|ролью|роли|ролей|f
release_year release year|release years|год выпуска|года выпуска|годом выпуска|годы выпуска|годов выпуска|m
duration_sec duration in seconds|durations in seconds|время|времени|временем|времена|времён|n| звучания в секундах
plays number of plays|numbers of plays|количество|количества|количеством|количества|количеств|n| прослушиваний
created_at creation date|creation dates|дата создания|даты создания|датой создания|даты создания|дат создания|f
stars star rating|star ratings|количество звёзд|количества звёзд|количеством звёзд|количества звёзд|количеств звёзд|n
price_per_night price per night|prices per night|цена за ночь|цены за ночь|ценой за ночь|цены за ночь|цен за ночь|f
check_in check-in date|check-in dates|дата заезда|даты заезда|датой заезда|даты заезда|дат заезда|f
nights number of nights|numbers of nights|количество|количества|количеством|количества|количеств|n| ночей
total_price total price|total prices|стоимость|стоимости|стоимостью|стоимости|стоимостей|f
origin departure city|departure cities|город вылета|города вылета|городом вылета|города вылета|городов вылета|m
destination destination city|destination cities|город|города|городом|города|городов|m| назначения
departure_date departure date|departure dates|дата вылета|даты вылета|датой вылета|даты вылета|дат вылета|f
field_position position|positions|амплуа|амплуа|амплуа|амплуа|амплуа|n
goals number of goals|numbers of goals|количество|количества|количеством|количества|количеств|n| голов
match_date match date|match dates|дата|даты|датой|даты|дат|f| проведения
attendance attendance|attendances|посещаемость|посещаемости|посещаемостью|посещаемости|посещаемостей|f
opponent opponent|opponents|соперник|соперника|соперником|соперники|соперников|m
"""

# Tables per domain: name, words (en sg|en pl|ru sg|ru pl|ru sg gen|ru pl gen|ru pl acc|gender), label column,
# columns ("name:kind:args", the id comes first implicitly), row-count range. Parents come before children.
_DOMAINS_TEXT: dict[str, list[tuple[str, str, str, str, tuple[int, int]]]] = {
    "shop": [
        ("customers", "customer|customers|клиент|клиенты|клиента|клиентов|клиентов|m", "full_name",
         "full_name:person email:email city:city signup_date:date:2018:2024", (6, 14)),
        ("suppliers", "supplier|suppliers|поставщик|поставщики|поставщика|поставщиков|поставщиков|m", "name",
         "name:company country:country rating:num:1:5", (4, 9)),
        ("products", "product|products|товар|товары|товара|товаров|товары|m", "name",
         "name:product category:cat:product_category price:money:2:500 stock:qty:0:250 supplier_id:fk:suppliers",
         (6, 16)),
        ("orders", "order|orders|заказ|заказы|заказа|заказов|заказы|m", "id",
         "customer_id:fk:customers order_date:date:2021:2024 status:cat:order_status total:money:10:2000", (8, 24)),
        ("order_items", "order item|order items|позиция заказа|позиции заказов|позиции заказа|позиций заказов|"
         "позиции заказов|f", "id",
         "order_id:fk:orders product_id:fk:products quantity:qty:1:10 unit_price:money:2:500", (10, 30)),
        ("reviews", "review|reviews|отзыв|отзывы|отзыва|отзывов|отзывы|m", "id",
         "product_id:fk:products customer_id:fk:customers rating:num:1:5 review_date:date:2021:2024", (8, 20)),
    ],
    "school": [
        ("students", "student|students|студент|студенты|студента|студентов|студентов|m", "full_name",
         "full_name:person birth_date:date:1998:2006 city:city enrollment_year:year:2016:2024", (6, 16)),
        ("teachers", "teacher|teachers|преподаватель|преподаватели|преподавателя|преподавателей|преподавателей|m",
         "full_name", "full_name:person subject:cat:subject salary:money:2500:9000 hire_date:date:2005:2023", (4, 10)),
        ("courses", "course|courses|курс|курсы|курса|курсов|курсы|m", "title",
         "title:course teacher_id:fk:teachers credits:num:1:6 department:cat:school_department", (5, 12)),
        ("enrollments", "enrollment|enrollments|запись на курс|записи на курсы|записи на курс|записей на курсы|"
         "записи на курсы|f", "id",
         "student_id:fk:students course_id:fk:courses enroll_date:date:2021:2024 grade:num:40:100", (10, 30)),
    ],
    "library": [
        ("authors", "author|authors|автор|авторы|автора|авторов|авторов|m", "full_name",
         "full_name:person country:country birth_year:year:1900:1995", (5, 12)),
        ("publishers", "publisher|publishers|издательство|издательства|издательства|издательств|издательства|n",
         "name", "name:company city:city founded_year:year:1850:2015", (3, 8)),
        ("books", "book|books|книга|книги|книги|книг|книги|f", "title",
         "title:book author_id:fk:authors publisher_id:fk:publishers genre:cat:book_genre "
         "published_year:year:1950:2024 pages:num:80:900 price:money:5:60", (8, 20)),
        ("members", "member|members|читатель|читатели|читателя|читателей|читателей|m", "full_name",
         "full_name:person city:city join_date:date:2015:2024", (5, 14)),
        ("loans", "loan|loans|выдача|выдачи|выдачи|выдач|выдачи|f", "id",
         "book_id:fk:books member_id:fk:members loan_date:date:2022:2024 fine:money:0:15", (10, 28)),
    ],
    "hospital": [
        ("departments", "department|departments|отделение|отделения|отделения|отделений|отделения|n", "name",
         "name:pool:hospital_department floor:num:1:9", (3, 8)),
        ("doctors", "doctor|doctors|врач|врачи|врача|врачей|врачей|m", "full_name",
         "full_name:person specialty:cat:specialty department_id:fk:departments salary:money:4000:15000 "
         "hire_date:date:2000:2023", (5, 14)),
        ("patients", "patient|patients|пациент|пациенты|пациента|пациентов|пациентов|m", "full_name",
         "full_name:person birth_date:date:1940:2015 city:city blood_type:cat:blood_type", (6, 16)),
        ("appointments", "appointment|appointments|приём|приёмы|приёма|приёмов|приёмы|m", "id",
         "doctor_id:fk:doctors patient_id:fk:patients appointment_date:date:2022:2024 fee:money:30:300 "
         "status:cat:appointment_status", (10, 30)),
        ("prescriptions", "prescription|prescriptions|рецепт|рецепты|рецепта|рецептов|рецепты|m", "id",
         "appointment_id:fk:appointments medicine:cat:medicine dosage_mg:num:5:1000 days:num:3:30", (8, 24)),
    ],
    "company": [
        ("departments", "department|departments|отдел|отделы|отдела|отделов|отделы|m", "name",
         "name:pool:company_department city:city budget:money:50000:900000", (3, 8)),
        ("employees", "employee|employees|сотрудник|сотрудники|сотрудника|сотрудников|сотрудников|m", "full_name",
         "full_name:person department_id:fk:departments position:cat:position salary:money:2000:12000 "
         "hire_date:date:2010:2024 age:num:21:64", (8, 20)),
        ("projects", "project|projects|проект|проекты|проекта|проектов|проекты|m", "name",
         "name:project department_id:fk:departments budget:money:5000:500000 start_date:date:2019:2024 "
         "status:cat:project_status", (4, 12)),
        ("assignments", "assignment|assignments|назначение|назначения|назначения|назначений|назначения|n", "id",
         "employee_id:fk:employees project_id:fk:projects hours:qty:5:200 role:cat:project_role", (10, 28)),
    ],
    "music": [
        ("artists", "artist|artists|исполнитель|исполнители|исполнителя|исполнителей|исполнителей|m", "name",
         "name:band country:country genre:cat:music_genre founded_year:year:1960:2020", (4, 12)),
        ("albums", "album|albums|альбом|альбомы|альбома|альбомов|альбомы|m", "title",
         "title:album artist_id:fk:artists release_year:year:1970:2024 price:money:5:30", (6, 16)),
        ("tracks", "track|tracks|трек|треки|трека|треков|треки|m", "title",
         "title:track album_id:fk:albums duration_sec:num:120:420 plays:qty:100:500000", (10, 30)),
        ("users", "user|users|пользователь|пользователи|пользователя|пользователей|пользователей|m", "username",
         "username:username country:country signup_date:date:2016:2024", (5, 14)),
        ("playlists", "playlist|playlists|плейлист|плейлисты|плейлиста|плейлистов|плейлисты|m", "name",
         "name:playlist user_id:fk:users created_at:date:2018:2024", (5, 14)),
    ],
    "travel": [
        ("customers", "customer|customers|клиент|клиенты|клиента|клиентов|клиентов|m", "full_name",
         "full_name:person email:email country:country", (6, 14)),
        ("hotels", "hotel|hotels|отель|отели|отеля|отелей|отели|m", "name",
         "name:hotel city:city stars:num:1:5 price_per_night:money:30:400", (5, 12)),
        ("bookings", "booking|bookings|бронирование|бронирования|бронирования|бронирований|бронирования|n", "id",
         "customer_id:fk:customers hotel_id:fk:hotels check_in:date:2023:2024 nights:qty:1:14 "
         "total_price:money:60:4000 status:cat:booking_status", (10, 28)),
        ("airlines", "airline|airlines|авиакомпания|авиакомпании|авиакомпании|авиакомпаний|авиакомпании|f", "name",
         "name:pool:airline country:country", (3, 7)),
        ("flights", "flight|flights|рейс|рейсы|рейса|рейсов|рейсы|m", "flight_number",
         "flight_number:flight airline_id:fk:airlines origin:city destination:city departure_date:date:2023:2024 "
         "price:money:40:900", (8, 22)),
    ],
    "sports": [
        ("teams", "team|teams|команда|команды|команды|команд|команды|f", "name",
         "name:team city:city founded_year:year:1880:2010", (4, 10)),
        ("players", "player|players|игрок|игроки|игрока|игроков|игроков|m", "full_name",
         "full_name:person team_id:fk:teams field_position:cat:field_position age:num:18:38 goals:qty:0:40 "
         "salary:money:20000:900000", (8, 24)),
        ("matches", "match|matches|матч|матчи|матча|матчей|матчи|m", "id",
         "team_id:fk:teams opponent:cat:opponent match_date:date:2022:2024 goals:qty:0:6 "
         "attendance:qty:1000:60000", (8, 24)),
    ],
}

_POOLS: dict[str, tuple[str, ...]] = {
    "product_category": ("electronics", "books", "clothing", "toys", "sports", "home", "garden", "beauty"),
    "order_status": ("new", "paid", "shipped", "delivered", "cancelled"),
    "subject": ("Mathematics", "Physics", "Chemistry", "Biology", "History", "Literature", "Economics"),
    "school_department": ("Science", "Humanities", "Engineering", "Arts", "Business"),
    "book_genre": ("fantasy", "mystery", "romance", "science fiction", "history", "biography", "poetry"),
    "hospital_department": ("Cardiology", "Neurology", "Pediatrics", "Surgery", "Oncology", "Dermatology",
                            "Radiology", "Orthopedics", "Emergency"),
    "specialty": ("cardiologist", "neurologist", "pediatrician", "surgeon", "dermatologist", "therapist"),
    "blood_type": ("A+", "A-", "B+", "B-", "O+", "O-", "AB+"),
    "appointment_status": ("scheduled", "completed", "cancelled", "no-show"),
    "medicine": ("Ibuprofen", "Amoxicillin", "Paracetamol", "Metformin", "Lisinopril", "Omeprazole"),
    "company_department": ("Sales", "Marketing", "Finance", "HR", "IT", "Legal", "Support", "Research",
                           "Logistics", "Design"),
    "position": ("engineer", "analyst", "manager", "designer", "accountant", "developer", "intern"),
    "project_status": ("planned", "active", "on hold", "completed"),
    "project_role": ("lead", "developer", "tester", "analyst", "consultant"),
    "music_genre": ("rock", "pop", "jazz", "hip-hop", "classical", "electronic", "folk"),
    "booking_status": ("confirmed", "cancelled", "completed", "pending"),
    "airline": ("SkyJet", "AeroNova", "BlueWings", "Polar Air", "SunAir", "EuroFly", "Pacifica", "Nordic Air"),
    "field_position": ("goalkeeper", "defender", "midfielder", "forward"),
    "opponent": ("Rovers", "United", "Athletic", "City", "Wanderers", "Rangers", "Albion"),
    "email_domain": ("gmail.com", "yahoo.com", "outlook.com", "mail.ru", "yandex.ru", "example.com"),
}
_LOCAL_POOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "city": {
        "en": ("London", "Paris", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Warsaw", "Lisbon", "Dublin",
               "Oslo", "Boston", "Chicago", "Toronto", "Sydney", "Tokyo", "Seoul", "Amsterdam"),
        "ru": ("Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Самара", "Омск", "Пермь",
               "Воронеж", "Томск", "Тула", "Уфа", "Сочи", "Калуга", "Ярославль"),
    },
    "country": {
        "en": ("France", "Germany", "Spain", "Italy", "Japan", "Canada", "Brazil", "India", "Norway", "Poland",
               "Mexico", "Egypt", "USA", "UK", "Turkey"),
        "ru": ("Россия", "Франция", "Германия", "Италия", "Испания", "Япония", "Китай", "Канада", "Бразилия",
               "Индия", "Норвегия", "Польша", "Мексика", "Турция"),
    },
}
_EN_FIRST = ("Anna", "James", "Maria", "David", "Emma", "Oliver", "Sophia", "Liam", "Olivia", "Noah", "Grace",
             "Lucas", "Chloe", "Ethan", "Mia", "Daniel", "Ella", "Henry", "Lily", "Jack", "Zoe", "Samuel", "Ava")
_EN_LAST = ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas", "Roberts", "Walker",
            "Wright", "Green", "Hall", "Wood", "Clarke", "Lee", "Martin", "King", "Baker", "Turner", "Hill", "Cooper")
_RU_FIRST_M = ("Иван", "Алексей", "Дмитрий", "Сергей", "Андрей", "Михаил", "Павел", "Николай", "Егор", "Артём")
_RU_FIRST_F = ("Анна", "Мария", "Елена", "Ольга", "Наталья", "Ирина", "Татьяна", "Дарья", "Ксения", "Полина")
_RU_LAST = ("Иванов", "Петров", "Смирнов", "Кузнецов", "Соколов", "Попов", "Лебедев", "Козлов", "Новиков",
            "Морозов", "Волков", "Соловьёв", "Васильев", "Зайцев", "Павлов", "Семёнов", "Голубев", "Виноградов")
_ADJ = ("Red", "Classic", "Smart", "Mini", "Ultra", "Eco", "Wireless", "Compact", "Vintage", "Silver", "Urban",
        "Bright", "Cozy", "Nordic", "Solar", "Swift")
_THINGS = ("Lamp", "Kettle", "Backpack", "Headphones", "Chair", "Mug", "Speaker", "Watch", "Jacket", "Blender",
           "Notebook", "Umbrella", "Sneakers", "Camera", "Desk", "Bottle", "Keyboard", "Pillow", "Toaster")
_LIT_ADJ = ("Silent", "Last", "Hidden", "Golden", "Broken", "Distant", "Secret", "Winter", "Lost", "Endless",
            "Burning", "Quiet", "Wild", "Northern", "Crimson", "Paper")
_LIT_NOUN = ("River", "Garden", "Key", "Shadow", "Kingdom", "Letter", "Island", "Mirror", "Road", "Forest",
             "Storm", "Harbor", "Dream", "Tower", "Song", "Heart", "Lighthouse", "Echo")
_COMPANY_A = ("Northwind", "Acme", "Bluewave", "Greenfield", "Silverline", "Redstone", "Brightpath", "Oakridge",
              "Summit", "Ironbridge", "Maple", "Evergreen")
_COMPANY_B = ("Trading", "Supply", "Group", "Press", "Partners", "Goods", "Books", "Works", "House")
_CODENAMES = ("Falcon", "Atlas", "Orion", "Phoenix", "Apollo", "Nova", "Titan", "Aurora", "Mercury", "Zephyr",
              "Horizon", "Vega", "Cobalt", "Nimbus")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
_MONTHS_RU = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
              "ноября", "декабря")

_SQL_TYPES = {"id": "INTEGER", "fk": "INTEGER", "qty": "INTEGER", "num": "INTEGER", "year": "INTEGER",
              "money": "REAL"}
_NUMERIC = ("money", "qty", "num", "year")
_LABEL_KINDS = ("person", "company", "product", "book", "course", "band", "album", "track", "username", "flight",
                "playlist", "team", "hotel", "project", "pool")


@dataclass(frozen=True)
class _Words:
    """How a column is named in questions."""

    en: str
    en_pl: str
    ru: str
    ru_gen: str
    ru_ins: str
    ru_pl: str
    ru_gen_pl: str
    gender: str


@dataclass(frozen=True)
class _TableWords:
    """How a table is named in questions."""

    en_sg: str
    en_pl: str
    ru_sg: str
    ru_pl: str
    ru_sg_gen: str
    ru_pl_gen: str
    ru_pl_acc: str
    gender: str


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str  # id, fk, cat, money, qty (summable int), num (int), year, date, email, or a label kind
    args: tuple[str, ...] = ()

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES.get(self.kind, "TEXT")


@dataclass(frozen=True)
class _TableDef:
    name: str
    words: _TableWords
    label: str
    columns: tuple[_Column, ...]
    rows: tuple[int, int]


def _parse_column(spec: str) -> _Column:
    name, kind, *args = spec.split(":")
    if kind in ("city", "country"):  # shorthand for a localized categorical column
        return _Column(name, "cat", (kind,))
    return _Column(name, kind, tuple(args))


def _parse_words(spec: str) -> _Words:
    parts = spec.split("|")
    suffix = parts[8] if len(parts) > 8 else ""
    return _Words(parts[0], parts[1], *(form + suffix for form in parts[2:7]), parts[7])


_COLUMN_WORDS = {line.split(" ", 1)[0]: _parse_words(line.split(" ", 1)[1])
                 for line in _COLUMN_WORDS_TEXT.strip().splitlines()}
_DOMAINS = {
    domain: [
        _TableDef(name, _TableWords(*words.split("|")), label,
                  (_Column("id", "id"), *(_parse_column(spec) for spec in columns.split())), rows)
        for name, words, label, columns, rows in tables
    ]
    for domain, tables in _DOMAINS_TEXT.items()
}
_DOMAIN_NAMES = tuple(_DOMAINS)

# ------------------------------------------------------------------------------------------------ schema + rows


@dataclass
class _Table:
    """One table of a drawn schema: its definition, the columns kept, and its rows."""

    d: _TableDef
    columns: list[_Column]
    rows: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return self.d.name

    @property
    def label(self) -> str:
        return self.d.label

    def cols(self, *kinds: str) -> list[str]:
        return [c.name for c in self.columns if c.kind in kinds]

    def kind(self, column: str) -> str:
        return next(c.kind for c in self.columns if c.name == column)

    def values(self, column: str) -> list[Any]:
        return sorted({row[column] for row in self.rows})

    def fks(self) -> list[tuple[str, str]]:
        """(fk column, parent table name) pairs."""
        return [(c.name, c.args[0]) for c in self.columns if c.kind == "fk"]


@dataclass
class _Schema:
    tables: list[_Table]

    def table(self, name: str) -> _Table:
        return next(t for t in self.tables if t.name == name)

    def links(self) -> list[tuple[_Table, str, _Table]]:
        """(child, fk column, parent) for every foreign key."""
        return [(t, fk, self.table(parent)) for t in self.tables for fk, parent in t.fks()]


def _draw_schema(rng: random.Random, locale: str) -> _Schema:
    """A connected set of 1-6 tables from one domain, with some optional columns dropped, and rows."""
    defs = _DOMAINS[rng.choice(_DOMAIN_NAMES)]
    size = rng.choices((1, 2, 3, 4, 5, 6), weights=(2, 3, 3, 2, 1, 1))[0]
    edges = {(d.name, c.args[0]) for d in defs for c in d.columns if c.kind == "fk"}
    chosen = [rng.choice(defs).name]
    while len(chosen) < size:
        near = sorted(({b for a, b in edges if a in chosen} | {a for a, b in edges if b in chosen}) - set(chosen))
        if not near:
            break
        chosen.append(rng.choice(near))
    tables: list[_Table] = []
    counts: dict[str, int] = {}
    for d in defs:  # definition order puts parents first
        if d.name not in chosen:
            continue
        columns = [c for c in d.columns if c.kind != "fk" or c.args[0] in chosen]
        optional = [c for c in columns if c.kind not in ("id", "fk") and c.name != d.label]
        if len(optional) > 2 and rng.random() < 0.3:
            columns.remove(rng.choice(optional))
        rows = _fill(rng, d, columns, locale, counts)
        counts[d.name] = len(rows)
        tables.append(_Table(d, columns, rows))
    return _Schema(tables)


def _fill(rng: random.Random, d: _TableDef, columns: list[_Column], locale: str, counts: dict[str, int]
          ) -> list[dict[str, Any]]:
    label = next(c for c in columns if c.name == d.label)
    wanted = rng.randint(*d.rows)
    if label.kind == "id":
        labels: list[Any] = list(range(1, wanted + 1))
    elif label.kind == "pool":
        pool = _POOLS[label.args[0]]
        labels = rng.sample(pool, min(wanted, len(pool)))
    else:
        seen: dict[str, None] = {}
        for _ in range(wanted * 4):
            seen.setdefault(_label(rng, label.kind, locale))
            if len(seen) == wanted:
                break
        labels = list(seen)
    rows = []
    for i, value in enumerate(labels, 1):
        row: dict[str, Any] = {"id": i, label.name: value}
        for c in columns:
            if c.name not in row:
                row[c.name] = _value(rng, c, locale, row, counts)
        rows.append(row)
    return rows


def _person(rng: random.Random, locale: str) -> str:
    if locale == "ru":
        if rng.random() < 0.5:
            return f"{rng.choice(_RU_FIRST_M)} {rng.choice(_RU_LAST)}"
        return f"{rng.choice(_RU_FIRST_F)} {rng.choice(_RU_LAST)}а"
    return f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_LAST)}"


def _label(rng: random.Random, kind: str, locale: str) -> str:
    adj, noun = rng.choice(_LIT_ADJ), rng.choice(_LIT_NOUN)
    makers: dict[str, Callable[[], str]] = {
        "person": lambda: _person(rng, locale),
        "company": lambda: f"{rng.choice(_COMPANY_A)} {rng.choice(_COMPANY_B)}",
        "product": lambda: f"{rng.choice(_ADJ)} {rng.choice(_THINGS)}",
        "book": lambda: rng.choice((f"The {adj} {noun}", f"{noun} of the {adj} {rng.choice(_LIT_NOUN)}",
                                    f"A {adj} {noun}")),
        "course": lambda: f"{rng.choice(('Intro to', 'Advanced', 'Applied', 'Modern'))} "
                          f"{rng.choice(_POOLS['subject'])}",
        "band": lambda: rng.choice((f"The {adj} {noun}s", f"{adj} {noun}", f"{noun} Club")),
        "album": lambda: rng.choice((f"{adj} {noun}", f"The {noun}", f"{noun} Nights")),
        "track": lambda: rng.choice((f"{adj} {noun}", f"My {noun}", f"{noun} Song", f"{adj} Love")),
        "username": lambda: f"{rng.choice(_EN_FIRST).lower()}{rng.randint(1, 999)}",
        "flight": lambda: f"{rng.choice(('SU', 'LH', 'AF', 'BA', 'TK', 'KL', 'AZ'))}{rng.randint(100, 9999)}",
        "playlist": lambda: f"{rng.choice(('Morning', 'Evening', 'Road Trip', 'Workout', 'Chill', 'Focus', 'Party'))}"
                            f" {rng.choice(('Mix', 'Vibes', 'Hits', 'Favorites', 'Tunes'))}",
        "team": lambda: f"{rng.choice(_LOCAL_POOLS['city']['en'])} "
                        f"{rng.choice(('Lions', 'Eagles', 'Sharks', 'Wolves', 'Bears', 'Falcons', 'Tigers'))}",
        "hotel": lambda: f"{rng.choice(('Grand', 'Royal', 'Park', 'Seaside', 'Central', 'Riverside', 'Garden'))} "
                         f"{rng.choice(('Hotel', 'Inn', 'Resort', 'Suites', 'Lodge'))}",
        "project": lambda: rng.choice((f"Project {rng.choice(_CODENAMES)}",
                                       f"{rng.choice(_CODENAMES)} {rng.choice(('Migration', 'Portal', 'Platform'))}")),
    }
    return makers[kind]()


def _value(rng: random.Random, c: _Column, locale: str, row: dict[str, Any], counts: dict[str, int]) -> Any:
    if c.kind == "fk":
        return rng.randint(1, counts[c.args[0]])
    if c.kind in ("qty", "num", "year"):
        return rng.randint(int(c.args[0]), int(c.args[1]))
    if c.kind == "money":
        lo, hi = int(c.args[0]), int(c.args[1])
        if hi <= 1000:
            return rng.randint(lo * 100, hi * 100) / 100
        step = 10 if hi <= 20000 else 1000
        return float(rng.randrange(lo, hi + 1, step))
    if c.kind == "date":
        start = date(int(c.args[0]), 1, 1)
        return (start + timedelta(days=rng.randrange((date(int(c.args[1]), 12, 31) - start).days))).isoformat()
    if c.kind == "cat":
        pool = c.args[0]
        return rng.choice(_LOCAL_POOLS[pool][locale] if pool in _LOCAL_POOLS else _POOLS[pool])
    if c.kind == "email":
        person = row.get("full_name")
        if locale == "en" and isinstance(person, str):
            handle = person.lower().replace(" ", rng.choice((".", "_", "")))
        else:
            handle = f"{rng.choice(_EN_FIRST).lower()}{rng.randint(1, 99)}"
        return f"{handle}@{rng.choice(_POOLS['email_domain'])}"
    raise ValueError(f"no value generator for column kind {c.kind!r}")


def _lit(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _create(t: _Table) -> str:
    lines = []
    for c in t.columns:
        if c.kind == "id":
            lines.append(f"  {c.name} INTEGER PRIMARY KEY")
        elif c.kind == "fk":
            lines.append(f"  {c.name} INTEGER NOT NULL REFERENCES {c.args[0]}(id)")
        else:
            lines.append(f"  {c.name} {c.sql_type} NOT NULL")
    return f"CREATE TABLE {t.name} (\n" + ",\n".join(lines) + "\n);"


def _db_sql(s: _Schema) -> str:
    parts = [_create(t) for t in s.tables]
    for t in s.tables:
        names = [c.name for c in t.columns]
        values = ",\n".join("  (" + ", ".join(_lit(row[n]) for n in names) + ")" for row in t.rows)
        parts.append(f"INSERT INTO {t.name} ({', '.join(names)}) VALUES\n{values};")
    return "\n".join(parts) + "\n"


def _schema_text(s: _Schema, style: str) -> str:
    if style == "create":
        return "\n".join(_create(t) for t in s.tables)
    return "\n".join(f"{t.name}({', '.join(c.name for c in t.columns)})" for t in s.tables)


def run_query(db_sql: str, query: str) -> list[tuple[Any, ...]]:
    """Build an in-memory SQLite database from `db_sql` and return all rows of `query`."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(db_sql)
        return conn.execute(query).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------- wording


def _with(word: str) -> str:
    """Russian "с"/"со" before an instrumental phrase."""
    clash = word[:1] in "сзшжщСЗШЖЩ" and word[1:2] not in "аеёиоуыэюя"
    return ("со " if clash else "с ") + word


def _a(phrase: str) -> str:
    """English indefinite article + phrase."""
    return ("an " if phrase[0] in "aeioAEIO" or phrase.startswith("ID") else "a ") + phrase


def _by_gender(gender: str, m: str, f: str, n: str) -> str:
    return {"m": m, "f": f, "n": n}[gender]


def _table_words(t: _Table, p: str) -> dict[str, str]:
    w = t.d.words
    animate = w.ru_pl_acc == w.ru_pl_gen != w.ru_pl
    return {
        p: t.name, f"{p}_sg": w.en_sg, f"{p}_pl": w.en_pl, f"{p}_a": _a(w.en_sg),
        f"{p}_r1": w.ru_sg, f"{p}_r1g": w.ru_sg_gen, f"{p}_r": w.ru_pl, f"{p}_rg": w.ru_pl_gen,
        f"{p}_all": ("всех " if animate else "все ") + w.ru_pl_acc,
        f"{p}_one": _by_gender(w.gender, "один", "одна", "одно"),
        f"{p}_each": _by_gender(w.gender, "каждого ", "каждой ", "каждого ") + w.ru_sg_gen,
        f"{p}_which": _by_gender(w.gender, "какого ", "какой ", "какого ") + w.ru_sg_gen,
        f"{p}_who": _by_gender(w.gender, "у которого", "у которой", "у которого"),
    }


def _accusative(phrase: str, gender: str) -> str:
    """Russian accusative of a singular inanimate noun phrase: only feminine -а/-я nouns change."""
    head, _, rest = phrase.partition(" ")
    if gender == "f" and head[-1] in "ая":
        head = head[:-1] + ("у" if head[-1] == "а" else "ю")
    return f"{head} {rest}".strip()


def _column_words(column: str, p: str) -> dict[str, str]:
    w = _COLUMN_WORDS[column]
    g = w.gender
    return {
        p: column, f"{p}_en": w.en, f"{p}_pl": w.en_pl, f"{p}_a": _a(w.en), f"{p}_r": w.ru, f"{p}_rg": w.ru_gen,
        f"{p}_ra": _accusative(w.ru, g),
        f"{p}_with": _with(w.ru_ins), f"{p}_rpl": w.ru_pl, f"{p}_rgpl": w.ru_gen_pl,
        f"{p}_what": _by_gender(g, "Каков", "Какова", "Каково"), f"{p}_eq": _by_gender(g, "равен", "равна", "равно"),
        f"{p}_each": _by_gender(g, "каждого ", "каждой ", "каждого ") + w.ru_gen,
        f"{p}_most": _by_gender(g, "наибольший", "наибольшая", "наибольшее"),
        f"{p}_least": _by_gender(g, "наименьший", "наименьшая", "наименьшее"),
        f"{p}_with_most": _with(_by_gender(g, "наибольшим ", "наибольшей ", "наибольшим ") + w.ru_ins),
        f"{p}_with_least": _with(_by_gender(g, "наименьшим ", "наименьшей ", "наименьшим ") + w.ru_ins),
    }


def _ctx(**parts: _Table | str) -> dict[str, str]:
    """Template fields for tables (`_Table`) and columns (names) under the given prefixes."""
    out: dict[str, str] = {}
    for p, x in parts.items():
        out |= _table_words(x, p) if isinstance(x, _Table) else _column_words(x, p)
    return out


_AGG_EN = {"AVG": "average", "MAX": "maximum", "MIN": "minimum", "SUM": "total"}
_AGG_RU = {"AVG": ("средний", "средняя", "среднее"), "MAX": ("максимальный", "максимальная", "максимальное"),
           "MIN": ("минимальный", "минимальная", "минимальное"), "SUM": ("суммарный", "суммарная", "суммарное")}


def _agg_words(fn: str, column: str, p: str) -> dict[str, str]:
    return {f"{p}_fn": _AGG_EN[fn], f"{p}_fn_r": _by_gender(_COLUMN_WORDS[column].gender, *_AGG_RU[fn]),
            f"{p}_fn_n": _AGG_RU[fn][2]}


_OPS_EN = {">": ("greater than", "more than", "above", "over"), "<": ("less than", "below", "under"),
           ">=": ("at least", "no less than"), "<=": ("at most", "no more than")}
_OPS_RU = {">": ("больше", "выше", "более"), "<": ("меньше", "ниже", "менее"), ">=": ("не меньше", "не ниже"),
           "<=": ("не больше", "не выше")}


def _op(rng: random.Random, lang: str, op: str) -> str:
    return rng.choice((_OPS_EN if lang == "en" else _OPS_RU)[op])


def _say(rng: random.Random, lang: str, en: tuple[str, ...], ru: tuple[str, ...], ctx: dict[str, Any]) -> str:
    return rng.choice(en if lang == "en" else ru).format(**ctx)


def _nice(value: float) -> int:
    """Round a data value to a number a person would type (2 significant digits above 100, years kept)."""
    if abs(value) < 100 or (1800 <= value <= 2100 and value == int(value)):
        return round(value)
    magnitude = 10 ** (len(str(int(abs(value)))) - 2)
    return int(round(value / magnitude) * magnitude)


def _threshold(rng: random.Random, values: list[Any]) -> int:
    ordered = sorted(values)
    return _nice(ordered[rng.randint(len(ordered) // 5, max(len(ordered) // 5, (4 * len(ordered)) // 5 - 1))])


def _say_dates(rng: random.Random, lang: str, *isos: str) -> list[str]:
    """ISO dates as a person writes them: all ISO, or all in words."""
    if rng.random() < 0.5:
        return list(isos)
    days = [date.fromisoformat(iso) for iso in isos]
    if lang == "en":
        return [f"{_MONTHS_EN[d.month - 1]} {d.day}, {d.year}" for d in days]
    return [f"{d.day} {_MONTHS_RU[d.month - 1]} {d.year} года" for d in days]


# ------------------------------------------------------------------------------------------------ question kinds


@dataclass(frozen=True)
class _Draft:
    question: str
    sql: str
    level: float


def _pick(rng: random.Random, s: _Schema, *kinds: str, distinct: int = 1) -> tuple[_Table, str] | None:
    """A random (table, column) whose column kind is one of `kinds` with at least `distinct` distinct values."""
    found = [(t, c) for t in s.tables for c in t.cols(*kinds) if len(t.values(c)) >= distinct]
    return rng.choice(found) if found else None


def _k_filter_eq(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, "cat")
    if not found:
        return None
    t, c = found
    ctx = _ctx(t=t, c=c, l=t.label) | {"v": rng.choice(t.values(c))}
    where = f"WHERE {c} = {_lit(ctx['v'])}"
    if rng.random() < 0.2:
        q = _say(rng, lang, ("Show all columns for {t_pl} whose {c_en} is '{v}'.",
                             "Get every row of {t} where {c} = '{v}'."),
                 ("Выведите все данные {t_rg}, у которых {c_r} — «{v}».",
                  "Выберите из таблицы {t} все строки, где {c} = '{v}'."), ctx)
        return _Draft(q, f"SELECT * FROM {t.name} {where};", 0.1)
    q = _say(rng, lang, ("List the {l_pl} of all {t_pl} whose {c_en} is '{v}'.",
                         "Which {t_pl} have {c_en} '{v}'? Give their {l_pl}.",
                         "Show the {l_pl} of {t_pl} with {c_en} = '{v}'.",
                         "From the {t} table, get the {l_pl} of rows where {c} is '{v}'.",
                         "I need the {l_pl} of every {t_sg} whose {c_en} is {v}."),
             ("Выведите {l_rpl} {t_rg}, у которых {c_r} — «{v}».",
              "Покажи {l_rpl} всех {t_rg} {c_with} «{v}».",
              "Найдите {t_all}, у которых {c_r} {c_eq} «{v}», и выведите их {l_rpl}.",
              "Из таблицы {t} выберите {l_rpl} записей, где {c} = '{v}'.",
              "Какие {l_rpl} у {t_rg} {c_with} «{v}»?"), ctx)
    return _Draft(q, f"SELECT {t.label} FROM {t.name} {where};", 0.1)


def _k_compare(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, *_NUMERIC, distinct=3)
    if not found:
        return None
    t, c = found
    op = rng.choice((">", "<", ">=", "<="))
    ctx = _ctx(t=t, c=c, l=t.label) | {"x": _threshold(rng, t.values(c)), "op": _op(rng, lang, op), "sym": op}
    where = f"WHERE {c} {op} {ctx['x']}"
    form = rng.randrange(3)
    if form == 0:
        q = _say(rng, lang, ("List the {l_pl} of {t_pl} with {c_en} {op} {x}.",
                             "Which {t_pl} have {c_en} {op} {x}?",
                             "Find the {l_pl} of all {t_pl} whose {c_en} is {op} {x}."),
                 ("Выведите {l_rpl} {t_rg}, у которых {c_r} {op} {x}.",
                  "У каких {t_rg} {c_r} {op} {x}? Нужны {l_rpl}.",
                  "Найдите {l_rpl} {t_rg} {c_with} {op} {x}."), ctx)
        return _Draft(q, f"SELECT {t.label} FROM {t.name} {where};", 0.15)
    if form == 1:
        q = _say(rng, lang, ("Show the {l_en} and {c_en} of every {t_sg} whose {c_en} is {op} {x}.",
                             "List {t_pl} with {c_en} {op} {x}, showing the {l_en} and the {c_en}."),
                 ("Покажите {l_rpl} и {c_rpl} {t_rg} {c_with} {op} {x}.",
                  "Выведите {l_ra} и {c_ra} для {t_rg}, у которых {c_r} {op} {x}."), ctx)
        return _Draft(q, f"SELECT {t.label}, {c} FROM {t.name} {where};", 0.15)
    q = _say(rng, lang, ("Find all {t_pl} where {c} {sym} {x}.", "Select every row from {t} with {c} {sym} {x}."),
             ("Найдите {t_all} {c_with} {op} {x}.", "Выберите все строки из {t}, где {c} {sym} {x}."), ctx)
    return _Draft(q, f"SELECT * FROM {t.name} {where};", 0.15)


def _k_filter_and(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = [(t, c, n) for t in s.tables for c in t.cols("cat") for n in t.cols("money", "qty", "num")]
    if not found:
        return None
    t, c, n = rng.choice(found)
    v = rng.choice(t.values(c))
    numbers = [row[n] for row in t.rows if row[c] == v]
    op = rng.choice((">", "<"))
    ctx = _ctx(t=t, c=c, n=n, l=t.label) | {"v": v, "x": _threshold(rng, numbers), "op": _op(rng, lang, op)}
    order = rng.random() < 0.4
    q = _say(rng, lang, ("List the {l_pl} of {t_pl} with {c_en} '{v}' and {n_en} {op} {x}.",
                         "Which {t_pl} have {c_en} '{v}' and {n_a} {op} {x}?",
                         "Show {t_pl} whose {c_en} is '{v}' and whose {n_en} is {op} {x}; I only need the {l_pl}."),
             ("Выведите {l_rpl} {t_rg} {c_with} «{v}» и {n_with} {op} {x}.",
              "У каких {t_rg} {c_r} — «{v}», а {n_r} {op} {x}?",
              "Найдите {t_all}, у которых {c_r} «{v}» и {n_r} {op} {x}; выведите {l_rpl}."), ctx)
    sql = f"SELECT {t.label} FROM {t.name} WHERE {c} = {_lit(v)} AND {n} {op} {ctx['x']}"
    if order:
        direction = rng.choice(("ASC", "DESC"))
        q += _say(rng, lang, (f" Sort them by {{n_en}} {'ascending' if direction == 'ASC' else 'descending'}.",),
                  (f" Отсортируйте по {'возрастанию' if direction == 'ASC' else 'убыванию'} {{n_rg}}.",), ctx)
        sql += f" ORDER BY {n} {direction}"
    return _Draft(q, sql + ";", 0.25)


def _k_between(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, *_NUMERIC, distinct=4)
    if not found:
        return None
    t, c = found
    lo, hi = sorted((_threshold(rng, t.values(c)), _threshold(rng, t.values(c))))
    if lo == hi:
        return None
    ctx = _ctx(t=t, c=c, l=t.label) | {"a": lo, "b": hi}
    q = _say(rng, lang, ("Which {t_pl} have {c_en} between {a} and {b}? Show the {l_en} and the {c_en}.",
                         "List {t_pl} whose {c_en} is between {a} and {b} inclusive, with their {c_pl}.",
                         "Show the {l_pl} and {c_pl} of {t_pl} with {c_en} from {a} to {b}."),
             ("У каких {t_rg} {c_r} находится в диапазоне от {a} до {b}? Выведите {l_ra} и {c_ra}.",
              "Выведите {l_rpl} и {c_rpl} {t_rg}, у которых {c_r} от {a} до {b} включительно.",
              "Найдите {t_all} {c_with} между {a} и {b}; покажите {l_ra} и {c_ra}."), ctx)
    return _Draft(q, f"SELECT {t.label}, {c} FROM {t.name} WHERE {c} BETWEEN {lo} AND {hi};", 0.2)


def _k_like(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = [(t, c) for t in s.tables for c in t.cols(*_LABEL_KINDS, "email")]
    if not found:
        return None
    t, c = rng.choice(found)
    sample = str(rng.choice(t.values(c)))
    if t.kind(c) == "email":
        mode, part = "end", sample[sample.index("@"):]
    else:
        mode = rng.choice(("start", "start", "contain", "end"))
        word = rng.choice(sample.split())
        part = {"start": sample[:rng.randint(1, 2)], "contain": word[1:4] if len(word) > 3 else word,
                "end": sample[-rng.randint(2, 3):]}[mode]
    pattern = {"start": f"{part}%", "contain": f"%{part}%", "end": f"%{part}"}[mode]
    ctx = _ctx(t=t, c=c, l=t.label) | {"p": part, "how": {"start": "starts with", "contain": "contains",
                                                          "end": "ends with"}[mode],
                                       "how_r": {"start": "начинается на", "contain": "содержит",
                                                 "end": "заканчивается на"}[mode]}
    where = f"WHERE {c} LIKE {_lit(pattern)}"
    if t.label != c and rng.random() < 0.5:
        q = _say(rng, lang, ("Find {t_pl} whose {c_en} {how} '{p}'. Show the {l_en} and the {c_en}.",
                             "Which {t_pl} have {c_a} that {how} \"{p}\"? Return {l} and {c}."),
                 ("Найдите {t_all}, у которых {c_r} {how_r} «{p}», и выведите {l_ra} и {c_ra}.",
                  "У каких {t_rg} {c_r} {how_r} «{p}»? Верните {l} и {c}."), ctx)
        return _Draft(q, f"SELECT {t.label}, {c} FROM {t.name} {where};", 0.2)
    q = _say(rng, lang, ("List the {c_pl} of {t_pl} where the {c_en} {how} '{p}'.",
                         "Which {c_pl} in the {t} table {how_pl} \"{p}\"?",
                         "Show every {c} from {t} that {how} '{p}'."),
             ("Выведите {c_rpl} {t_rg}, где {c_r} {how_r} «{p}».",
              "Какие значения {c} в таблице {t} {how_r_pl} «{p}»?",
              "Найдите все {c_rpl} {t_rg}, которые {how_r_pl} «{p}»."), ctx | {
                  "how_pl": {"start": "start with", "contain": "contain", "end": "end with"}[mode],
                  "how_r_pl": {"start": "начинаются на", "contain": "содержат", "end": "заканчиваются на"}[mode]})
    return _Draft(q, f"SELECT {c} FROM {t.name} {where};", 0.2)


def _k_distinct(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, "cat", distinct=2)
    if not found:
        return None
    t, c = found
    ctx = _ctx(t=t, c=c)
    q = _say(rng, lang, ("Which different {c_pl} appear in the {t} table?", "List all distinct {c_pl} of {t_pl}.",
                         "What {c_pl} do {t_pl} have? Show each value once.", "Show the unique {c_pl} among {t_pl}."),
             ("Какие различные {c_rpl} встречаются в таблице {t}?", "Выведите все уникальные {c_rpl} {t_rg}.",
              "Перечислите {c_rpl} {t_rg} без повторов.", "Какие {c_rpl} есть у {t_rg}? Каждое значение один раз."),
             ctx)
    sql = f"SELECT DISTINCT {c} FROM {t.name}"
    if rng.random() < 0.3:
        q += " Sort them alphabetically." if lang == "en" else " Отсортируйте по алфавиту."
        sql += f" ORDER BY {c}"
    return _Draft(q, sql + ";", 0.15)


def _k_count(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    t = rng.choice(s.tables)
    ctx = _ctx(t=t)
    form = rng.randrange(4)
    cats, numbers = t.cols("cat"), [c for c in t.cols(*_NUMERIC) if len(t.values(c)) >= 3]
    if form == 1 and cats:
        c = rng.choice(cats)
        ctx |= _ctx(c=c) | {"v": rng.choice(t.values(c))}
        q = _say(rng, lang, ("How many {t_pl} have {c_en} '{v}'?", "Count the {t_pl} whose {c_en} is '{v}'.",
                             "What is the number of {t_pl} with {c_en} = '{v}'?"),
                 ("Сколько {t_rg}, у которых {c_r} — «{v}»?", "Посчитайте количество {t_rg} {c_with} «{v}».",
                  "Какое количество {t_rg} имеет {c} = '{v}'?"), ctx)
        return _Draft(q, f"SELECT COUNT(*) FROM {t.name} WHERE {c} = {_lit(ctx['v'])};", 0.15)
    if form == 2 and numbers:
        c = rng.choice(numbers)
        op = rng.choice((">", "<", ">=", "<="))
        ctx |= _ctx(c=c) | {"x": _threshold(rng, t.values(c)), "op": _op(rng, lang, op)}
        q = _say(rng, lang, ("How many {t_pl} have {c_en} {op} {x}?", "Count the {t_pl} with {c_en} {op} {x}."),
                 ("Сколько {t_rg} {c_with} {op} {x}?", "У скольких {t_rg} {c_r} {op} {x}?"), ctx)
        return _Draft(q, f"SELECT COUNT(*) FROM {t.name} WHERE {c} {op} {ctx['x']};", 0.15)
    if form == 3 and cats:
        c = rng.choice(cats)
        ctx |= _ctx(c=c)
        q = _say(rng, lang, ("How many different {c_pl} are there among {t_pl}?",
                             "Count the distinct {c_pl} in the {t} table."),
                 ("Сколько различных {c_rgpl} встречается среди {t_rg}?",
                  "Посчитайте количество уникальных значений {c} в таблице {t}."), ctx)
        return _Draft(q, f"SELECT COUNT(DISTINCT {c}) FROM {t.name};", 0.2)
    q = _say(rng, lang, ("How many {t_pl} are there?", "Count the {t_pl}.", "What is the total number of {t_pl}?",
                         "How many rows does the {t} table have?"),
             ("Сколько всего {t_rg}?", "Посчитайте количество {t_rg}.", "Сколько записей в таблице {t}?"), ctx)
    return _Draft(q, f"SELECT COUNT(*) FROM {t.name};", 0.1)


def _agg_fn(rng: random.Random, t: _Table, c: str) -> str:
    kind = t.kind(c)
    options = {"money": ("AVG", "MAX", "MIN", "SUM"), "qty": ("AVG", "MAX", "MIN", "SUM"),
               "num": ("AVG", "MAX", "MIN"), "year": ("MAX", "MIN")}[kind]
    return rng.choice(options)


def _k_aggregate(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, *_NUMERIC, distinct=2)
    if not found:
        return None
    t, c = found
    fn = _agg_fn(rng, t, c)
    ctx = _ctx(t=t, c=c) | _agg_words(fn, c, "c")
    cats = t.cols("cat")
    if cats and rng.random() < 0.4:
        k = rng.choice(cats)
        ctx |= _ctx(k=k) | {"v": rng.choice(t.values(k))}
        q = _say(rng, lang, ("What is the {c_fn} {c_en} of {t_pl} whose {k_en} is '{v}'?",
                             "Calculate the {c_fn} {c_en} among {t_pl} with {k_en} '{v}'."),
                 ("Чему {c_eq} {c_fn_r} {c_r} {t_rg} {k_with} «{v}»?",
                  "Найдите {c_fn_n} значение {c_rg} среди {t_rg}, у которых {k_r} — «{v}»."), ctx)
        return _Draft(q, f"SELECT {fn}({c}) FROM {t.name} WHERE {k} = {_lit(ctx['v'])};", 0.25)
    q = _say(rng, lang, ("What is the {c_fn} {c_en} of {t_pl}?", "Find the {c_fn} {c_en} across all {t_pl}.",
                         "Give me the {c_fn} value of {c} in the {t} table."),
             ("{c_what} {c_fn_r} {c_r} {t_rg}?", "Найдите {c_fn_n} значение {c_rg} среди {t_rg}.",
              "Посчитайте {c_fn_n} значение столбца {c} в таблице {t}."), ctx)
    return _Draft(q, f"SELECT {fn}({c}) FROM {t.name};", 0.2)


def _k_order_limit(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, "money", "qty", "num", distinct=4)
    if not found:
        return None
    t, c = found
    k = rng.choice((1, 1, 2, 3, 3, 5))
    desc = rng.random() < 0.6
    values = sorted((row[c] for row in t.rows), reverse=desc)
    if len(values) <= k or values[k - 1] == values[k]:
        return None  # a tie at the cut would make the answer ambiguous
    direction = "DESC" if desc else "ASC"
    ctx = _ctx(t=t, c=c, l=t.label) | {"k": k, "hl": "highest" if desc else "lowest",
                                       "dir_r": "убыванию" if desc else "возрастанию",
                                       "k_rows": f"{k} {ru_plural(k, ('запись', 'записи', 'записей'))}"}
    ctx["most_r"] = ctx["c_most"] if desc else ctx["c_least"]
    ctx["with_most_r"] = ctx["c_with_most"] if desc else ctx["c_with_least"]
    if k == 1:
        q = _say(rng, lang, ("Which {t_sg} has the {hl} {c_en}?", "Find the {t_sg} with the {hl} {c_en}.",
                             "Show the {l_en} of the {t_sg} whose {c_en} is the {hl}."),
                 ("У {t_which} {most_r} {c_r}?", "Выведите {l_r} {t_r1g} {with_most_r}.",
                  "Найдите {l_r} {t_r1g}, {t_who} {c_r} {most_r}."), ctx)
        return _Draft(q, f"SELECT {t.label} FROM {t.name} ORDER BY {c} {direction} LIMIT 1;", 0.25)
    q = _say(rng, lang, ("Show the {k} {t_pl} with the {hl} {c_en}.", "List the top {k} {t_pl} by {c_en} ({hl} first).",
                         "Which {k} {t_pl} have the {hl} {c_en}? Show their {l_pl} and {c_pl}."),
             ("Покажите {l_rpl} и {c_rpl} {k} {t_rg} {with_most_r}.",
              "Выведите топ-{k} {t_rg} по {dir_r} {c_rg}: {l} и {c}.",
              "Выведите первые {k_rows} из таблицы {t} при сортировке по {dir_r} {c}; покажите {l} и {c}."), ctx)
    return _Draft(q, f"SELECT {t.label}, {c} FROM {t.name} ORDER BY {c} {direction} LIMIT {k};", 0.3)


def _k_date(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, "date", distinct=3)
    if not found:
        return None
    t, c = found
    values = t.values(c)
    ctx = _ctx(t=t, c=c, l=t.label)
    form = rng.randrange(4)
    if form == 0:
        pivot = values[rng.randint(1, len(values) - 2)]
        after = rng.random() < 0.5
        ctx["d"] = _say_dates(rng, lang, pivot)[0]
        if after:
            q = _say(rng, lang, ("List the {t_pl} with {c_en} after {d}; show the {l_en} and the {c_en}.",
                                 "Which {t_pl} have {c_a} later than {d}? Give {l} and {c}."),
                     ("Выведите {l_rpl} и {c_rpl} {t_rg}, у которых {c_r} позже {d}.",
                      "У каких {t_rg} {c_r} после {d}? Покажите {l} и {c}."), ctx)
        else:
            q = _say(rng, lang, ("List the {t_pl} with {c_en} before {d}; show the {l_en} and the {c_en}.",
                                 "Which {t_pl} have {c_a} earlier than {d}? Give {l} and {c}."),
                     ("Выведите {l_rpl} и {c_rpl} {t_rg}, у которых {c_r} раньше {d}.",
                      "У каких {t_rg} {c_r} до {d}? Покажите {l} и {c}."), ctx)
        op = ">" if after else "<"
        return _Draft(q, f"SELECT {t.label}, {c} FROM {t.name} WHERE {c} {op} {_lit(pivot)};", 0.25)
    if form == 1:
        year = rng.choice(sorted({v[:4] for v in values}))
        ctx |= {"y": year}
        q = _say(rng, lang, ("Show the {l_pl} of {t_pl} whose {c_en} falls in {y}.",
                             "Which {t_pl} have {c_a} in the year {y}? List their {l_pl}."),
                 ("Найдите {t_all}, у которых {c_r} приходится на {y} год; выведите {l_rpl}.",
                  "Покажите {l_rpl} {t_rg} {c_with} в {y} году."), ctx)
        return _Draft(q, f"SELECT {t.label} FROM {t.name} WHERE strftime('%Y', {c}) = '{year}';", 0.3)
    if form == 2:
        lo, hi = sorted(rng.sample(values, 2))
        ctx["d1"], ctx["d2"] = _say_dates(rng, lang, lo, hi)
        q = _say(rng, lang, ("Find the {t_pl} with {c_en} between {d1} and {d2} (inclusive); show {l} and {c}.",
                             "Which {t_pl} have {c_a} from {d1} to {d2}? Show the {l_en} and the {c_en}."),
                 ("Найдите {t_all} {c_with} в период с {d1} по {d2} включительно; выведите {l} и {c}.",
                  "Выведите {l_rpl} и {c_rpl} {t_rg}, у которых {c_r} между {d1} и {d2}."), ctx)
        return _Draft(q, f"SELECT {t.label}, {c} FROM {t.name} WHERE {c} BETWEEN {_lit(lo)} AND {_lit(hi)};", 0.3)
    latest = rng.random() < 0.5
    ctx |= {"w": "most recent" if latest else "earliest", "w_r": "поздняя" if latest else "ранняя"}
    q = _say(rng, lang, ("What is the {w} {c_en} among {t_pl}?", "When is the {w} {c_en} in the {t} table?"),
             ("Какова самая {w_r} {c_r} среди {t_rg}?", "Какая {c_r} в таблице {t} самая {w_r}?"), ctx)
    return _Draft(q, f"SELECT {'MAX' if latest else 'MIN'}({c}) FROM {t.name};", 0.2)


def _k_group_count(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, "cat", distinct=2)
    if not found:
        return None
    t, c = found
    ctx = _ctx(t=t, c=c)
    q = _say(rng, lang, ("How many {t_pl} are there for each {c_en}?", "Count the {t_pl} per {c_en}.",
                         "For each {c_en}, show the number of {t_pl}.", "Show the number of {t_pl} in each {c_en}."),
             ("Посчитайте количество {t_rg} для {c_each}.", "Для {c_each} выведите количество {t_rg}.",
              "Сколько {t_rg} в разрезе {c_rgpl}?", "Сгруппируйте {t_all} по столбцу {c} и посчитайте их число."), ctx)
    sql = f"SELECT {c}, COUNT(*) FROM {t.name} GROUP BY {c}"
    if rng.random() < 0.3:
        q += " Put the largest groups first." if lang == "en" else " Сначала самые большие группы."
        sql += " ORDER BY COUNT(*) DESC"
    return _Draft(q, sql + ";", 0.35)


def _k_group_agg(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = [(t, c, n) for t in s.tables for c in t.cols("cat") if len(t.values(c)) >= 2
             for n in t.cols("money", "qty", "num")]
    if not found:
        return None
    t, c, n = rng.choice(found)
    fn = _agg_fn(rng, t, n)
    ctx = _ctx(t=t, c=c, n=n) | _agg_words(fn, n, "n")
    q = _say(rng, lang, ("What is the {n_fn} {n_en} of {t_pl} for each {c_en}?",
                         "Show the {n_fn} {n_en} of {t_pl} per {c_en}.",
                         "For every {c_en}, calculate the {n_fn} {n_en}."),
             ("{n_what} {n_fn_r} {n_r} {t_rg} для {c_each}?",
              "Для {c_each} посчитайте {n_fn_n} значение {n_rg}.",
              "Выведите {c_rpl} и {n_fn_n} значение {n_rg} {t_rg} по каждой группе."), ctx)
    return _Draft(q, f"SELECT {c}, {fn}({n}) FROM {t.name} GROUP BY {c};", 0.4)


def _k_having(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, "cat", distinct=2)
    if not found:
        return None
    t, c = found
    numbers = t.cols("money", "qty", "num")
    ctx = _ctx(t=t, c=c)
    if numbers and rng.random() < 0.4:
        n = rng.choice(numbers)
        fn = rng.choice(("AVG", "SUM")) if t.kind(n) != "num" else "AVG"
        groups: dict[Any, list[Any]] = defaultdict(list)
        for row in t.rows:
            groups[row[c]].append(row[n])
        stats = sorted(sum(v) / (len(v) if fn == "AVG" else 1) for v in groups.values())
        x = _nice(stats[rng.randrange(len(stats) - 1)])
        ctx |= _ctx(n=n) | _agg_words(fn, n, "n") | {"x": x}
        q = _say(rng, lang, ("For which {c_pl} is the {n_fn} {n_en} of {t_pl} above {x}?",
                             "List the {c_pl} where the {n_fn} {n_en} is greater than {x}."),
                 ("Для каких {c_rgpl} {n_fn_r} {n_r} {t_rg} превышает {x}?",
                  "Выведите {c_rpl}, у которых {n_fn_n} значение {n_rg} больше {x}."), ctx)
        return _Draft(q, f"SELECT {c} FROM {t.name} GROUP BY {c} HAVING {fn}({n}) > {x};", 0.45)
    counts = sorted(Counter(row[c] for row in t.rows).values())
    if counts[-1] < 2:
        return None
    k = rng.choice([v for v in counts if v < counts[-1]] or [1])
    ctx |= {"k": k, "k_t": f"{k} {ctx['t_pl']}" if k > 1 else f"one {ctx['t_sg']}",
            "k_t_r": f"{k} {ctx['t_r1g'] if ru_plural(k, ('1', '2', '5')) == '1' else ctx['t_rg']}"}
    having = f"GROUP BY {c} HAVING COUNT(*) > {k}"
    if rng.random() < 0.35:
        q = _say(rng, lang, ("Show each {c_en} that has more than {k_t}, with the count.",
                             "List the {c_pl} with more than {k_t} and how many {t_pl} each has."),
                 ("Покажите {c_rpl}, где {t_rg} больше {k}, вместе с их количеством.",
                  "Выведите {c_rpl}, у которых больше {k_t_r}, и число {t_rg} для каждой группы."), ctx)
        return _Draft(q, f"SELECT {c}, COUNT(*) FROM {t.name} {having};", 0.45)
    q = _say(rng, lang, ("Which {c_pl} have more than {k_t}?", "List the {c_pl} with more than {k_t}."),
             ("Для каких {c_rgpl} количество {t_rg} больше {k}?", "Выведите {c_rpl}, у которых больше {k_t_r}."),
             ctx)
    return _Draft(q, f"SELECT {c} FROM {t.name} {having};", 0.45)


_RESERVED = {"as", "at", "by", "do", "if", "in", "is", "no", "of", "on", "or", "to"}


def _alias(name: str, taken: set[str]) -> str:
    """A short table alias: the initials, else ever longer prefixes; never a keyword or one already taken."""
    initials = "".join(part[0] for part in name.split("_"))
    alias = next(a for a in (initials, *(name[:i] for i in range(1, len(name) + 1)))
                 if a not in taken and a not in _RESERVED)
    taken.add(alias)
    return alias


def _k_join_filter(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    taken: set[str] = set()
    a, b = _alias(child.name, taken), _alias(parent.name, taken)
    by_label = parent.label != "id" and (rng.random() < 0.4 or not parent.cols("cat"))
    if not by_label and not parent.cols("cat"):
        return None
    column = parent.label if by_label else rng.choice(parent.cols("cat"))
    used = {row[fk] for row in child.rows}
    v = rng.choice(sorted({row[column] for row in parent.rows if row["id"] in used}))
    ctx = _ctx(c=child, p=parent, cl=child.label, k=column) | {"v": v}
    if by_label:
        q = _say(rng, lang, ("List the {cl_pl} of all {c_pl} of the {p_sg} '{v}'.",
                             "Show the {cl_pl} of {c_pl} that belong to the {p_sg} \"{v}\".",
                             "Which {c_pl} are linked to the {p_sg} '{v}'? Give their {cl_pl}."),
                 ("Выведите {cl_rpl} {c_rg} {p_r1g} «{v}».",
                  "Найдите {c_all} {p_r1g} «{v}» и выведите их {cl_rpl}.",
                  "Какие {c_r} связаны с записью «{v}» из таблицы {p}? Нужны {cl_rpl}."), ctx)
    else:
        q = _say(rng, lang, ("List the {cl_pl} of {c_pl} whose {p_sg} has {k_en} '{v}'.",
                             "Show the {cl_pl} of {c_pl} linked to {p_pl} with {k_en} '{v}'.",
                             "Which {c_pl} belong to {p_a} whose {k_en} is '{v}'? Show their {cl_pl}."),
                 ("Выведите {cl_rpl} {c_rg}, у которых {k_r} {p_r1g} — «{v}».",
                  "Покажите {cl_rpl} {c_rg}, для которых {k_r} {p_r1g} {k_eq} «{v}».",
                  "Найдите {c_all}, у {p_r1g} которых {k_r} — «{v}», и выведите {cl_rpl}."), ctx)
    sql = (f"SELECT {a}.{child.label} FROM {child.name} {a} JOIN {parent.name} {b} ON {a}.{fk} = {b}.id "
           f"WHERE {b}.{column} = {_lit(v)};")
    return _Draft(q, sql, 0.45)


def _k_join_pairs(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    taken: set[str] = set()
    a, b = _alias(child.name, taken), _alias(parent.name, taken)
    ctx = _ctx(c=child, p=parent, cl=child.label, pl=parent.label)
    q = _say(rng, lang, ("List each {c_sg} {cl_en} together with the {pl_en} of its {p_sg}.",
                         "Show the {cl_pl} of {c_pl} and the {pl_pl} of their {p_pl}.",
                         "For every {c_sg}, show its {cl_en} and its {p_sg}'s {pl_en}."),
             ("Для {c_each} выведите {cl_r} и {pl_r} {p_r1g}.",
              "Покажите {cl_rpl} {c_rg} и {pl_rpl} их {p_rg}.",
              "Выведите {cl_r} каждой записи из {c} и {pl_r} из связанной таблицы {p}."), ctx)
    sql = (f"SELECT {a}.{child.label}, {b}.{parent.label} FROM {child.name} {a} "
           f"JOIN {parent.name} {b} ON {a}.{fk} = {b}.id")
    numbers = [n for n in child.cols("money", "qty", "num") if len(child.values(n)) >= 3]
    if numbers and rng.random() < 0.5:
        n = rng.choice(numbers)
        ctx |= _ctx(n=n) | {"x": _threshold(rng, child.values(n)), "op": _op(rng, lang, ">")}
        q += _say(rng, lang, (" Only include {c_pl} with {n_en} {op} {x}.",),
                  (" Только для {c_rg} {n_with} {op} {x}.",), ctx)
        return _Draft(q, f"{sql} WHERE {a}.{n} > {ctx['x']};", 0.5)
    return _Draft(q, sql + ";", 0.4)


def _k_join_group(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    taken: set[str] = set()
    b, a = _alias(parent.name, taken), _alias(child.name, taken)
    ctx = _ctx(c=child, p=parent, pl=parent.label)
    numbers = child.cols("money", "qty")
    if numbers and rng.random() < 0.4:
        n = rng.choice(numbers)
        ctx |= _ctx(n=n) | _agg_words("SUM", n, "n")
        q = _say(rng, lang, ("What is the total {n_en} of {c_pl} for each {p_sg}?",
                             "For each {p_sg}, show the {pl_en} and the sum of {n} over its {c_pl}."),
                 ("{n_what} {n_fn_r} {n_r} {c_rg} для {p_each}?",
                  "Для {p_each} выведите {pl_r} и сумму {n} по всем связанным записям из {c}."), ctx)
        sql = (f"SELECT {b}.{parent.label}, SUM({a}.{n}) FROM {parent.name} {b} JOIN {child.name} {a} "
               f"ON {a}.{fk} = {b}.id GROUP BY {b}.id, {b}.{parent.label};")
        return _Draft(q, sql, 0.55)
    q = _say(rng, lang, ("How many {c_pl} does each {p_sg} have?",
                         "For each {p_sg}, show the {pl_en} and the number of {c_pl} (including zero).",
                         "Count the {c_pl} per {p_sg}, listing every {p_sg}."),
             ("Сколько {c_rg} у {p_each}?", "Для {p_each} выведите {pl_r} и количество {c_rg} (включая нулевое).",
              "Посчитайте количество {c_rg} для {p_each}."), ctx)
    sql = (f"SELECT {b}.{parent.label}, COUNT({a}.id) FROM {parent.name} {b} LEFT JOIN {child.name} {a} "
           f"ON {a}.{fk} = {b}.id GROUP BY {b}.id, {b}.{parent.label};")
    return _Draft(q, sql, 0.55)


def _k_join_top(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    counts = Counter(row[fk] for row in child.rows).most_common(2)
    if len(counts) < 2 or counts[0][1] == counts[1][1]:
        return None
    taken: set[str] = set()
    b, a = _alias(parent.name, taken), _alias(child.name, taken)
    ctx = _ctx(c=child, p=parent, pl=parent.label)
    q = _say(rng, lang, ("Which {p_sg} has the most {c_pl}?", "Find the {p_sg} with the largest number of {c_pl}.",
                         "Show the {pl_en} of the {p_sg} that has the most {c_pl}."),
             ("У {p_which} больше всего {c_rg}?", "Выведите {pl_r} {p_r1g} с наибольшим количеством {c_rg}.",
              "Найдите {pl_r} {p_r1g}, у которого больше всего {c_rg}."), ctx)
    sql = (f"SELECT {b}.{parent.label} FROM {parent.name} {b} JOIN {child.name} {a} ON {a}.{fk} = {b}.id "
           f"GROUP BY {b}.id, {b}.{parent.label} ORDER BY COUNT(*) DESC LIMIT 1;")
    return _Draft(q, sql, 0.6)


def _k_join3(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    """Three tables: a junction with two parents, or a chain child -> middle -> top."""
    links = s.links()
    junctions = [(j, f1, p1, f2, p2) for j, f1, p1 in links for j2, f2, p2 in links
                 if j is j2 and f1 < f2 and p1 is not p2]
    chains = [(c, f1, m, f2, top) for c, f1, m in links for m2, f2, top in links if m2 is m and top is not c]
    taken: set[str] = set()
    if junctions and (not chains or rng.random() < 0.5):
        j, f1, p1, f2, p2 = rng.choice(junctions)
        if p1.label == "id" or (p2.label != "id" and rng.random() < 0.5):  # the filtered side needs a name
            p1, f1, p2, f2 = p2, f2, p1, f1
        x, y, z = _alias(j.name, taken), _alias(p1.name, taken), _alias(p2.name, taken)
        joins = f"FROM {j.name} {x} JOIN {p1.name} {y} ON {x}.{f1} = {y}.id JOIN {p2.name} {z} ON {x}.{f2} = {z}.id"
        ctx = _ctx(j=j, a=p1, b=p2, al=p1.label, bl=p2.label)
        numbers = [n for n in j.cols("money", "qty", "num") if len(j.values(n)) >= 3]
        if numbers and rng.random() < 0.5:
            n = rng.choice(numbers)
            ctx |= _ctx(n=n) | {"x": _threshold(rng, j.values(n)), "op": _op(rng, lang, ">")}
            q = _say(rng, lang, ("List the {al_pl} of {a_pl} and the {bl_pl} of {b_pl} for {j_pl} with {n_en} {op} "
                                 "{x}.",
                                 "For every {j_sg} with {n_en} {op} {x}, show the {a_sg} {al_en} and the {b_sg} "
                                 "{bl_en}."),
                     ("Выведите {al_rpl} {a_rg} и {bl_rpl} {b_rg} для {j_rg} {n_with} {op} {x}.",
                      "Для {j_rg} {n_with} {op} {x} покажите {al_r} {a_r1g} и {bl_r} {b_r1g}."), ctx)
            return _Draft(q, f"SELECT {y}.{p1.label}, {z}.{p2.label} {joins} WHERE {x}.{n} > {ctx['x']};", 0.7)
        if p1.label == "id":
            return None
        used = {row[f1] for row in j.rows}
        ctx["v"] = rng.choice(sorted({row[p1.label] for row in p1.rows if row["id"] in used}))
        q = _say(rng, lang, ("Which {b_pl} appear in the {j_pl} of the {a_sg} '{v}'? List their {bl_pl} once each.",
                             "Show the distinct {bl_pl} of {b_pl} found in {j_pl} of the {a_sg} \"{v}\"."),
                 ("Выведите без повторов {bl_rpl} {b_rg} из {j_rg} {a_r1g} «{v}».",
                  "Какие {b_r} встречаются в таблице {j} у {a_r1g} «{v}»? Выведите {bl_rpl} без повторов."), ctx)
        return _Draft(q, f"SELECT DISTINCT {z}.{p2.label} {joins} WHERE {y}.{p1.label} = {_lit(ctx['v'])};", 0.7)
    if not chains:
        return None
    c, f1, m, f2, top = rng.choice(chains)
    x, y, z = _alias(c.name, taken), _alias(m.name, taken), _alias(top.name, taken)
    joins = f"FROM {c.name} {x} JOIN {m.name} {y} ON {x}.{f1} = {y}.id JOIN {top.name} {z} ON {y}.{f2} = {z}.id"
    middle_ids = {row[f1] for row in c.rows}
    top_ids = {row[f2] for row in m.rows if row["id"] in middle_ids}
    v = rng.choice(sorted({row[top.label] for row in top.rows if row["id"] in top_ids}))
    ctx = _ctx(c=c, m=m, t=top, cl=c.label) | {"v": v}
    where = f"WHERE {z}.{top.label} = {_lit(v)}"
    numbers = c.cols("money", "qty")
    if numbers and rng.random() < 0.4:
        n = rng.choice(numbers)
        ctx |= _ctx(n=n) | _agg_words("SUM", n, "n")
        q = _say(rng, lang, ("What is the total {n_en} of {c_pl} in {m_pl} of the {t_sg} '{v}'?",
                             "Sum the {n} of all {c_pl} whose {m_sg} belongs to the {t_sg} \"{v}\"."),
                 ("{n_what} {n_fn_r} {n_r} {c_rg} из {m_rg} {t_r1g} «{v}»?",
                  "Посчитайте сумму {n} по {c} для всех {m_rg} {t_r1g} «{v}»."), ctx)
        return _Draft(q, f"SELECT SUM({x}.{n}) {joins} {where};", 0.75)
    if rng.random() < 0.4:
        q = _say(rng, lang, ("How many {c_pl} are there in {m_pl} of the {t_sg} '{v}'?",
                             "Count the {c_pl} that belong to {m_pl} of the {t_sg} \"{v}\"."),
                 ("Посчитайте количество {c_rg} из {m_rg} {t_r1g} «{v}».",
                  "Сколько записей в таблице {c} связано через {m} с «{v}» из таблицы {t}?"), ctx)
        return _Draft(q, f"SELECT COUNT(*) {joins} {where};", 0.7)
    q = _say(rng, lang, ("List the {cl_pl} of {c_pl} in {m_pl} of the {t_sg} '{v}'.",
                         "Show the {cl_pl} of all {c_pl} whose {m_sg} belongs to the {t_sg} \"{v}\"."),
             ("Выведите {cl_rpl} {c_rg} из {m_rg} {t_r1g} «{v}».",
              "Покажите {cl_rpl} всех {c_rg}, связанных через {m} с записью «{v}» из {t}."), ctx)
    return _Draft(q, f"SELECT {x}.{c.label} {joins} {where};", 0.7)


def _k_sub_in(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    ctx = _ctx(c=child, p=parent, pl=parent.label)
    numbers = [n for n in child.cols("money", "qty", "num") if len(child.values(n)) >= 3]
    cats = child.cols("cat")
    if numbers and (not cats or rng.random() < 0.5):
        n = rng.choice(numbers)
        ctx |= _ctx(n=n) | {"x": _threshold(rng, child.values(n)), "op": _op(rng, lang, ">")}
        q = _say(rng, lang, ("List the {pl_pl} of {p_pl} that have at least one {c_sg} with {n_en} {op} {x}.",
                             "Which {p_pl} have any {c_sg} whose {n_en} is {op} {x}? Use a subquery.",
                             "Find {p_pl} with {c_a} whose {n_en} exceeds {x}; show the {pl_pl}."),
                 ("Выведите {pl_rpl} {p_rg}, у которых есть хотя бы {c_one} {c_r1} {n_with} {op} {x}.",
                  "У каких {p_rg} есть {c_r1} {n_with} {op} {x}? Используйте подзапрос.",
                  "Найдите {p_all}, у которых есть {c_r1} {n_with} {op} {x}, и выведите {pl_rpl}."), ctx)
        cond = f"{n} > {ctx['x']}"
    elif cats:
        k = rng.choice(cats)
        ctx |= _ctx(k=k) | {"v": rng.choice(child.values(k))}
        q = _say(rng, lang, ("Which {p_pl} have at least one {c_sg} with {k_en} '{v}'? Show their {pl_pl}.",
                             "List the {pl_pl} of {p_pl} that have {c_a} whose {k_en} is '{v}'."),
                 ("У каких {p_rg} есть {c_r1} {k_with} «{v}»? Выведите {pl_rpl}.",
                  "Выведите {pl_rpl} {p_rg}, у которых есть хотя бы {c_one} {c_r1} {k_with} «{v}»."), ctx)
        cond = f"{k} = {_lit(ctx['v'])}"
    else:
        return None
    return _Draft(q, f"SELECT {parent.label} FROM {parent.name} WHERE id IN "
                     f"(SELECT {fk} FROM {child.name} WHERE {cond});", 0.6)


def _k_sub_scalar(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    found = _pick(rng, s, "money", "qty", "num", distinct=3)
    if not found:
        return None
    t, c = found
    above = rng.random() < 0.6
    ctx = _ctx(t=t, c=c, l=t.label) | {"ab": "above" if above else "below", "ab_r": "выше" if above else "ниже",
                                       "ab_r2": "больше" if above else "меньше"}
    q = _say(rng, lang, ("Which {t_pl} have {c_a} {ab} the average? Show the {l_en} and the {c_en}.",
                         "List {t_pl} whose {c_en} is {ab} the average {c_en} of all {t_pl}, with their {c_pl}.",
                         "Show the {l_pl} and {c_pl} of {t_pl} with {c_a} {ab} average."),
             ("У каких {t_rg} {c_r} {ab_r} среднего? Выведите {l_ra} и {c_ra}.",
              "Выведите {l_rpl} и {c_rpl} {t_rg}, у которых {c_r} {ab_r} среднего значения.",
              "Найдите {t_all} {c_with} {ab_r2} среднего по таблице {t}; покажите {l} и {c}."), ctx)
    op = ">" if above else "<"
    return _Draft(q, f"SELECT {t.label}, {c} FROM {t.name} WHERE {c} {op} (SELECT AVG({c}) FROM {t.name});", 0.55)


def _k_anti(rng: random.Random, s: _Schema, lang: str) -> _Draft | None:
    links = s.links()
    if not links:
        return None
    child, fk, parent = rng.choice(links)
    ctx = _ctx(c=child, p=parent, pl=parent.label)
    q = _say(rng, lang, ("Which {p_pl} have no {c_pl}? Show their {pl_pl}.", "List {p_pl} that do not have any {c_pl}.",
                         "Find the {pl_pl} of {p_pl} without a single {c_sg}."),
             ("У каких {p_rg} нет ни одного {c_r1g}?", "Выведите {pl_rpl} {p_rg}, у которых нет {c_rg}.",
              "Найдите {p_all} без записей в таблице {c}."), ctx)
    return _Draft(q, f"SELECT {parent.label} FROM {parent.name} WHERE id NOT IN (SELECT {fk} FROM {child.name});",
                  0.6)


_KINDS: tuple[tuple[Callable[[random.Random, _Schema, str], _Draft | None], int], ...] = (
    (_k_filter_eq, 6), (_k_compare, 7), (_k_filter_and, 5), (_k_between, 4), (_k_like, 4), (_k_distinct, 3),
    (_k_count, 6), (_k_aggregate, 6), (_k_order_limit, 5), (_k_date, 5), (_k_group_count, 5), (_k_group_agg, 4),
    (_k_having, 4), (_k_join_filter, 7), (_k_join_pairs, 4), (_k_join_group, 5), (_k_join_top, 3), (_k_join3, 9),
    (_k_sub_in, 4), (_k_sub_scalar, 4), (_k_anti, 3),
)
_HEADERS = {"en": ("Schema:", "Database schema:", "Tables:"), "ru": ("Схема:", "Схема базы данных:", "Таблицы:")}


def _draft(rng: random.Random, lang: str) -> dict[str, Any] | None:
    schema = _draw_schema(rng, "ru" if lang == "ru" and rng.random() < 0.5 else "en")
    kinds, weights = zip(*_KINDS, strict=True)
    for _ in range(8):
        found = rng.choices(kinds, weights=weights)[0](rng, schema, lang)
        if found:
            break
    else:
        return None
    db_sql = _db_sql(schema)
    try:
        rows = run_query(db_sql, found.sql)
    except sqlite3.Error:
        return None
    if not rows or all(value is None for value in rows[0]):
        return None
    style = rng.choice(("compact", "create"))
    return {
        "id": item_id(TASK, found.question, found.sql, db_sql),
        "lang": lang,
        "difficulty": difficulty(found.level + 0.04 * (len(schema.tables) - 1)),
        "question": found.question,
        "schema": _schema_text(schema, style),
        "schema_style": style,
        "gold_sql": found.sql,
        "db_sql": db_sql,
    }


def generate(n: int, seed: int, lang: str = "mix") -> list[dict[str, Any]]:
    """`n` distinct validated text-to-SQL eval items (keys: id, lang, difficulty, question, schema, schema_style,
    gold_sql, db_sql). Training seeds < 1000, evaluation seeds >= 1000."""
    return collect(TASK, n, seed, lang, _draft, key="question")


def to_chat(item: dict[str, Any]) -> dict[str, Any]:
    """The training example: question, blank line, schema header and schema -> the query in a sql block."""
    header = stable_choice(item["id"], _HEADERS[item["lang"]])
    user = f"{item['question']}\n\n{header}\n{item['schema']}"
    return chat_example(TASK, item, user, f"```sql\n{item['gold_sql']}\n```")
