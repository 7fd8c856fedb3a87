"""Token counts of memory text, with the base model's tokenizer (budgets and contexts are in its tokens)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from moe_system.errors import ConfigError


class TokenCounter:
    """Counts tokens of one Hugging Face tokenizer: `counter(text)`, or `counter.many(texts)` in one batch (the
    Rust tokenizer encodes a batch in parallel: about 5x faster than one call per text for a context's lines)."""

    def __init__(self, folder: str) -> None:
        from transformers import AutoTokenizer

        if not Path(folder).is_dir():
            raise ConfigError(f"memory tokenizer folder {folder} does not exist")
        self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)

    def __call__(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def many(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


@lru_cache(maxsize=4)
def token_counter(tokenizer: str) -> TokenCounter:
    """The (shared) counter of the Hugging Face tokenizer in folder `tokenizer`."""
    return TokenCounter(tokenizer)


def base_tokenizer_dir() -> str:
    """The configured base model's folder (its tokenizer counts the memory's tokens)."""
    from moe_system.base import base_model_dir

    return str(base_model_dir())
