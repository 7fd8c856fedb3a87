"""Text messages: answered in a private chat; in a group when the bot is addressed (mention, reply, its name), or
by chance (`bot.auto_chime_prob`). The answer streams into the chat with a typing action while the model thinks."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import structlog
from aiogram import Bot, F, Router
from aiogram.types import Message
from aiogram.utils.chat_action import ChatActionSender

from moe_system.bot.core.chats import addressed, chimes_in, strip_mention, turn_for
from moe_system.bot.services.answers import stream_answer
from moe_system.bot.services.replies import ReplyWriter
from moe_system.client import MoEClient
from moe_system.config import BotSettings
from moe_system.errors import MoEError

router = Router(name="chat")
log = structlog.get_logger("moe_system.bot")
_chat_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)  # one answer at a time a chat, in order


@router.message(F.text)
async def on_text(message: Message, bot: Bot, client: MoEClient, bot_settings: BotSettings) -> None:
    assert message.text is not None
    text = message.text
    if message.chat.type != "private":
        me = await bot.me()
        if not addressed(message, me, bot_settings.name_keywords) and not chimes_in(bot_settings.auto_chime_prob):
            await asyncio.to_thread(_remember, client, message, text)  # the group's talk is context for later
            return
        text = strip_mention(text, me) or text
    await answer(message, bot, client, bot_settings, text)


def _remember(client: MoEClient, message: Message, text: str) -> None:
    turn = turn_for(message, text)
    client.memory.add_message(turn.conversation_id, "user", turn.text, user_id=turn.user_id)


async def answer(message: Message, bot: Bot, client: MoEClient, bot_settings: BotSettings, text: str) -> None:
    """Answer `text` (what `message` says) in its chat's conversation, streaming the reply."""
    turn = turn_for(message, text)
    reply_to = None if message.chat.type == "private" else message.message_id
    writer = ReplyWriter(bot, message.chat.id, reply_to, bot_settings.edit_interval_s)
    async with _chat_locks[message.chat.id]:
        conversation = await asyncio.to_thread(client.start_conversation, turn.user_id, turn.conversation_id)
        try:
            async with ChatActionSender.typing(bot=bot, chat_id=message.chat.id, interval=4.5):
                async for partial in stream_answer(conversation, turn.text, max_tokens=bot_settings.max_tokens):
                    if partial.response is not None:
                        await writer.finish(partial.response.text)
                        log.info("reply", chat=message.chat.id, expert=partial.response.expert,
                                 tokens=partial.response.usage["completion_tokens"])
                    else:
                        await writer.update(partial.text)
        except MoEError as error:
            log.warning("reply failed", chat=message.chat.id, error=str(error))
            await writer.finish(f"Sorry, I could not answer that: {error}")
