"""Flood control: each user may send `per_minute` messages a minute (a token bucket, so a short burst is fine);
past that the bot answers once, politely, then stays silent until the user's rate falls back. Banned users
(`/ban`) are not heard at all (`Banned`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject

from moe_system.bot.core.store import BotStore

NOTICE = ("You are writing faster than I can answer; I will skip messages for a minute. / Вы пишете быстрее, чем я "
          "успеваю отвечать; минуту я буду пропускать сообщения.")


class Throttle(BaseMiddleware):
    """Per-user token buckets of `per_minute` tokens, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute, self.clock = per_minute, clock
        self._buckets: dict[int, tuple[float, float, bool]] = {}  # user -> (tokens, as of, warned)

    def allow(self, user_id: int) -> tuple[bool, bool]:
        """(may this message be handled, should the user be told they are throttled)."""
        now = self.clock()
        tokens, since, warned = self._buckets.get(user_id, (float(self.per_minute), now, False))
        tokens = min(float(self.per_minute), tokens + (now - since) * self.per_minute / 60)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, now, False)
            return True, False
        self._buckets[user_id] = (tokens, now, True)
        return False, not warned

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Message) or event.from_user is None:
            return await handler(event, data)
        allowed, tell = self.allow(event.from_user.id)
        if allowed:
            return await handler(event, data)
        if tell:
            await event.answer(NOTICE)
        return None


class Banned(BaseMiddleware):
    """Drops the messages of users an admin banned, without a word (a reply would invite more)."""

    def __init__(self, store: BotStore) -> None:
        self.store = store

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Message) and event.from_user is not None and self.store.is_banned(event.from_user.id):
            return None
        return await handler(event, data)
