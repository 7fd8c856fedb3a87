"""Commands for `bot.admin_ids` only (everyone else gets a refusal): /stats, /ban, /unban, /reload, /broadcast."""

from __future__ import annotations

import asyncio

from aiogram import Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import Message

from moe_system.bot.core.store import BotStore
from moe_system.bot.services.broadcast import Broadcaster
from moe_system.bot.services.replies import LIMIT
from moe_system.client import MoEClient
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


@router.message(Command("ban"), Admin())
async def ban(message: Message, command: CommandObject, store: BotStore, bot_settings: BotSettings) -> None:
    """/ban USER_ID [reason]: the bot ignores the user's messages from now on (an admin cannot be banned)."""
    assert message.from_user is not None
    target, reason = _user_and_rest(command.args)
    if target is None:
        await message.answer("Usage: /ban USER_ID [reason]")
    elif target in bot_settings.admin_ids:
        await message.answer(f"{target} is an admin (bot.admin_ids): not banned.")
    elif store.ban(target, message.from_user.id, reason):
        await message.answer(f"Banned {target}" + (f": {reason}" if reason else "") + ".")
    else:
        await message.answer(f"{target} is banned already.")


@router.message(Command("unban"), Admin())
async def unban(message: Message, command: CommandObject, store: BotStore) -> None:
    target, _ = _user_and_rest(command.args)
    if target is None:
        await message.answer("Usage: /unban USER_ID")
    else:
        await message.answer(f"Unbanned {target}." if store.unban(target) else f"{target} is not banned.")


@router.message(Command("reload"), Admin())
async def reload(message: Message, client: MoEClient) -> None:
    """Re-read the installed experts (installed or removed by `moe experts` meanwhile) and drop the loaded ones."""
    experts = await asyncio.to_thread(client.reload_experts)
    listed = ", ".join(f"{expert.name} {expert.version}" for expert in experts) or "none"
    await message.answer(f"Experts reloaded: {listed}. Each loads again on its next request.")


@router.message(Command("broadcast"), Admin())
async def broadcast(message: Message, command: CommandObject, store: BotStore, broadcaster: Broadcaster) -> None:
    """/broadcast TEXT: queued for every private chat (`services/broadcast.py`); a summary comes when it is done."""
    text = (command.args or "").strip()
    if not text or len(text) > LIMIT:
        await message.answer(f"Usage: /broadcast TEXT (at most {LIMIT} characters)")
        return
    queued, chats = await asyncio.to_thread(store.add_broadcast, text, message.chat.id)
    broadcaster.wake.set()
    await message.answer(f"Broadcast {queued.id} queued for {chats} private chats.")


def _user_and_rest(args: str | None) -> tuple[int | None, str]:
    """A command's user id and the text after it."""
    first, _, rest = (args or "").strip().partition(" ")
    return (int(first) if first.lstrip("-").isdigit() else None), rest.strip()


@router.message(Command("stats", "ban", "unban", "reload", "broadcast"))
async def refuse(message: Message) -> None:
    await message.answer(REFUSAL)
