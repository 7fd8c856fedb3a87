"""Quiz: /quiz math|sql asks a question made by the project's own generators (in the asker's language); the next
message in the chat that reads as an answer (a number; a SELECT query) is checked as `moe eval` checks the experts'
answers (the number; the query's rows against the gold query's on the item's database), and scored for whoever
sent it. /score shows the chat's table. One question a chat at a time; it expires after `OPEN_S`."""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import BotCommand, Message

from moe_system.bot.core.chats import speaker
from moe_system.bot.core.store import BotStore
from moe_system.bot.plugins import PluginContext
from moe_system.data import GENERATORS
from moe_system.errors import MoEError
from moe_system.text.words import is_russian
from moe_system.training.evaluation import extract_number, score_math, score_sql

TASKS = ("math", "sql")
OPEN_S = 600.0  # a question unanswered this long is dropped


@dataclass
class Question:
    task: str
    item: dict[str, Any]
    asked: float


def ask(task: str, lang: str, rng: random.Random) -> dict[str, Any]:
    """A fresh item of `task` in `lang` ("en" or "ru") from the bundled generator."""
    [item] = GENERATORS[task].generate(1, rng.randrange(10_000, 2**31), lang)
    return item


def looks_like_answer(task: str, text: str) -> bool:
    """Whether a message is an attempt at the question (other talk goes on to the model)."""
    if task == "sql":
        return re.search(r"\bselect\b", text, re.IGNORECASE) is not None
    return extract_number(text) is not None and len(text) <= 200


def is_correct(task: str, item: dict[str, Any], text: str) -> bool:
    """Checked as the evaluation checks experts (`training.evaluation`); an answer that cannot run is wrong."""
    try:
        return score_sql(item, text) if task == "sql" else score_math(item, text)
    except MoEError:
        return False


def shown_answer(task: str, item: dict[str, Any]) -> str:
    return f"```sql\n{item['gold_sql']}\n```" if task == "sql" else str(item["answer"])


class _Answers(Filter):
    def __init__(self, open_questions: dict[int, Question]) -> None:
        self.open = open_questions

    async def __call__(self, message: Message) -> bool:
        question = self.open.get(message.chat.id)
        text = message.text or ""
        if question is None or text.startswith("/"):
            return False
        if time.monotonic() - question.asked > OPEN_S:
            del self.open[message.chat.id]
            return False
        return looks_like_answer(question.task, text)


class Quiz:
    name = "quiz"
    description = "quiz: math and SQL questions from the project's generators, scores per chat"
    commands = (BotCommand(command="quiz", description="math|sql: a question for this chat"),
                BotCommand(command="score", description="the quiz table of this chat"))

    def __init__(self, context: PluginContext, rng: random.Random | None = None) -> None:
        self.store: BotStore = context.store
        self.rng = rng or random.Random()
        self.open: dict[int, Question] = {}  # chat -> its question
        self.router = Router(name="quiz")
        self.router.message(Command("quiz"))(self.ask)
        self.router.message(Command("score"))(self.score)
        self.router.message(_Answers(self.open))(self.answer)

    async def ask(self, message: Message, command: CommandObject) -> None:
        task = (command.args or self.rng.choice(TASKS)).strip().lower()
        if task not in TASKS:
            await message.answer(f"Usage: /quiz {'|'.join(TASKS)}")
            return
        lang = "ru" if is_russian(message.text or "") or (
            message.from_user is not None and (message.from_user.language_code or "").startswith("ru")) else "en"
        item = await asyncio.to_thread(ask, task, lang, self.rng)
        self.open[message.chat.id] = Question(task, item, time.monotonic())
        schema = f"\n\n{item['schema']}" if task == "sql" else ""
        await message.answer(f"Quiz ({task}): {item['question']}{schema}\n\n"
                             + ("Answer with one SELECT query." if task == "sql" else "Answer with a number."))

    async def answer(self, message: Message) -> None:
        question = self.open.pop(message.chat.id, None)
        if question is None or message.from_user is None:
            return
        correct = await asyncio.to_thread(is_correct, question.task, question.item, message.text or "")
        right, answered = self.store.score_answer(message.chat.id, message.from_user.id,
                                                  speaker(message.from_user), correct)
        verdict = "Correct!" if correct else f"Not quite. The answer: {shown_answer(question.task, question.item)}"
        await message.answer(f"{verdict} {speaker(message.from_user)}: {right} of {answered}.")

    async def score(self, message: Message) -> None:
        rows = self.store.quiz_scores(message.chat.id)
        if not rows:
            await message.answer("No quiz answers here yet: /quiz math or /quiz sql.")
            return
        await message.answer("\n".join(f"{name}: {right} of {answered}" for name, right, answered in rows))

    async def run(self, bot: Bot) -> None:
        """No background work."""


def plugin(context: PluginContext) -> Quiz:
    return Quiz(context)
