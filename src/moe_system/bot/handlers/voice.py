"""Voice messages (English): transcribed offline (`services/voice.py`), the transcript shown, then answered as if
typed. In a group a voice note is for the bot when it replies to one of the bot's messages."""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.types import Message
from aiogram.utils.chat_action import ChatActionSender

from moe_system.bot.core.chats import addressed
from moe_system.bot.core.observe import BotMetrics
from moe_system.bot.core.store import BotStore
from moe_system.bot.handlers.chat import answer
from moe_system.bot.services.replies import downloaded
from moe_system.bot.services.voice import NotEnglish, Transcriber, VoiceUnavailable
from moe_system.client import MoEClient
from moe_system.config import BotSettings

router = Router(name="voice")
NOT_ENGLISH = ("I understand English voice messages only; please write in any language instead. / Я понимаю только "
               "голосовые сообщения на английском — напишите, пожалуйста, текстом.")


@router.message(F.voice)
async def on_voice(message: Message, bot: Bot, client: MoEClient, bot_settings: BotSettings, store: BotStore,
                   metrics: BotMetrics, arrived: float, transcriber: Transcriber) -> None:
    assert message.voice is not None
    if message.chat.type != "private" and not addressed(message, await bot.me(), bot_settings.name_keywords):
        return
    if message.voice.duration > bot_settings.voice_max_s:
        await message.answer(f"That voice message is {message.voice.duration} s long; I listen to up to "
                             f"{bot_settings.voice_max_s} s.")
        return
    async with ChatActionSender.typing(bot=bot, chat_id=message.chat.id):
        audio = await downloaded(bot, message.voice)
        try:
            transcript = await asyncio.to_thread(transcriber.transcribe, audio)
        except VoiceUnavailable as error:
            await message.answer(str(error))
            return
        except NotEnglish:
            await message.answer(NOT_ENGLISH)
            return
        except ValueError as error:
            await message.answer(f"I could not listen to that voice message: {error}.")
            return
    await message.answer(f"🎤 {transcript.text}")
    await answer(message, bot, client, bot_settings, store, transcript.text, metrics, arrived)
