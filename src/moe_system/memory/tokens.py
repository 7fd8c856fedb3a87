"""Token counts of memory text, with the base model's tokenizer (budgets and contexts are in its tokens)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from moe_system.errors import ConfigError


@lru_cache(maxsize=4)
def token_counter(tokenizer: str) -> Callable[[str], int]:
    """A function text -> token count, for the Hugging Face tokenizer in folder `tokenizer`."""
    from transformers import AutoTokenizer

    if not Path(tokenizer).is_dir():
        raise ConfigError(f"memory tokenizer folder {tokenizer} does not exist")
    loaded = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)

    def count(text: str) -> int:
        return len(loaded.encode(text, add_special_tokens=False))

    return count


def base_tokenizer_dir() -> str:
    """The configured base model's folder (its tokenizer counts the memory's tokens)."""
    from moe_system.base import base_model_dir

    return str(base_model_dir())
