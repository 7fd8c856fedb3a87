"""Text messages: answered in a private chat; in a group when the bot is addressed (mention, reply, its name), or
by chance (`bot.auto_chime_prob`). The answer streams into the chat with a typing action while the model thinks."""

from __future__ import annotations

import asyncio

import structlog
from aiogram import Bot, F, Router
from aiogram.types import Message
from aiogram.utils.chat_action import ChatActionSender

from moe_system.bot.core.chats import addressed, chimes_in, speaker, strip_mention, turn_for
from moe_system.bot.core.observe import BotMetrics
from moe_system.bot.core.store import BotStore
from moe_system.bot.core.style import is_informal, reply_style
from moe_system.bot.services.answers import stream_answer
from moe_system.bot.services.replies import ReplyWriter
from moe_system.client import MoEClient
from moe_system.config import BotSettings
from moe_system.errors import MoEError
from moe_system.text.words import is_russian

router = Router(name="chat")
log = structlog.get_logger("moe_system.bot")


@router.message(F.text)
async def on_text(message: Message, bot: Bot, client: MoEClient, bot_settings: BotSettings, store: BotStore,
                  metrics: BotMetrics, arrived: float) -> None:
    assert message.text is not None
    text = message.text
    if message.chat.type != "private":
        me = await bot.me()
        if not addressed(message, me, bot_settings.name_keywords) and not chimes_in(bot_settings.auto_chime_prob):
            await asyncio.to_thread(_remember, client, message, text)  # the group's talk is context for later
            return
        text = strip_mention(text, me) or text
    await answer(message, bot, client, bot_settings, store, text, metrics, arrived)


def _remember(client: MoEClient, message: Message, text: str) -> None:
    turn = turn_for(message, text)
    client.memory.add_message(turn.conversation_id, "user", turn.text, user_id=turn.user_id)


async def answer(message: Message, bot: Bot, client: MoEClient, bot_settings: BotSettings, store: BotStore,
                 text: str, metrics: BotMetrics, arrived: float) -> None:
    """Answer `text` (what `message` says) in its chat's conversation, streaming the reply in the style, persona
    and expert of the user who asked; `arrived`: when the update came (`time.perf_counter()`), for the metrics."""
    turn = turn_for(message, text)
    sender = message.from_user
    profile = None
    if sender is not None:
        # a durable write (fsync): off the event loop, which serves every other chat meanwhile
        profile, _ = await asyncio.to_thread(store.record_message, sender.id, message.chat.id, speaker(sender),
                                             len(text), is_russian(text), is_informal(text))
    style = reply_style(profile, bot_settings.max_tokens)
    persona = (profile.persona if profile is not None else None) or bot_settings.persona
    expert = (profile.expert if profile is not None else None) or "auto"
    reply_to = None if message.chat.type == "private" else message.message_id
    writer = ReplyWriter(bot, message.chat.id, reply_to, bot_settings.edit_interval_s)
    conversation = await asyncio.to_thread(client.start_conversation, turn.user_id, turn.conversation_id, expert)
    excerpts, sources = await _excerpts(client, store, message.chat.id, text)
    try:
        async with ChatActionSender.typing(bot=bot, chat_id=message.chat.id, interval=4.5):
            async for partial in stream_answer(conversation, turn.text, max_tokens=style.max_tokens,
                                               system_prompt=f"{persona} {style.instruction}{excerpts}".strip()):
                if partial.response is not None:
                    await writer.finish(partial.response.text + sources)
                    metrics.replied(partial.response.expert,
                                    None if writer.first_sent is None else writer.first_sent - arrived)
                    log.info("reply", chat=message.chat.id, expert=partial.response.expert, style=style.style,
                             tokens=partial.response.usage["completion_tokens"])
                else:
                    await writer.update(partial.text)
    except MoEError as error:
        log.warning("reply failed", chat=message.chat.id, error=str(error))
        await writer.finish(f"Sorry, I could not answer that: {error}")


async def _excerpts(client: MoEClient, store: BotStore, chat_id: int, question: str) -> tuple[str, str]:
    """The passages of the chat's documents that answer `question`, as an addition to the system prompt, and the
    line that names their documents under the reply; two empty strings when none does."""
    documents = {document.conversation_id: document.name for document in store.documents(chat_id)}
    if not documents:
        return "", ""
    found = await asyncio.to_thread(client.memory.search_passages, list(documents), question)
    if not found:
        return "", ""
    names = list(dict.fromkeys(documents[passage.conversation_id] for passage in found))
    log.info("documents", chat=chat_id, documents=names, passages=len(found))
    quoted = "\n".join(f"[{documents[passage.conversation_id]}] {passage.text}" for passage in found)
    return (f"\nAnswer from these excerpts of the chat's documents when they hold the answer:\n{quoted}",
            f"\n\n📄 {', '.join(names)}")
