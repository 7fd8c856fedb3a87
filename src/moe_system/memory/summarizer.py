"""The optional LLM summarizer: rewrites the long-term tier's extractive summaries with the base model or an
expert (`memory.summarizer`), in the worker and only when it has nothing else to do. The model comes from the
caller, as a `Summarize` callable built from a `SummarizerRef` (the SDK's is `client.model_summarizer`).

Off the hot path twice over: compression never waits for it (a summary is written extractively first, and the
tiers are within budget without it), and the worker runs it between batches, so new messages are indexed and
compressed first. A rewrite is kept only when it is shorter than the extractive summary it replaces; either way
the summary is marked done and never rewritten again. On a 2-core CPU the 135M base model rewrites a summary in
a few seconds, so it keeps up with a conversation, not with an import of 750,000 tokens at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moe_system.memory.facts import sentences

# after the notes, in the user's turn: SmolLM2-135M answers an instruction placed before them (or in the system
# prompt) as if it were chatting ("I'm glad you enjoyed your trip"), and summarizes when asked after them
PROMPT = ("Notes from a conversation:\n{notes}\n\nSummarize the notes above in at most {words} words, keeping every "
          "name, number, place and date.")

Summarize = Callable[[str, int], str]  # (text, at most this many tokens) -> summary


@dataclass(frozen=True)
class SummarizerRef:
    """How to build the `Summarize` callable in whichever process needs it (the memory's worker is a separate
    process, so it gets this reference, not a live object): `factory` is an importable `"module:function"` that is
    called with `options` (JSON values) and returns the callable. The caller that holds a model (the SDK,
    `client.summarizer_ref`) makes one; the memory never builds a model itself."""

    factory: str
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Summarize:
        module, _, name = self.factory.partition(":")
        function: Callable[..., Summarize] = getattr(importlib.import_module(module), name)
        return function(**self.options)

    def to_json(self) -> dict[str, Any]:
        return {"factory": self.factory, "options": self.options}


def whole_sentences(text: str) -> str:
    """`text` without a last sentence cut off by the token limit (unless that is all there is)."""
    parts = sentences(text)
    if len(parts) > 1 and not parts[-1].endswith((".", "!", "?", "…", ")", "»", '"')):
        parts = parts[:-1]
    return " ".join(parts)
