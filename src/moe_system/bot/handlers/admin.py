"""Commands for `bot.admin_ids` only (everyone else gets a refusal): /stats."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, Filter
from aiogram.types import Message

from moe_system.bot.core.store import BotStore
from moe_system.config import BotSettings

router = Router(name="admin")
REFUSAL = "This command is for the bot's admins. / Эта команда только для администраторов бота."


class Admin(Filter):
    """Passes messages from `bot.admin_ids`."""

    async def __call__(self, message: Message, bot_settings: BotSettings) -> bool:
        return message.from_user is not None and message.from_user.id in bot_settings.admin_ids


@router.message(Command("stats"), Admin())
async def stats(message: Message, store: BotStore) -> None:
    counts = store.counts()
    await message.answer(f"Users: {counts['users']}. Messages: {counts['messages']}. Chats: {counts['chats']}.")


@router.message(Command("stats"))
async def refuse(message: Message) -> None:
    await message.answer(REFUSAL)
