"""Examples to token ids and labels, and labels to padded batches.

Chats: the loss covers exactly what the model has to produce, i.e. each assistant message's content and the
end-of-turn token that follows it (so the model learns to stop); system and user turns and the template's
role headers get the label -100. The assistant spans are found through the tokenizer's own chat template,
for any template: rendering `messages[:i]` with the generation prompt gives the text before assistant message
`i`, rendering `messages[:i + 1]` without it gives the text up to the end of that turn. Each rendering must be
a prefix of the full conversation (else the template rewrites earlier turns and `DatasetError` says so), and
the conversation is tokenized segment by segment at these boundaries, which is also how the model sees it when
it generates: the prompt tokenized up to the assistant header, then its own tokens. Labels stop after the
last end-of-turn id in a span (`ChatTokenizer.stop_token_ids`), so e.g. ChatML's newline after `<|im_end|>`
is not trained. Long chats keep their start; a chat left with no assistant token is dropped.

Plain text: a document is tokenized whole, an EOS appended, and cut into windows of at most `max_len` tokens;
every token is a label. Documents never share a window: packing several into one sequence would let
attention cross from one document into the next, so each window holds one document and batches are padded
instead (`length_bucketed_batches` groups similar lengths to keep that padding small).

Labels are aligned with `input_ids`; the model shifts them (the Hugging Face convention).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from jinja2 import TemplateError

from moe_system.errors import DatasetError
from moe_system.training.data import Example

if TYPE_CHECKING:
    from moe_system.base.tokenizer import ChatTokenizer

IGNORE_INDEX = -100
BUCKET_BATCHES = 50  # batches per length bucket: large enough to sort well, small enough to stay shuffled


@dataclass(frozen=True)
class EncodedExample:
    """One training sequence; `labels[i]` is `input_ids[i]` where the loss applies, else -100."""

    input_ids: list[int]
    labels: list[int]
    difficulty: float = 0.0


@dataclass
class EncodedDataset:
    """The sequences of a dataset, and how many chats were cut at `max_len` or dropped (nothing left to learn)."""

    examples: list[EncodedExample] = field(default_factory=list)
    truncated: int = 0
    dropped: int = 0


def encode_dataset(examples: Sequence[Example], tokenizer: ChatTokenizer, max_len: int) -> EncodedDataset:
    """Every example encoded: a chat as one sequence, a document as one or more windows."""
    _check_max_len(max_len)
    result = EncodedDataset()
    for example in examples:
        if not example.is_chat:
            result.examples.extend(encode_text(example, tokenizer, max_len))
            continue
        input_ids, labels = _chat_ids_labels(example, tokenizer)
        result.truncated += len(input_ids) > max_len
        encoded = _truncated(example, input_ids, labels, max_len)
        if encoded is None:
            result.dropped += 1
        else:
            result.examples.append(encoded)
    return result


def encode_chat(example: Example, tokenizer: ChatTokenizer, max_len: int) -> EncodedExample | None:
    """A chat as ids with labels on the assistant turns; None when truncation leaves no assistant token."""
    _check_max_len(max_len)
    if not example.is_chat:
        raise ValueError("encode_chat needs a chat example")
    return _truncated(example, *_chat_ids_labels(example, tokenizer), max_len)


def encode_text(example: Example, tokenizer: ChatTokenizer, max_len: int) -> list[EncodedExample]:
    """A document as consecutive windows of at most `max_len` tokens, the last ending with EOS. A final
    window of a single token (nothing to predict inside it) is left out."""
    _check_max_len(max_len)
    if example.text is None:
        raise ValueError("encode_text needs a plain-text example")
    ids = [*tokenizer.encode(example.text), _eos_id(tokenizer)]
    windows = [ids[start : start + max_len] for start in range(0, len(ids), max_len)]
    return [
        EncodedExample(window, list(window), difficulty(example, len(window), max_len))
        for window in windows
        if len(window) > 1
    ]


def difficulty(example: Example, n_tokens: int, max_len: int) -> float:
    """Curriculum key, higher is harder: `meta["difficulty"]` when the example has one, else its length as a
    fraction of `max_len` (0..1). Give all examples a `meta.difficulty` or none, so the scales do not mix."""
    value = example.meta.get("difficulty")
    return float(value) if value is not None else min(1.0, n_tokens / max_len)


def pad_token_id(tokenizer: ChatTokenizer) -> int:
    """The id to pad with: the tokenizer's pad token, else its EOS (padding is masked either way)."""
    pad = tokenizer.tokenizer.pad_token_id
    return pad if isinstance(pad, int) else _eos_id(tokenizer)


def collate(examples: Sequence[EncodedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids`, `labels` (-100 on padding) and `attention_mask`, all int64 `(batch, longest)`."""
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        length = len(example.input_ids)
        input_ids[row, :length] = torch.tensor(example.input_ids, dtype=torch.long)
        labels[row, :length] = torch.tensor(example.labels, dtype=torch.long)
        attention_mask[row, :length] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def length_bucketed_batches(
    encoded: Sequence[EncodedExample], batch_size: int, seed: int, shuffle: bool = True
) -> list[list[int]]:
    """Batches of indices into `encoded` whose sequences have similar lengths.

    The indices are cut into buckets of `batch_size * BUCKET_BATCHES`, each bucket is sorted by length and
    cut into batches. With `shuffle`, the indices are shuffled before and the batches after (seeded, so the
    same seed gives the same batches); without it the input order is kept at bucket granularity, which
    preserves a curriculum order.
    """
    if batch_size < 1:
        raise DatasetError(f"batch size must be at least 1, got {batch_size}")
    rng = random.Random(seed)
    order = list(range(len(encoded)))
    if shuffle:
        rng.shuffle(order)
    bucket_size = batch_size * BUCKET_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket_size):
        bucket = sorted(order[start : start + bucket_size], key=lambda i: len(encoded[i].input_ids))
        batches.extend(bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size))
    if shuffle:
        rng.shuffle(batches)
    return batches


def _check_max_len(max_len: int) -> None:
    if max_len < 2:
        raise DatasetError(f"max_len must be at least 2 tokens, got {max_len}")


def _eos_id(tokenizer: ChatTokenizer) -> int:
    eos = tokenizer.tokenizer.eos_token_id
    if isinstance(eos, int):
        return eos
    if tokenizer.stop_token_ids:
        return tokenizer.stop_token_ids[0]
    raise DatasetError("the tokenizer has no end-of-sequence token to end documents with")


def _truncated(example: Example, input_ids: list[int], labels: list[int], max_len: int) -> EncodedExample | None:
    input_ids, labels = input_ids[:max_len], labels[:max_len]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return EncodedExample(input_ids, labels, difficulty(example, len(input_ids), max_len))


def _chat_ids_labels(example: Example, tokenizer: ChatTokenizer) -> tuple[list[int], list[int]]:
    """The whole chat's ids and labels, from segments of the rendered text (see the module docstring)."""
    messages = example.messages or []
    full = _render(example, tokenizer, messages, generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _render(example, tokenizer, messages[:i], generation_prompt=True)
        through = _render(example, tokenizer, messages[: i + 1], generation_prompt=False)
        previous_end = spans[-1][1] if spans else 0
        if not (through.startswith(before) and full.startswith(through) and len(before) >= previous_end):
            raise DatasetError(
                f"{example.where}: the chat template is not prefix-stable at message {i} (rendering the "
                "conversation up to it does not give the start of the whole), so the assistant tokens cannot be "
                "located; use a template that renders earlier turns the same way whatever follows"
            )
        spans.append((len(before), len(through)))
    stops = set(tokenizer.stop_token_ids)
    input_ids: list[int] = []
    labels: list[int] = []
    position = 0
    for start, end in spans:
        prompt = tokenizer.encode(full[position:start])
        answer = tokenizer.encode(full[start:end])
        trained = max((k + 1 for k, token in enumerate(answer) if token in stops), default=len(answer))
        input_ids += prompt + answer
        labels += [IGNORE_INDEX] * len(prompt) + answer[:trained] + [IGNORE_INDEX] * (len(answer) - trained)
        position = end
    tail = tokenizer.encode(full[position:])
    return input_ids + tail, labels + [IGNORE_INDEX] * len(tail)


def _render(example: Example, tokenizer: ChatTokenizer, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    try:
        return str(tokenizer.tokenizer.apply_chat_template(
            messages, add_generation_prompt=generation_prompt, tokenize=False
        ))
    except (TemplateError, ValueError) as err:
        raise DatasetError(f"{example.where}: the chat template cannot render this conversation ({err})") from None
