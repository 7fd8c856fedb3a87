"""Token counts of memory text, with the base model's tokenizer (budgets and contexts are in its tokens)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moe_system.errors import ConfigError

if TYPE_CHECKING:
    from moe_system.config import Settings

LINE_CACHE = 32_768  # lines whose counts `lines` keeps (facts, titles, recent messages come back on every request)


class TokenCounter:
    """Counts tokens of one Hugging Face tokenizer: `counter(text)`, `counter.many(texts)` in one batch (the Rust
    tokenizer encodes a batch in parallel: about 5x faster than one call per text for a context's lines), and
    `counter.lines(text)`, the same exact count as `counter(text)` assembled from cached counts of its lines."""

    def __init__(self, folder: str) -> None:
        from transformers import AutoTokenizer

        if not Path(folder).is_dir():
            raise ConfigError(f"memory tokenizer folder {folder} does not exist")
        self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self._additive = _splits_lines_apart(self._tokenizer)
        self._newline = self("\n")
        self._line_counts: dict[str, int] = {}  # line -> tokens, emptied when it grows past LINE_CACHE

    def __call__(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def many(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def lines(self, text: str) -> int:
        """The exact count of `text` (as `counter(text)`), summed from the counts of its lines, which are cached.

        Where the tokenizer cuts text into pieces at every line break before its model sees it (`_splits_lines_
        apart`) and no line has whitespace at its ends (two line breaks in a row at most, none at the text's
        ends), a text's tokens are its lines' tokens plus one newline token per line break: the pre-tokenizer's
        regex makes each lone line break a piece of its own and a line's pieces the same as on its own. Otherwise
        the whole text is counted. A context repeats most of its lines from one request to the next, so this is
        about ten times faster than counting its 16,000 characters again."""
        lines = text.split("\n")
        if (not self._additive or text.startswith("\n") or text.endswith("\n") or "\n\n\n" in text
                or any(line != line.strip() for line in lines)):
            return self(text)
        known = {line: count for line in lines if line and (count := self._line_counts.get(line)) is not None}
        unknown = list(dict.fromkeys(line for line in lines if line and line not in known))  # local copy above:
        fresh = dict(zip(unknown, self.many(unknown), strict=True))  # other threads may clear the cache
        if len(self._line_counts) + len(fresh) > LINE_CACHE:
            self._line_counts.clear()
        self._line_counts.update(fresh)
        known |= fresh
        return sum(known[line] for line in lines if line) + self._newline * (len(lines) - 1)


def _splits_lines_apart(tokenizer: Any) -> bool:
    """Whether `TokenCounter.lines` may add up line counts for this tokenizer: no normalizer, a byte-level
    pre-tokenizer splitting with its (GPT-2) regex and adding no prefix space, and no added token that could
    take in a line break (one containing one, or stripping the whitespace beside it). SmolLM2's and GPT-2's are
    such; Llama 3's regex, for one, joins punctuation with the line break after it, so it is counted whole."""
    from tokenizers import pre_tokenizers

    backend = tokenizer.backend_tokenizer
    pre = backend.pre_tokenizer
    if backend.normalizer is not None or not isinstance(pre, pre_tokenizers.ByteLevel):
        return False
    if not pre.use_regex or pre.add_prefix_space:
        return False
    return not any("\n" in added.content or added.lstrip or added.rstrip
                   for added in tokenizer.added_tokens_decoder.values())


@lru_cache(maxsize=4)
def token_counter(tokenizer: str) -> TokenCounter:
    """The (shared) counter of the Hugging Face tokenizer in folder `tokenizer`."""
    return TokenCounter(tokenizer)


def base_tokenizer_dir(settings: Settings | None = None) -> str:
    """The configured base model's folder (its tokenizer counts the memory's tokens); `settings` default: loaded."""
    from moe_system.base import base_model_dir

    return str(base_model_dir(settings))
