"""A reply carried to a chat as it is generated: the first words as a message, then edits at most once every
`interval` seconds (Telegram allows about one edit a second a chat), new messages once the text passes Telegram's
4,096 characters, and the final text exactly as the model's answer ended."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import Downloadable, ReplyParameters

LIMIT = 4096  # characters in one Telegram message (counted in UTF-16 code units, as Telegram counts them)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = LIMIT) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 units, cut at a paragraph, line or word break where one falls in
    the second half of a part, else mid-word."""
    parts: list[str] = []
    rest = text.strip()
    while _units(rest) > limit:
        cut = len(rest)
        while _units(rest[:cut]) > limit:  # the longest prefix that fits (a surrogate pair counts twice)
            cut = min(cut - 1, limit)
        window = rest[:cut]
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at > cut // 2:
                cut = at
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


class ReplyWriter:
    """Shows a growing answer in chat `chat_id` (the first message replying to `reply_to` when given)."""

    def __init__(self, bot: Bot, chat_id: int, reply_to: int | None, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bot, self.chat_id, self.reply_to, self.interval, self.clock = bot, chat_id, reply_to, interval, clock
        self.shown: list[str] = []  # the text of each message sent, as shown now
        self.ids: list[int] = []
        self.first_sent: float | None = None  # `time.perf_counter()` when the first message went out
        self._last = -float("inf")

    async def update(self, text: str) -> None:
        """The answer so far: shown if the last change is `interval` old (a change Telegram refuses for flooding is
        skipped: the next one, or `finish`, shows it)."""
        if self.clock() - self._last < self.interval or not text.strip():
            return
        try:
            await self._show(text)
        except TelegramRetryAfter as error:
            self._last = self.clock() + error.retry_after - self.interval

    async def finish(self, text: str) -> None:
        """The whole answer, shown whatever the interval (waiting out Telegram's flood limits)."""
        for _ in range(5):
            try:
                await self._show(text if text.strip() else "(no answer)")
                return
            except TelegramRetryAfter as error:
                await asyncio.sleep(error.retry_after)
        await self._show(text if text.strip() else "(no answer)")

    async def _show(self, text: str) -> None:
        self._last = self.clock()
        for index, part in enumerate(split_text(text)):
            if index < len(self.ids):
                if self.shown[index] != part:
                    try:
                        await self.bot.edit_message_text(text=part, chat_id=self.chat_id, message_id=self.ids[index])
                    except TelegramBadRequest as error:
                        if "not modified" not in str(error):
                            raise
                    self.shown[index] = part
                continue
            reply = ReplyParameters(message_id=self.reply_to, allow_sending_without_reply=True) \
                if self.reply_to is not None and not self.ids else None
            sent = await self.bot.send_message(chat_id=self.chat_id, text=part, reply_parameters=reply)
            if self.first_sent is None:
                self.first_sent = time.perf_counter()
            self.ids.append(sent.message_id)
            self.shown.append(part)


async def downloaded(bot: Bot, file: Downloadable) -> bytes:
    """The content of a file a user sent (a document, a voice note), read from the Bot API into memory."""
    data = io.BytesIO()
    await bot.download(file, destination=data)
    return data.getvalue()
