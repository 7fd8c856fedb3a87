"""Commands every user has: /start and /help."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import BotCommand, Message

from moe_system.bot.plugins import Plugin

router = Router(name="commands")

COMMANDS = [
    BotCommand(command="start", description="what this bot is"),
    BotCommand(command="help", description="what it can do"),
    BotCommand(command="style", description="short | normal | detailed | auto: how long my answers are"),
    BotCommand(command="expert", description="NAME | none | auto: which expert answers you"),
    BotCommand(command="persona", description="TEXT | default: who I am when I answer you"),
    BotCommand(command="docs", description="the documents of this chat (send a .txt, .md or .pdf to add one)"),
    BotCommand(command="forget_doc", description="NAME: delete one of this chat's documents"),
    BotCommand(command="forget", description="delete everything I hold about you"),
]

ABOUT = (
    "I am a local assistant: a small language model with experts for SQL, Python and math, which I pick for each "
    "message. I remember our conversation.\n\n"
    "Я локальный ассистент: небольшая языковая модель с экспертами по SQL, Python и математике; эксперта я выбираю "
    "под каждое сообщение и помню наш разговор."
)


def help_text(plugins: Sequence[Plugin]) -> str:
    """What the bot is, its commands, and each plugin with its commands."""
    lines = [ABOUT, "", *(f"/{command.command} — {command.description}" for command in COMMANDS)]
    for plugin in plugins:
        lines += ["", f"Plugin {plugin.description}",
                  *(f"/{command.command} — {command.description}" for command in plugin.commands)]
    return "\n".join(lines)


@router.message(CommandStart())
async def start(message: Message, plugins: Sequence[Plugin]) -> None:
    await message.answer(help_text(plugins))


@router.message(Command("help"))
async def help_command(message: Message, plugins: Sequence[Plugin]) -> None:
    await message.answer(help_text(plugins))
