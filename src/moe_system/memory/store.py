"""The storage interface of the three-level memory, and the rows it stores.

Every change that moves material between tiers is ONE transaction of the store (`demote_messages`,
`demote_chunks`, `trim_longterm`), so a crash (kill -9) at any moment leaves each tier either before or after
the move, never half-moved. `add_message` commits before it returns: an acknowledged message is never lost.
The slow part of a move (compressing, embedding) happens before the transaction, outside any lock.

Two stores implement it: `SQLiteStore` (WAL, the default, under `MOE_HOME/memory`) and `PostgresStore`
(`memory.database_url`). Lexical search is the store's own full-text index (SQLite FTS5 with BM25; PostgreSQL
`tsvector` ranking), over the Snowball stems the caller gives it, so Russian and English inflections meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np

LOW_WATER = 0.9  # an overflowing tier sheds its oldest part down to this share of its budget
PREFIX_FROM = 4  # stems at least this long also match longer words in lexical search (Snowball is not always
# consistent: "попугай" -> "попуга" but "попугая" -> "попуг"; "allergy" -> "allergi" but "allergic" -> "allerg")

Kind = Literal["message", "chunk", "fact"]
Tier = Literal["obsolete", "longterm"]


@dataclass(frozen=True)
class Budgets:
    """Token budgets of the three tiers (what each may hold at rest)."""

    current: int
    obsolete: int
    longterm: int


@dataclass(frozen=True)
class MessageRow:
    id: int
    conversation_id: str
    seq: int  # turn number within the conversation, from 1
    role: str
    text: str
    tokens: int
    created: float


@dataclass(frozen=True)
class ChunkRow:
    """Compressed material: an obsolete chunk or a long-term summary of turns `first_seq..last_seq`."""

    id: int
    conversation_id: str
    tier: Tier
    text: str
    tokens: int
    first_seq: int
    last_seq: int
    created: float


@dataclass(frozen=True)
class FactRow:
    """A statement about the user or their world; `key` names its subject (a newer fact with the same key in
    the same scope supersedes it)."""

    id: int
    conversation_id: str
    user_id: str
    key: str
    value: str
    text: str
    tokens: int
    seq: int
    created: float
    superseded_by: int | None


@dataclass(frozen=True)
class NewChunk:
    text: str
    stems: str  # space-separated stems for the lexical index
    tokens: int
    first_seq: int
    last_seq: int
    vector: bytes | None  # float32 [dim], unit length


@dataclass(frozen=True)
class NewFact:
    message_id: int
    key: str
    value: str
    text: str
    stems: str
    tokens: int
    vector: bytes | None
    about_others: bool = False  # names another person ("my sister's dog …"): trimmed before the user's own


@dataclass(frozen=True)
class ConversationRow:
    id: str
    user_id: str
    created: float
    current_tokens: int
    moving_tokens: int  # left the current tier, not yet compressed into the obsolete one
    obsolete_tokens: int
    longterm_tokens: int
    messages: int  # turns so far (the last seq)


class MemoryStore(Protocol):
    """What the memory needs from a database; see the module docstring for the guarantees."""

    def add_message(self, conversation_id: str, user_id: str | None, role: str, text: str, tokens: int,
                    current_budget: int) -> MessageRow:
        """Insert and commit one message (a new conversation belongs to `user_id`, "" for none; `None` for an
        existing one means its own user, another user id raises `MoEError`); when the current tier then exceeds
        `current_budget`, its oldest
        messages leave it in the same transaction (state 'moving': the background compresses them)."""
        ...

    def conversation(self, conversation_id: str) -> ConversationRow | None: ...

    def conversations(self, user_id: str | None = None) -> list[ConversationRow]: ...

    def recent_messages(self, conversation_id: str, limit: int, before: int | None = None) -> list[MessageRow]:
        """The newest `limit` messages still in the current tier (of those with `seq < before`), oldest first."""
        ...

    def unindexed_messages(self, limit: int) -> list[MessageRow]:
        """Messages whose facts and lexical entry are not written yet, oldest first."""
        ...

    def add_chunks(self, conversation_id: str, user_id: str | None, chunks: Sequence[NewChunk]) -> None:
        """Insert and commit `chunks` into the long-term tier of a conversation (created for `user_id` when new,
        owned as in `add_message`), marked refined: passages of a document, kept as written (the summarizer never
        rewrites them)."""
        ...

    def index_messages(self, stems: dict[int, str], facts: Sequence[NewFact]) -> None:
        """Write the lexical entries of these messages and their facts; a fact supersedes the live facts of its
        scope with the same key. Messages gone meanwhile (forgotten, moved) are skipped."""
        ...

    def pending(self, budgets: Budgets) -> list[str]:
        """Conversations with work for the background: moving messages, or a tier over its budget."""
        ...

    def has_unindexed(self) -> bool: ...

    def moving_messages(self, conversation_id: str, limit: int) -> list[MessageRow]: ...

    def demote_messages(self, conversation_id: str, message_ids: Sequence[int], chunks: Sequence[NewChunk]) -> bool:
        """Replace moving messages by obsolete chunks, atomically; False (and nothing changed) if any of the
        messages is no longer there."""
        ...

    def oldest_chunks(self, conversation_id: str, tier: Tier, limit: int) -> list[ChunkRow]: ...

    def demote_chunks(self, conversation_id: str, chunk_ids: Sequence[int], summaries: Sequence[NewChunk]) -> bool:
        """Replace obsolete chunks by long-term summaries, atomically; False if any chunk is gone."""
        ...

    def unrefined_summary(self) -> ChunkRow | None:
        """The newest long-term summary (of any conversation) the summarizer has not rewritten yet, if any."""
        ...

    def refine_summary(self, conversation_id: str, chunk_id: int, summary: NewChunk | None) -> bool:
        """Replace a long-term summary by its rewrite `summary`, atomically, or with None only mark it done; either
        way it is never offered again. False if the summary is gone."""
        ...

    def trim_longterm(self, conversation_id: str, budget: int) -> int:
        """Drop superseded facts, then the oldest summaries, then the oldest facts about other people, then the
        oldest facts until the long-term tier fits `budget`; returns the tokens dropped."""
        ...

    def search(self, conversation_id: str, kind: Kind, stems: Sequence[str], limit: int) -> list[int]:
        """Ids of the best lexical matches (any of `stems`), best first. Facts are searched in the
        conversation's scope (its user's facts when it has a user); superseded facts never match."""
        ...

    def vectors(self, conversation_id: str, kind: Kind, after_id: int) -> list[tuple[int, bytes]]:
        """(id, vector) of the live chunks or facts of the conversation's scope with id > after_id."""
        ...

    ranks_vectors: bool
    """Whether `nearest` ranks vectors in the database (PostgreSQL with pgvector); otherwise the caller ranks
    `vectors` in-process."""

    def nearest(self, conversation_id: str, kind: Kind, vector: np.ndarray, limit: int) -> list[int]:
        """Ids of the live chunks or facts of the conversation's scope nearest to `vector` ([384], normalized) by
        cosine, best first (only where `ranks_vectors`)."""
        ...

    def revision(self, conversation_id: str) -> int:
        """Grows whenever a chunk or fact of the conversation's scope is deleted or superseded."""
        ...

    def chunks(self, ids: Sequence[int]) -> list[ChunkRow]: ...

    def facts(self, ids: Sequence[int]) -> list[FactRow]: ...

    def messages(self, ids: Sequence[int]) -> list[MessageRow]: ...

    def live_facts(self, conversation_id: str, limit: int = 1_000_000) -> list[FactRow]:
        """The newest `limit` facts in force for the conversation's scope, oldest first."""
        ...

    def forget_conversation(self, conversation_id: str) -> int:
        """Delete everything of one conversation; returns the rows deleted."""
        ...

    def forget_user(self, user_id: str) -> int:
        """Delete every conversation, message, chunk and fact of a user; returns the rows deleted."""
        ...

    def rows_of_user(self, user_id: str) -> int:
        """How many rows anywhere still belong to the user (0 after `forget_user`)."""
        ...

    def checkpoint(self) -> None:
        """Housekeeping after a batch of background work (SQLite: fold the WAL into the database)."""
        ...

    def close(self) -> None: ...
