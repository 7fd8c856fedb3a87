"""Documents: a .txt, .md or .pdf sent to the bot (in a group: with a caption that addresses it) is read, cut into
passages and kept in the memory for that chat; `/docs` lists the chat's documents, `/forget_doc NAME` deletes one.
Questions in the chat are then answered from them (`chat.answer`, which names the document it used)."""

from __future__ import annotations

import asyncio
import re
import uuid

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.chat_action import ChatActionSender

from moe_system.bot.core.chats import addressed, strip_mention
from moe_system.bot.core.observe import BotMetrics
from moe_system.bot.core.store import BotStore, Document
from moe_system.bot.handlers.chat import answer
from moe_system.bot.services.documents import SUFFIXES, UnreadableDocument, document_text
from moe_system.bot.services.replies import downloaded
from moe_system.client import MoEClient
from moe_system.config import BotSettings
from moe_system.errors import MoEError

router = Router(name="documents")
_UNSAFE = re.compile(r"[^\w.\- ]+")


@router.message(F.document)
async def on_document(message: Message, bot: Bot, client: MoEClient, bot_settings: BotSettings,
                      store: BotStore, metrics: BotMetrics, arrived: float) -> None:
    """Read, index and record the document; then answer its caption, if it asks something."""
    assert message.document is not None
    caption = message.caption or ""
    if message.chat.type != "private":
        me = await bot.me()
        if not addressed(message, me, bot_settings.name_keywords):
            return  # a file shared among the group's members, not given to the bot
        caption = strip_mention(caption, me)
    if message.from_user is None:
        return
    name = _UNSAFE.sub("_", message.document.file_name or "document.txt").strip()[:100] or "document.txt"
    if not name.lower().endswith(SUFFIXES):
        await message.answer(f"I read {', '.join(SUFFIXES)} files; {name} is not one of them.")
        return
    size = message.document.file_size or 0
    if size > bot_settings.document_max_mb * 2**20:
        await message.answer(f"{name} is {size / 2**20:.1f} MB; I read documents of up to "
                             f"{bot_settings.document_max_mb:g} MB.")
        return
    async with ChatActionSender.upload_document(bot=bot, chat_id=message.chat.id):
        data = await downloaded(bot, message.document)
        try:
            document = await asyncio.to_thread(_index, client, store, bot_settings, message.chat.id,
                                               message.from_user.id, name, data)
        except (UnreadableDocument, MoEError) as error:
            await message.answer(str(error))
            return
    await message.answer(f"Read {document.name}: {document.passages} passages, {document.tokens} tokens. Ask me "
                         "about it; /docs lists this chat's documents, /forget_doc NAME deletes one.")
    if caption.strip():
        await answer(message, bot, client, bot_settings, store, caption.strip(), metrics, arrived)


def _index(client: MoEClient, store: BotStore, bot_settings: BotSettings, chat_id: int, user_id: int, name: str,
           data: bytes) -> Document:
    """The document read and kept: its passages in a memory conversation of its own (owned by the user who sent
    it, so their /forget deletes it), replacing the chat's document of the same name."""
    text = document_text(name, data)
    tokens = client.memory.count_tokens(text)
    limit = min(bot_settings.document_max_tokens, client.memory.budgets.longterm)
    if tokens > limit:
        raise UnreadableDocument(f"{name} is {tokens:,} tokens long; I keep documents of up to {limit:,} tokens.")
    replaced = store.remove_document(chat_id, name)
    if replaced is not None:
        client.memory.forget_conversation(replaced.conversation_id)
    conversation_id = f"tg-doc-{uuid.uuid4().hex[:16]}"
    passages = client.memory.add_document(conversation_id, text, user_id=f"tg-{user_id}")
    return store.add_document(chat_id, user_id, name, conversation_id, passages, tokens)


@router.message(Command("docs"))
async def docs(message: Message, store: BotStore) -> None:
    documents = store.documents(message.chat.id)
    if not documents:
        await message.answer("No documents here yet: send me a .txt, .md or .pdf file and ask about it.")
        return
    await message.answer("Documents of this chat:\n" + "\n".join(
        f"• {document.name} — {document.passages} passages, {document.tokens} tokens" for document in documents))


@router.message(Command("forget_doc"))
async def forget_doc(message: Message, command: CommandObject, client: MoEClient, store: BotStore) -> None:
    name = (command.args or "").strip()
    if not name:
        await message.answer("Usage: /forget_doc NAME (see /docs)")
        return
    document = store.remove_document(message.chat.id, name)
    if document is None:
        await message.answer(f"This chat has no document {name}; /docs lists them.")
        return
    await asyncio.to_thread(client.memory.forget_conversation, document.conversation_id)
    await message.answer(f"Deleted {document.name} and its {document.passages} passages.")
