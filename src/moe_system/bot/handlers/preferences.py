"""A user's own settings and data: /style, /expert, /persona, /forget."""

from __future__ import annotations

import asyncio

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from moe_system.bot.core.store import BotStore
from moe_system.bot.core.style import STYLES
from moe_system.client import MoEClient

router = Router(name="preferences")
MAX_PERSONA = 1000


@router.message(Command("style"))
async def style(message: Message, command: CommandObject, store: BotStore) -> None:
    choice = (command.args or "").strip().lower()
    if message.from_user is None:
        return
    if choice == "auto":
        store.set_preference(message.from_user.id, "style", None)
        await message.answer("Style: auto (from how you write).")
    elif choice in STYLES:
        store.set_preference(message.from_user.id, "style", choice)
        await message.answer(f"Style: {choice}.")
    else:
        await message.answer(f"Usage: /style {'|'.join(STYLES)}|auto")


@router.message(Command("expert"))
async def expert(message: Message, command: CommandObject, store: BotStore, client: MoEClient) -> None:
    choice = (command.args or "").strip()
    if message.from_user is None:
        return
    names = await asyncio.to_thread(client.registry.names)
    if choice in ("", "auto"):
        store.set_preference(message.from_user.id, "expert", None)
        await message.answer("Expert: auto (the router picks one for each message). Installed: "
                             f"{', '.join(sorted(names)) or 'none'}.")
    elif choice == "none" or choice in names:
        store.set_preference(message.from_user.id, "expert", choice)
        await message.answer(f"Expert: {choice}." if choice != "none" else "Expert: none (the base model).")
    else:
        await message.answer(f"No expert {choice!r}. Installed: {', '.join(sorted(names)) or 'none'}; or /expert "
                             "auto, /expert none.")


@router.message(Command("persona"))
async def persona(message: Message, command: CommandObject, store: BotStore) -> None:
    text = (command.args or "").strip()
    if message.from_user is None:
        return
    if not text or text == "default":
        store.set_preference(message.from_user.id, "persona", None)
        await message.answer("Persona: the default one.")
    elif len(text) > MAX_PERSONA:
        await message.answer(f"A persona may have at most {MAX_PERSONA} characters.")
    else:
        store.set_preference(message.from_user.id, "persona", text)
        await message.answer("Persona set: I will answer you as that.")


@router.message(Command("forget"))
async def forget(message: Message, store: BotStore, client: MoEClient) -> None:
    """Delete everything the bot holds about the user: their conversations in the memory (messages, summaries,
    facts, the passages of the documents they gave), their profile, relationships, reminders, quiz scores and
    documents."""
    if message.from_user is None:
        return
    memory_rows = await asyncio.to_thread(client.memory.forget_user, f"tg-{message.from_user.id}")
    rows = store.forget(message.from_user.id)
    await message.answer(
        "Forgotten: "
        f"{memory_rows} memory records (our private conversation: messages, summaries, facts; your documents' "
        f"passages), {rows['bot_profiles']} profile, {rows['bot_relationships']} chat relationships, "
        f"{rows['bot_reminders']} reminders, {rows['bot_quiz_scores']} quiz scores, {rows['bot_documents']} "
        "documents. What you wrote in groups stays in those groups' conversations.")
