"""Reminders: "remind me in 10 minutes to call Ann", "напомни через час позвонить маме". Each is a row of the bot's
tables until delivered, so one that came due while the bot was down is delivered when it starts again. /reminders
lists the user's pending ones in the chat, /cancel N cancels one."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass
from functools import cache

import structlog
from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import BotCommand, Message

from moe_system.bot.core.store import BotStore
from moe_system.bot.plugins import PluginContext
from moe_system.data.common import read_yaml

log = structlog.get_logger("moe_system.bot")
LONGEST = 366 * 86400  # seconds ahead a reminder may be set
MAX_PENDING = 50  # per user and chat


@dataclass(frozen=True)
class Request:
    seconds: float
    task: str


@cache
def _grammar() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, float], dict[str, float], re.Pattern[str]]:
    data = read_yaml("moe_system.data.lexicon", "reminders.yaml")
    words = lambda items: "|".join(sorted((re.escape(item) for item in items), key=len, reverse=True))  # noqa: E731
    trigger = re.compile(rf"(?<!\w)(?:{words(data['triggers'])})(?!\w)", re.IGNORECASE)
    when = re.compile(rf"(?<!\w)(?:{words(data['lead_in'])})\s+(?:(\d+(?:[.,]\d+)?|{words(data['numbers'])})\s+)?"
                      rf"({words(data['units'])})(?!\w)", re.IGNORECASE)
    connector = re.compile(rf"^\s*[,:;-]?\s*(?:(?:{words(data['connectors'])})(?!\w))?\s*", re.IGNORECASE)
    return trigger, when, {k: float(v) for k, v in data["units"].items()}, \
        {k: float(v) for k, v in data["numbers"].items()}, connector


def parse(text: str) -> Request | None:
    """The reminder a message asks for, or None when it asks for none (or for a time that cannot be read)."""
    trigger, when, units, numbers, connector = _grammar()
    if trigger.search(text) is None:
        return None
    found = when.search(text)
    if found is None:
        return None
    amount_text, unit = found.group(1), found.group(2).lower()
    amount = 1.0 if amount_text is None else numbers.get(amount_text.lower()) or float(amount_text.replace(",", "."))
    seconds = amount * units[unit]
    rest = (text[: found.start()] + " " + text[found.end():])
    rest = trigger.sub(" ", rest, count=1)
    task = connector.sub("", " ".join(rest.split())).strip(" ,.;:!-")
    task = connector.sub("", task).strip(" ,.;:!-")
    if not task or not 0 < seconds <= LONGEST:
        return None
    return Request(seconds, task)


class _Asks(Filter):
    async def __call__(self, message: Message) -> bool | dict[str, Request]:
        request = parse(message.text or "")
        return False if request is None else {"request": request}


class Reminders:
    name = "reminders"
    description = "reminders: \"remind me in 10 minutes to …\", \"напомни через час …\""
    commands = (BotCommand(command="reminders", description="your pending reminders here"),
                BotCommand(command="cancel", description="N: cancel reminder N"))

    def __init__(self, context: PluginContext) -> None:
        self.store: BotStore = context.store
        self.router = Router(name="reminders")
        self.router.message(_Asks())(self.add)
        self.router.message(Command("reminders"))(self.list)
        self.router.message(Command("cancel"))(self.cancel)
        self._changed = asyncio.Event()

    async def add(self, message: Message, request: Request) -> None:
        if message.from_user is None:
            return
        if len(self.store.reminders(message.chat.id, message.from_user.id)) >= MAX_PENDING:
            await message.answer(f"You have {MAX_PENDING} reminders pending here already; /cancel one first.")
            return
        reminder = self.store.add_reminder(message.chat.id, message.from_user.id, time.time() + request.seconds,
                                           request.task)
        self._changed.set()
        await message.answer(f"Reminder {reminder.id} set for {_when(request.seconds)}: {request.task}")

    async def list(self, message: Message) -> None:
        if message.from_user is None:
            return
        pending = self.store.reminders(message.chat.id, message.from_user.id)
        if not pending:
            await message.answer("No reminders pending here.")
            return
        await message.answer("\n".join(f"{r.id}. in {_when(r.due - time.time())}: {r.text}" for r in pending))

    async def cancel(self, message: Message, command: CommandObject) -> None:
        if message.from_user is None:
            return
        number = (command.args or "").strip()
        if not number.isdigit():
            await message.answer("Usage: /cancel N (the number /reminders shows)")
        elif self.store.close_reminder(int(number), "cancelled", user_id=message.from_user.id):
            await message.answer(f"Reminder {number} cancelled.")
        else:
            await message.answer(f"You have no pending reminder {number}.")

    async def run(self, bot: Bot) -> None:
        """Deliver reminders as they come due (those overdue first, after a restart), sleeping until the next one
        or until a new one is set."""
        while True:
            for reminder in self.store.due_reminders(time.time()):
                try:
                    await bot.send_message(reminder.chat_id, f"⏰ {reminder.text}")
                    status = "delivered"
                except TelegramAPIError as error:  # the chat is gone, the bot was blocked: do not retry forever
                    log.warning("reminder not delivered", reminder=reminder.id, error=str(error))
                    status = "failed"
                self.store.close_reminder(reminder.id, status)
            upcoming = self.store.next_due()
            wait = 60.0 if upcoming is None else min(60.0, max(0.0, upcoming - time.time()))
            self._changed.clear()
            with contextlib.suppress(TimeoutError):  # woken early by a new reminder, or the next one is due
                await asyncio.wait_for(self._changed.wait(), wait)


def _when(seconds: float) -> str:
    """A delay as "1 h 30 min", "10 min", "45 s" (the two largest units)."""
    left, parts = max(0, round(seconds)), []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2]) or "0 s"


def plugin(context: PluginContext) -> Reminders:
    return Reminders(context)
