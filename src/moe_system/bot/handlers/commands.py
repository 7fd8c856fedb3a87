"""Commands every user has: /start and /help."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import BotCommand, Message

router = Router(name="commands")

COMMANDS = [
    BotCommand(command="start", description="what this bot is"),
    BotCommand(command="help", description="what it can do"),
    BotCommand(command="style", description="short | normal | detailed | auto: how long my answers are"),
    BotCommand(command="expert", description="NAME | none | auto: which expert answers you"),
    BotCommand(command="persona", description="TEXT | default: who I am when I answer you"),
    BotCommand(command="forget", description="delete everything I hold about you"),
]

HELP = (
    "I am a local assistant: a small language model with experts for SQL, Python and math, which I pick for each "
    "message. I remember our conversation.\n\n"
    "Я локальный ассистент: небольшая языковая модель с экспертами по SQL, Python и математике; эксперта я выбираю "
    "под каждое сообщение и помню наш разговор.\n\n"
    + "\n".join(f"/{command.command} — {command.description}" for command in COMMANDS)
)


@router.message(CommandStart())
async def start(message: Message) -> None:
    await message.answer(HELP)


@router.message(Command("help"))
async def help_command(message: Message) -> None:
    await message.answer(HELP)
