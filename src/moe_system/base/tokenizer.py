"""Text <-> token ids for a base model, including its chat template.

The engine only sees ids; this wrapper is where text enters and leaves. The chat template comes from
the tokenizer (ChatML for SmolLM2); a model without one gets a plain "role: text" fallback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

from moe_system.errors import InvalidRequestError

FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


@dataclass
class ChatTokenizer:
    """A Hugging Face tokenizer plus the ids that end a turn."""

    tokenizer: PreTrainedTokenizerBase
    stop_token_ids: tuple[int, ...]

    @classmethod
    def from_hf(cls, tokenizer: PreTrainedTokenizerBase, generation_eos: Any = None) -> ChatTokenizer:
        """Collect end-of-turn ids from the tokenizer and the model's generation config."""
        ids: list[int] = []
        for candidate in (generation_eos, tokenizer.eos_token_id):
            for token_id in candidate if isinstance(candidate, (list, tuple)) else [candidate]:
                if isinstance(token_id, int) and token_id not in ids:
                    ids.append(token_id)
        if tokenizer.chat_template is None:
            tokenizer.chat_template = FALLBACK_TEMPLATE
        return cls(tokenizer, tuple(ids))

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def encode(self, text: str) -> list[int]:
        """Plain text to ids, without special tokens."""
        return list(self.tokenizer.encode(_encodable(text), add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        """Ids to text, dropping special tokens."""
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def chat_ids(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> list[int]:
        """Render `[{"role", "content"}, ...]` with the chat template and tokenize it."""
        if not messages:
            raise InvalidRequestError("a chat needs at least one message")
        text = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=add_generation_prompt, tokenize=False
        )
        return self.encode(str(text))


def _encodable(text: str) -> str:
    """`text` with every surrogate code point as U+FFFD: JSON may carry a lone one (`"\\ud800"` parses to it), which
    no UTF-8 tokenizer accepts (a TypeError); a valid pair never reaches here as two code points."""
    return _SURROGATES.sub("\ufffd", text)


_SURROGATES = re.compile("[\ud800-\udfff]")
