"""The optional LLM summarizer: rewrites the long-term tier's extractive summaries with the base model or an
expert (`memory.summarizer`), in the worker and only when it has nothing else to do.

Off the hot path twice over: compression never waits for it (a summary is written extractively first, and the
tiers are within budget without it), and the worker runs it between batches, so new messages are indexed and
compressed first. A rewrite is kept only when it is shorter than the extractive summary it replaces; either way
the summary is marked done and never rewritten again. On a 2-core CPU the 135M base model rewrites a summary in
a few seconds, so it keeps up with a conversation, not with an import of 750,000 tokens at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moe_system.memory.facts import sentences

# after the notes, in the user's turn: SmolLM2-135M answers an instruction placed before them (or in the system
# prompt) as if it were chatting ("I'm glad you enjoyed your trip"), and summarizes when asked after them
PROMPT = ("Notes from a conversation:\n{notes}\n\nSummarize the notes above in at most {words} words, keeping every "
          "name, number, place and date.")

Summarize = Callable[[str, int], str]  # (text, at most this many tokens) -> summary


def model_summarizer(settings: Any, model: str) -> Summarize:
    """A `Summarize` that asks `model` ("base" or an installed expert's name), greedily, through the SDK."""
    from moe_system.client import MoEClient

    client = MoEClient(settings)
    expert = None if model == "base" else model

    def summarize(text: str, max_tokens: int) -> str:
        prompt = PROMPT.format(notes=text, words=max(8, max_tokens * 2 // 3))
        return whole_sentences(client.chat([{"role": "user", "content": prompt}], expert, max_tokens=max_tokens,
                                           temperature=0.0, tools=False).text)

    return summarize


def whole_sentences(text: str) -> str:
    """`text` without a last sentence cut off by the token limit (unless that is all there is)."""
    parts = sentences(text)
    if len(parts) > 1 and not parts[-1].endswith((".", "!", "?", "…", ")", "»", '"')):
        parts = parts[:-1]
    return " ".join(parts)
