"""Conversations of the bot's chats in the three-level memory, and when a group message is meant for the bot.

A private chat is one conversation per user (its facts follow the user); a group chat is one conversation per chat,
each message stored as "Name: text" so the model can tell speakers apart.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aiogram.types import Message, User


@dataclass(frozen=True)
class ChatTurn:
    """Where a message goes in the memory and what is stored."""

    conversation_id: str
    user_id: str | None  # the memory's owner of the conversation's facts (None for a group)
    text: str


def turn_for(message: Message, text: str) -> ChatTurn:
    """The memory conversation of `message`'s chat and the text to store for it."""
    chat, sender = message.chat, message.from_user
    if chat.type == "private":
        return ChatTurn(f"tg-{chat.id}", f"tg-{sender.id}" if sender else None, text)
    # group ids are negative; the web UI and API name conversations by [A-Za-z0-9_-] ids, so "-" would do, but
    # "tg-chat-n100123" reads better than "tg-chat--100123"
    number = f"n{-chat.id}" if chat.id < 0 else str(chat.id)
    return ChatTurn(f"tg-chat-{number}", None, f"{speaker(sender)}: {text}")


def speaker(user: User | None) -> str:
    """How a group's member is named in its conversation."""
    if user is None:
        return "Someone"
    return " ".join(part for part in (user.first_name, user.last_name) if part) or user.username or str(user.id)


def addressed(message: Message, me: User, keywords: Sequence[str]) -> bool:
    """Whether a group message is meant for the bot: it mentions the bot, replies to it, or names it (one of
    `keywords` as a word, in any case)."""
    text = message.text or message.caption or ""
    if me.username and f"@{me.username.lower()}" in text.lower():
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
        return True
    return any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) for word in keywords if word)


def strip_mention(text: str, me: User) -> str:
    """The message without the bot's @mention."""
    if not me.username:
        return text.strip()
    return re.sub(rf"@{re.escape(me.username)}\b", "", text, flags=re.IGNORECASE).strip()


def chimes_in(probability: float, rng: random.Random | None = None) -> bool:
    """Whether to answer a group message that did not address the bot."""
    return probability > 0 and (rng.random() if rng is not None else random.random()) < probability
