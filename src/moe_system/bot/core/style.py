"""How a reply should sound for its user: the style they chose (`/style`), or one read from how they write (their
typical message length, whether they write informally, in Russian or English), as a reply length and a line for
the system prompt."""

from __future__ import annotations

import re
from dataclasses import dataclass

from moe_system.bot.core.store import Profile
from moe_system.data.lexicon import informal_markers

STYLES = ("short", "normal", "detailed")
SHORT_MESSAGE = 40  # characters: users whose messages average under this get short replies unless they choose
TOKENS = {"short": 0.25, "normal": 1.0, "detailed": 2.0}  # of `bot.max_tokens`


def is_informal(text: str) -> bool:
    """Whether a message reads as informal: a word or mark of `data/lexicon/informal.yaml`."""
    words, marks = informal_markers()
    return any(mark in text for mark in marks) or any(w in words for w in re.findall(r"[\w-]+", text.lower()))



@dataclass(frozen=True)
class ReplyStyle:
    """The reply's length in tokens and what the system prompt says about register and language."""

    style: str
    max_tokens: int
    instruction: str


def reply_style(profile: Profile | None, max_tokens: int) -> ReplyStyle:
    """The style of the next reply to `profile`'s user (`max_tokens`: the bot's normal length)."""
    if profile is None or profile.messages == 0:
        return ReplyStyle("normal", max_tokens, "")
    style = profile.style or ("short" if profile.characters / profile.messages < SHORT_MESSAGE else "normal")
    informal = 2 * profile.informal > profile.messages
    russian = profile.language == "ru"
    parts = {
        "short": "Answer in one or two short sentences.",
        "normal": "",
        "detailed": "Answer in detail, with examples where they help.",
    }[style]
    register = "Keep a casual, friendly tone." if informal else "Keep a polite, neutral tone."
    language = "Answer in Russian." if russian else "Answer in English."
    return ReplyStyle(style, max(16, round(max_tokens * TOKENS[style])), " ".join(p for p in (parts, register,
                                                                                              language) if p))
