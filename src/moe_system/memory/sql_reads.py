"""The reads `SQLiteStore` and `PostgresStore` share: the same queries over the same tables, written once.

The stores differ in how they write (transactions, locking) and search (FTS5 vs `tsvector`), not in how they read
rows back. The SQL here uses `?` placeholders, which PostgreSQL's `_all` turns into psycopg's `%s`; so it holds no
other `?` and no `%`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from moe_system.memory.store import Budgets, ChunkRow, ConversationRow, FactRow, Kind, MessageRow, Tier

if TYPE_CHECKING:
    import numpy as np

_CONVERSATION = """SELECT c.id, u.id, c.created, c.current_tokens, c.moving_tokens, c.obsolete_tokens,
    c.longterm_tokens, c.seq FROM conversations c JOIN users u ON u.key = c.user_key"""
_MESSAGE = "SELECT m.id, c.id, m.seq, m.role, m.text, m.tokens, m.created FROM messages m " \
           "JOIN conversations c ON c.key = m.conv_key"
_CHUNK = "SELECT k.id, c.id, k.tier, k.text, k.tokens, k.first_seq, k.last_seq, k.created FROM chunks k " \
         "JOIN conversations c ON c.key = k.conv_key"
_FACT = "SELECT f.id, c.id, u.id, f.key, f.value, f.text, f.tokens, f.seq, f.created, f.superseded_by FROM facts f " \
        "JOIN conversations c ON c.key = f.conv_key JOIN users u ON u.key = f.user_key"


def scope_of_facts(conv_key: int, user_key: int, user_id: str) -> str:
    """The scope of a conversation's facts: its user's when it has one (facts follow the user), else its own."""
    return f"u{user_key}" if user_id else f"c{conv_key}"


class SQLReads(ABC):
    """The read methods of `MemoryStore`, over what each store provides: `_all`, `_one_of` and `_UNINDEXED`."""

    _UNINDEXED: ClassVar[str]
    """The condition "message `m` is not indexed yet", spelled as the store's partial index `messages_unindexed`
    spells it (SQLite: an INTEGER 0/1, PostgreSQL: a BOOLEAN), so that the queries below use that index."""
    _UNREFINED: ClassVar[str]
    """The condition "chunk `k` is not rewritten by the summarizer yet", spelled as the partial index
    `chunks_unrefined` spells it."""

    @abstractmethod
    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read query, with `?` placeholders."""

    @abstractmethod
    def _one_of(self, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
        """The condition "`column` is one of `ids`" (not empty) and its arguments, for `_all`."""

    def _scope(self, conversation_id: str) -> tuple[int, str] | None:
        """(conversation key, fact scope) — the scope is the user's when the conversation has one."""
        rows = self._all("SELECT c.key, c.user_key, u.id FROM conversations c JOIN users u ON u.key = c.user_key "
                         "WHERE c.id = ?", (conversation_id,))
        if not rows:
            return None
        key, user_key, user_id = rows[0]
        return int(key), scope_of_facts(key, user_key, user_id)

    def _by_ids(self, select: str, column: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        """The rows of `select` whose `column` is one of `ids`, by that column."""
        if not ids:
            return []
        where, args = self._one_of(column, ids)
        return self._all(f"{select} WHERE {where} ORDER BY {column}", args)

    # ---- conversations and messages

    def conversation(self, conversation_id: str) -> ConversationRow | None:
        rows = self._all(_CONVERSATION + " WHERE c.id = ?", (conversation_id,))
        return ConversationRow(*rows[0]) if rows else None

    def conversations(self, user_id: str | None = None) -> list[ConversationRow]:
        if user_id is None:
            return [ConversationRow(*row) for row in self._all(_CONVERSATION + " ORDER BY c.created, c.key")]
        rows = self._all(_CONVERSATION + " WHERE u.id = ? ORDER BY c.created, c.key", (user_id,))
        return [ConversationRow(*row) for row in rows]

    def recent_messages(self, conversation_id: str, limit: int, before: int | None = None) -> list[MessageRow]:
        rows = self._all(_MESSAGE + " WHERE c.id = ? AND m.state = 'current' AND m.seq < ? ORDER BY m.seq DESC "
                         "LIMIT ?", (conversation_id, before if before is not None else 2**62, limit))
        return [MessageRow(*row) for row in reversed(rows)]

    def unindexed_messages(self, limit: int) -> list[MessageRow]:
        rows = self._all(f"{_MESSAGE} WHERE {self._UNINDEXED} ORDER BY m.id LIMIT ?", (limit,))
        return [MessageRow(*row) for row in rows]

    def has_unindexed(self) -> bool:
        return bool(self._all(f"SELECT 1 FROM messages m WHERE {self._UNINDEXED} LIMIT 1"))

    # ---- moving down

    def pending(self, budgets: Budgets) -> list[str]:
        rows = self._all("SELECT id FROM conversations WHERE moving_tokens > 0 OR obsolete_tokens > ? "
                         "OR longterm_tokens > ? ORDER BY key", (budgets.obsolete, budgets.longterm))
        return [row[0] for row in rows]

    def moving_messages(self, conversation_id: str, limit: int) -> list[MessageRow]:
        rows = self._all(_MESSAGE + " WHERE c.id = ? AND m.state = 'moving' AND m.indexed ORDER BY m.seq LIMIT ?",
                         (conversation_id, limit))
        return [MessageRow(*row) for row in rows]

    def oldest_chunks(self, conversation_id: str, tier: Tier, limit: int) -> list[ChunkRow]:
        rows = self._all(_CHUNK + " WHERE c.id = ? AND k.tier = ? ORDER BY k.first_seq, k.id LIMIT ?",
                         (conversation_id, tier, limit))
        return [ChunkRow(*row) for row in rows]

    def unrefined_summary(self) -> ChunkRow | None:
        rows = self._all(f"{_CHUNK} WHERE k.tier = 'longterm' AND {self._UNREFINED} ORDER BY k.id DESC LIMIT 1")
        return ChunkRow(*rows[0]) if rows else None

    # ---- retrieval

    def vectors(self, conversation_id: str, kind: Kind, after_id: int) -> list[tuple[int, bytes]]:
        scoped = self._scope(conversation_id)
        if scoped is None:
            return []
        key, scope = scoped
        if kind == "fact":
            return self._all("SELECT id, vector FROM facts WHERE scope = ? AND superseded_by IS NULL AND id > ? "
                             "AND vector IS NOT NULL ORDER BY id", (scope, after_id))
        return self._all("SELECT id, vector FROM chunks WHERE conv_key = ? AND id > ? AND vector IS NOT NULL "
                         "ORDER BY id", (key, after_id))

    ranks_vectors = False

    def nearest(self, conversation_id: str, kind: Kind, vector: np.ndarray, limit: int) -> list[int]:
        raise NotImplementedError("this store does not rank vectors: rank `vectors()` in-process")

    def revision(self, conversation_id: str) -> int:
        rows = self._all("SELECT c.revision + u.revision FROM conversations c JOIN users u ON u.key = c.user_key "
                         "WHERE c.id = ?", (conversation_id,))
        return int(rows[0][0]) if rows else -1

    def chunks(self, ids: Sequence[int]) -> list[ChunkRow]:
        return [ChunkRow(*row) for row in self._by_ids(_CHUNK, "k.id", ids)]

    def facts(self, ids: Sequence[int]) -> list[FactRow]:
        return [FactRow(*row) for row in self._by_ids(_FACT, "f.id", ids)]

    def messages(self, ids: Sequence[int]) -> list[MessageRow]:
        return [MessageRow(*row) for row in self._by_ids(_MESSAGE, "m.id", ids)]

    def live_facts(self, conversation_id: str, limit: int = 1_000_000) -> list[FactRow]:
        scoped = self._scope(conversation_id)
        if scoped is None:
            return []
        rows = self._all(_FACT + " WHERE f.scope = ? AND f.superseded_by IS NULL ORDER BY f.seq DESC, f.id DESC "
                                 "LIMIT ?", (scoped[1], limit))
        return [FactRow(*row) for row in reversed(rows)]
