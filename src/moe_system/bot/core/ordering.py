"""One chat's messages are handled one at a time, in the order they came (aiogram handles every update in a task of
its own, so "/expert none" then "/style short" could otherwise finish the other way round); different chats run
concurrently. asyncio's locks wake waiters first come, first served, and taking the lock is the first thing a
message's task waits for, so the order is the order of the updates."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject


class ChatOrder(BaseMiddleware):
    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # chat -> (its lock, messages holding or waiting)

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Message):
            return await handler(event, data)
        chat = event.chat.id
        lock, users = self._locks.get(chat, (asyncio.Lock(), 0))
        self._locks[chat] = (lock, users + 1)
        try:
            async with lock:
                return await handler(event, data)
        finally:
            lock, users = self._locks[chat]
            if users == 1:
                del self._locks[chat]  # no one holds or waits: a chat that went quiet costs nothing
            else:
                self._locks[chat] = (lock, users - 1)
