"""Admins' broadcasts (`/broadcast TEXT`): the text goes to every private chat the bot has talked in, in the order
of chat ids, at most `bot.broadcast_per_second` messages a second (Telegram allows a bot about 30 a second in all,
and its replies share them). Each chat's outcome is recorded before the next is sent, so a restart resumes at the
chat after the last one recorded (a crash between a send and its record sends that one message twice, never skips
it). A chat that blocked the bot or is gone counts as failed. The admin gets a summary when it is done."""

from __future__ import annotations

import asyncio

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter

from moe_system.bot.core.store import BotStore

log = structlog.get_logger("moe_system.bot.broadcast")
TRIES = 3


class Broadcaster:
    """Sends the queued broadcasts, one at a time; `wake` is set when one is queued."""

    def __init__(self, store: BotStore, per_second: float) -> None:
        self.store, self.interval = store, 1.0 / per_second
        self.wake = asyncio.Event()

    async def run(self, bot: Bot) -> None:
        """Until cancelled (at the bot's shutdown)."""
        while True:
            self.wake.clear()  # before looking: a broadcast queued from here on sets it again
            pending = await asyncio.to_thread(self.store.pending_broadcast)
            if pending is None:
                await self.wake.wait()
                continue
            broadcast, chat = pending
            if chat is None:
                await asyncio.to_thread(self.store.broadcast_progress, broadcast.id, None, True)
                log.info("broadcast done", broadcast=broadcast.id, sent=broadcast.sent, failed=broadcast.failed)
                await _send(bot, broadcast.admin_chat, f"Broadcast {broadcast.id} done: sent to {broadcast.sent} "
                                                       f"chats, {broadcast.failed} failed.")
                continue
            delivered = await _send(bot, chat, broadcast.text)
            await asyncio.to_thread(self.store.broadcast_progress, broadcast.id, chat, delivered)
            await asyncio.sleep(self.interval)


async def _send(bot: Bot, chat_id: int, text: str) -> bool:
    """Whether `text` reached the chat (Telegram's flood waits are waited out, `TRIES` times)."""
    for _ in range(TRIES):
        try:
            await bot.send_message(chat_id=chat_id, text=text)
            return True
        except TelegramRetryAfter as error:
            await asyncio.sleep(error.retry_after)
        except (TelegramForbiddenError, TelegramBadRequest) as error:
            log.info("broadcast not delivered", chat=chat_id, error=error.message)
            return False
    return False
