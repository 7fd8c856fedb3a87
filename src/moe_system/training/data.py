"""Loading and validating training datasets.

A dataset is a `.jsonl` file, a `.txt` file or a folder of them (searched recursively, in sorted order).
Every record becomes an `Example`, either a chat (`messages`) or a plain-text document (`text`):

- `.jsonl`, one JSON object a line (blank lines are skipped):
  `{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}` (the last message is the
  assistant's), `{"prompt": "...", "completion": "..."}` (a user turn and an assistant turn) or
  `{"text": "..."}` (a document); each may carry a `"meta"` object (`meta.difficulty`, a number, orders
  the curriculum).
- `.txt`: plain text. The whole file is one document unless it contains separator lines: a line `---`
  right after a blank line starts a new document.

Mistakes raise `DatasetError` naming the file and line (`data.jsonl:17: ...`), so a user can fix the data
before a training run starts rather than after it fails. Text is kept exactly as written (Russian
included); only `Example.key_text`, the form used for deduplication and contamination checks, is normalized.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from moe_system.errors import DatasetError

ROLES = ("system", "user", "assistant")
SUFFIXES = (".jsonl", ".txt")
_MESSAGES_SHAPE = "'messages' must be a list of {role, content}"


def normalize_text(text: str) -> str:
    """The comparison form of a text: NFKC, case-folded, whitespace runs collapsed to one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Example:
    """One training record: a chat (`messages`) or a plain-text document (`text`), never both.

    `source` and `line` say where it came from, for error messages and reports.
    """

    messages: list[dict[str, str]] | None = None
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.text is None):
            raise ValueError("an Example holds exactly one of `messages` and `text`")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    @cached_property
    def key_text(self) -> str:
        """User and assistant contents (or the document) joined and normalized; system prompts are left out
        because the same instruction on many examples says nothing about whether they are duplicates."""
        if self.messages is None:
            return normalize_text(self.text or "")
        return normalize_text("\n".join(m["content"] for m in self.messages if m["role"] != "system"))

    @cached_property
    def key_sha256(self) -> str:
        """sha256 of `key_text`: equal for exact duplicates; decides the split an example falls into."""
        return hashlib.sha256(self.key_text.encode()).hexdigest()

    @cached_property
    def sha256(self) -> str:
        """sha256 of the exact content (roles, system prompts and whitespace included), for manifests."""
        content: Any = self.messages if self.messages is not None else self.text
        return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def load_dataset(path: Path) -> list[Example]:
    """Every example in a `.jsonl` / `.txt` file or in a folder of them (hidden files and folders skipped),
    in file then line order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix in SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise DatasetError(f"{path}: no .jsonl or .txt files in this folder")
    elif path.is_file():
        if path.suffix not in SUFFIXES:
            raise DatasetError(f"{path}: unsupported file type {path.suffix!r} (expected .jsonl or .txt)")
        files = [path]
    else:
        raise DatasetError(f"{path}: no such file or folder")
    examples: list[Example] = []
    for file in files:
        text = _read_text(file)
        examples.extend(_parse_jsonl(text, str(file)) if file.suffix == ".jsonl" else _parse_txt(text, str(file)))
    return examples


def _read_text(file: Path) -> str:
    """The file as text: UTF-8 (a BOM is allowed), newlines normalized, not empty."""
    data = file.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DatasetError(f"{file}:{line}: not valid UTF-8 (byte 0x{data[err.start]:02x})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DatasetError(f"{file}: the file is empty")
    return text


def _parse_jsonl(text: str, source: str) -> list[Example]:
    examples = []
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{source}:{number}: invalid JSON ({err.msg} at column {err.colno})") from None
        try:
            examples.append(_parse_record(record, source, number))
        except ValueError as err:
            raise DatasetError(f"{source}:{number}: {err}") from None
    return examples


def _parse_record(record: Any, source: str, line: int) -> Example:
    """One JSONL object as an Example; a ValueError carries the message without the location."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    kinds = [k for k in ("messages", "prompt", "text") if k in record]
    if len(kinds) != 1:
        raise ValueError("expected exactly one of 'messages', 'prompt' + 'completion' or 'text'")
    meta = record.get("meta", {})
    if not isinstance(meta, dict):
        raise ValueError("'meta' must be an object")
    difficulty = meta.get("difficulty")
    if difficulty is not None and (isinstance(difficulty, bool) or not isinstance(difficulty, int | float)):
        raise ValueError("'meta.difficulty' must be a number")
    if kinds[0] == "text":
        return Example(text=_nonempty_string(record, "text"), meta=meta, line=line, source=source)
    if kinds[0] == "prompt":
        messages = [
            {"role": "user", "content": _nonempty_string(record, "prompt")},
            {"role": "assistant", "content": _nonempty_string(record, "completion")},
        ]
    else:
        messages = _validate_messages(record["messages"])
    return Example(messages=messages, meta=meta, line=line, source=source)


def _nonempty_string(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string")
    if not value.strip():
        raise ValueError(f"{key!r} is empty")
    return value


def _validate_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise ValueError(_MESSAGES_SHAPE)
    clean = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) \
                or not isinstance(message.get("content"), str):
            raise ValueError(_MESSAGES_SHAPE)
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} in message {index} (expected system, user or assistant)")
        if not content.strip():
            raise ValueError(f"message {index} ({role}) has empty content")
        clean.append({"role": role, "content": content})
    if clean[-1]["role"] != "assistant":
        raise ValueError("the last message must be from the assistant")
    return clean


def _parse_txt(text: str, source: str) -> list[Example]:
    """Documents of a text file: split at `---` lines that follow a blank line, else the whole file.
    A separator after the last document is allowed."""
    lines = text.split("\n")
    starts: list[int] = [1]
    chunks: list[list[str]] = []
    current: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line.strip() == "---" and current and not current[-1].strip():
            chunks.append(current)
            starts.append(number + 1)
            current = []
        else:
            current.append(line)
    chunks.append(current)
    if len(chunks) > 1 and not "".join(chunks[-1]).strip():  # a separator after the last document
        chunks.pop()
        starts.pop()
    examples = []
    for start, chunk in zip(starts, chunks, strict=True):
        document = "\n".join(chunk).strip()
        if not document:
            raise DatasetError(f"{source}:{start}: empty document")
        leading_blank = next(i for i, line in enumerate(chunk) if line.strip())
        examples.append(Example(text=document, line=start + leading_blank, source=source))
    return examples
