"""`MemoryStore` on SQLite in WAL mode, with FTS5 (BM25) for lexical search.

Durability: WAL with `synchronous=NORMAL` keeps every committed transaction through a process crash (kill -9);
only a power cut could lose the last ones. The connection that serves `add_message` never checkpoints (a
checkpoint fsyncs and would stall a caller for milliseconds); the background worker does, after each batch.
One connection per process, guarded by a lock, so threads (the server) may share a store. The schema is the Alembic
scripts of `migrations/sqlite/`, applied on open (see `moe_system.migrations`).
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moe_system.errors import MoEError
from moe_system.memory.sql_reads import SQLReads, scope_of_facts
from moe_system.memory.store import LOW_WATER, PREFIX_FROM, Kind, MessageRow, NewChunk, NewFact, Tier
from moe_system.migrations import migrate_sqlite

LOCK_POLL_S = 0.0002
LOCK_WAIT_S = 30.0
MIGRATIONS = Path(__file__).parent / "migrations" / "sqlite"  # the schema: Alembic scripts (see moe_system.migrations)
VERSION_TABLE = "alembic_memory"


def _retry(action: Callable[[], object]) -> None:
    """Run `action`, retrying while another connection holds the write lock (every `LOCK_POLL_S`, up to
    `LOCK_WAIT_S`). The background worker's transactions last a millisecond or two, so a caller waits about as
    long, where SQLite's own busy handler would sleep in steps of up to 100 ms."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as err:
            if ("locked" not in str(err) and "busy" not in str(err)) or time.monotonic() > deadline:
                raise
            time.sleep(LOCK_POLL_S)


class SQLiteStore(SQLReads):
    """The default store: one SQLite file (WAL) per `MOE_HOME` (its reads are those of `SQLReads`)."""

    _UNINDEXED = "m.indexed = 0"
    _UNREFINED = "k.refined = 0"

    def __init__(self, path: Path, checkpoints: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        try:
            # no busy handler: SQLite's sleeps in 1, 2, 5, 10... ms steps; `_retry` polls at 0.2 ms instead
            self._db = sqlite3.connect(path, timeout=0.0, isolation_level=None, check_same_thread=False)
            _retry(lambda: self._db.execute("PRAGMA journal_mode=WAL"))  # a new file: another opener may be at it
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA secure_delete=ON")  # forgotten rows leave no bytes behind in freed pages
            self._db.execute(f"PRAGMA wal_autocheckpoint={1000 if checkpoints else 0}")
            _retry(lambda: migrate_sqlite(self._db, path, MIGRATIONS, VERSION_TABLE, f"the memory database {path}"))
        except sqlite3.DatabaseError as err:  # SQLite says "disk I/O error" where it cannot create the WAL's files
            cause = err if shutil.disk_usage(path.parent).free else OSError(errno.ENOSPC, "no space left", str(path))
            raise MoEError(f"cannot open the memory database {path}: {err}") from cause

    # ---- plumbing

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction (takes the write lock up front, so it never fails half-way on a busy lock).
        A failed COMMIT (a full disk) rolls back too, so the connection is ready for the next one."""
        with self._lock:
            _retry(lambda: self._db.execute("BEGIN IMMEDIATE"))
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _one_of(self, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(ids))})", list(ids)

    def _conv_key(self, db: sqlite3.Connection, conversation_id: str) -> int | None:
        row = db.execute("SELECT key FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return None if row is None else int(row[0])

    # ---- messages

    def add_message(self, conversation_id: str, user_id: str | None, role: str, text: str, tokens: int,
                    current_budget: int) -> MessageRow:
        now = time.time()
        with self._write() as db:
            key = self._open_conversation(db, conversation_id, user_id, now)
            seq, current = db.execute(
                "UPDATE conversations SET seq = seq + 1, current_tokens = current_tokens + ? WHERE key = ? "
                "RETURNING seq, current_tokens", (tokens, key)).fetchone()
            message_id = int(db.execute(
                "INSERT INTO messages(conv_key, seq, role, text, tokens, created, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'current')", (key, seq, role, text, tokens, now)).lastrowid or 0)
            if current > current_budget:
                self._shed_current(db, key, current - int(current_budget * LOW_WATER))
        return MessageRow(message_id, conversation_id, int(seq), role, text, tokens, now)

    @staticmethod
    def _open_conversation(db: sqlite3.Connection, conversation_id: str, user_id: str | None, now: float) -> int:
        """The key of `conversation_id`, created for `user_id` ("" for none) when new; `MoEError` when it belongs to
        another user (`user_id` None: any user)."""
        row = db.execute("SELECT c.key, u.id FROM conversations c JOIN users u ON u.key = c.user_key "
                         "WHERE c.id = ?", (conversation_id,)).fetchone()
        if row is None:
            db.execute("INSERT OR IGNORE INTO users(id) VALUES (?)", (user_id or "",))
            user_key = db.execute("SELECT key FROM users WHERE id = ?", (user_id or "",)).fetchone()[0]
            return int(db.execute("INSERT INTO conversations(id, user_key, created) VALUES (?, ?, ?)",
                                  (conversation_id, user_key, now)).lastrowid or 0)
        if user_id is not None and row[1] != user_id:
            raise MoEError(f"conversation {conversation_id!r} belongs to another user")
        return int(row[0])

    def add_chunks(self, conversation_id: str, user_id: str | None, chunks: Sequence[NewChunk]) -> None:
        now = time.time()
        with self._write() as db:
            key = self._open_conversation(db, conversation_id, user_id, now)
            added = self._insert_chunks(db, key, "longterm", chunks, now, refined=True)
            db.execute("UPDATE conversations SET longterm_tokens = longterm_tokens + ? WHERE key = ?", (added, key))

    def _shed_current(self, db: sqlite3.Connection, key: int, amount: int) -> None:
        """Move the oldest current messages (at least `amount` tokens) to 'moving'."""
        ids, freed = [], 0
        for message_id, tokens in db.execute("SELECT id, tokens FROM messages WHERE conv_key = ? AND "
                                             "state = 'current' ORDER BY seq", (key,)):
            ids.append(message_id)
            freed += tokens
            if freed >= amount:
                break
        db.executemany("UPDATE messages SET state = 'moving' WHERE id = ?", [(i,) for i in ids])
        db.execute("UPDATE conversations SET current_tokens = current_tokens - ?, moving_tokens = moving_tokens + ? "
                   "WHERE key = ?", (freed, freed, key))

    def index_messages(self, stems: dict[int, str], facts: Sequence[NewFact]) -> None:
        by_message = {}
        with self._write() as db:
            for message_id, body in stems.items():
                row = db.execute("SELECT m.conv_key, m.seq, c.user_key, u.id FROM messages m JOIN conversations c "
                                 "ON c.key = m.conv_key JOIN users u ON u.key = c.user_key "
                                 "WHERE m.id = ? AND m.indexed = 0", (message_id,)).fetchone()
                if row is None:
                    continue
                by_message[message_id] = row
                db.execute("INSERT INTO messages_fts(rowid, scope, body) VALUES (?, ?, ?)",
                           (message_id, f"c{row[0]}", body))
                db.execute("UPDATE messages SET indexed = 1 WHERE id = ?", (message_id,))
            now = time.time()
            for fact in facts:
                if fact.message_id not in by_message:
                    continue
                conv_key, seq, user_key, user_id = by_message[fact.message_id]
                scope = scope_of_facts(conv_key, user_key, user_id)
                fact_id = db.execute(
                    "INSERT INTO facts(conv_key, user_key, scope, key, value, text, tokens, seq, created, vector, "
                    "others) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (conv_key, user_key, scope, fact.key, fact.value, fact.text, fact.tokens, seq, now, fact.vector,
                     fact.about_others),
                ).lastrowid
                older = [r[0] for r in db.execute("SELECT id FROM facts WHERE scope = ? AND key = ? AND "
                                                  "superseded_by IS NULL AND id != ?", (scope, fact.key, fact_id))]
                for old in older:
                    db.execute("UPDATE facts SET superseded_by = ? WHERE id = ?", (fact_id, old))
                    db.execute("DELETE FROM facts_fts WHERE rowid = ?", (old,))
                if older:
                    db.execute("UPDATE users SET revision = revision + 1 WHERE key = ?", (user_key,))
                    db.execute("UPDATE conversations SET revision = revision + 1 WHERE key = ?", (conv_key,))
                db.execute("INSERT INTO facts_fts(rowid, scope, body) VALUES (?, ?, ?)", (fact_id, scope, fact.stems))
                db.execute("UPDATE conversations SET longterm_tokens = longterm_tokens + ? WHERE key = ?",
                           (fact.tokens, conv_key))

    # ---- moving down

    def demote_messages(self, conversation_id: str, message_ids: Sequence[int], chunks: Sequence[NewChunk]) -> bool:
        now = time.time()
        with self._write() as db:
            key = self._conv_key(db, conversation_id)
            marks = ",".join("?" * len(message_ids))
            rows = db.execute(f"SELECT tokens FROM messages WHERE conv_key = ? AND state = 'moving' "
                              f"AND id IN ({marks})", (key, *message_ids)).fetchall()
            if key is None or len(rows) != len(message_ids):
                return False
            freed = sum(row[0] for row in rows)
            db.execute(f"DELETE FROM messages WHERE id IN ({marks})", tuple(message_ids))
            db.execute(f"DELETE FROM messages_fts WHERE rowid IN ({marks})", tuple(message_ids))
            added = self._insert_chunks(db, key, "obsolete", chunks, now)
            db.execute("UPDATE conversations SET moving_tokens = moving_tokens - ?, "
                       "obsolete_tokens = obsolete_tokens + ? WHERE key = ?", (freed, added, key))
        return True

    def _insert_chunks(self, db: sqlite3.Connection, key: int, tier: Tier, chunks: Sequence[NewChunk],
                       now: float, refined: bool = False) -> int:
        for chunk in chunks:
            chunk_id = db.execute(
                "INSERT INTO chunks(conv_key, tier, text, tokens, first_seq, last_seq, created, vector, refined) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, tier, chunk.text, chunk.tokens, chunk.first_seq, chunk.last_seq, now, chunk.vector, refined),
            ).lastrowid
            db.execute("INSERT INTO chunks_fts(rowid, scope, body) VALUES (?, ?, ?)",
                       (chunk_id, f"c{key}", chunk.stems))
        return sum(chunk.tokens for chunk in chunks)

    def demote_chunks(self, conversation_id: str, chunk_ids: Sequence[int], summaries: Sequence[NewChunk]) -> bool:
        now = time.time()
        with self._write() as db:
            key = self._conv_key(db, conversation_id)
            marks = ",".join("?" * len(chunk_ids))
            rows = db.execute(f"SELECT tokens FROM chunks WHERE conv_key = ? AND tier = 'obsolete' AND id IN ({marks})",
                              (key, *chunk_ids)).fetchall()
            if key is None or len(rows) != len(chunk_ids):
                return False
            freed = sum(row[0] for row in rows)
            self._delete_chunks(db, key, chunk_ids)
            added = self._insert_chunks(db, key, "longterm", summaries, now)
            db.execute("UPDATE conversations SET obsolete_tokens = obsolete_tokens - ?, "
                       "longterm_tokens = longterm_tokens + ? WHERE key = ?", (freed, added, key))
        return True

    def _delete_chunks(self, db: sqlite3.Connection, key: int, chunk_ids: Sequence[int]) -> None:
        marks = ",".join("?" * len(chunk_ids))
        db.execute(f"DELETE FROM chunks WHERE id IN ({marks})", tuple(chunk_ids))
        db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", tuple(chunk_ids))
        db.execute("UPDATE conversations SET revision = revision + 1 WHERE key = ?", (key,))

    def refine_summary(self, conversation_id: str, chunk_id: int, summary: NewChunk | None) -> bool:
        now = time.time()
        with self._write() as db:
            key = self._conv_key(db, conversation_id)
            row = db.execute("SELECT tokens FROM chunks WHERE conv_key = ? AND tier = 'longterm' AND id = ?",
                             (key, chunk_id)).fetchone()
            if key is None or row is None:
                return False
            if summary is None:
                db.execute("UPDATE chunks SET refined = 1 WHERE id = ?", (chunk_id,))
                return True
            self._delete_chunks(db, key, [chunk_id])
            self._insert_chunks(db, key, "longterm", [summary], now, refined=True)
            db.execute("UPDATE conversations SET longterm_tokens = longterm_tokens - ? + ? WHERE key = ?",
                       (row[0], summary.tokens, key))
        return True

    def trim_longterm(self, conversation_id: str, budget: int) -> int:
        with self._write() as db:
            key = self._conv_key(db, conversation_id)
            if key is None:
                return 0
            held = db.execute("SELECT longterm_tokens FROM conversations WHERE key = ?", (key,)).fetchone()[0]
            excess = held - int(budget * LOW_WATER) if held > budget else 0
            dropped = 0
            victims = db.execute(  # superseded facts, oldest summaries, oldest facts about others, oldest facts
                "SELECT 'fact', id, tokens, 0 AS rank, seq FROM facts WHERE conv_key = ?1 AND superseded_by IS NOT "
                "NULL UNION ALL SELECT 'chunk', id, tokens, 1, first_seq FROM chunks WHERE conv_key = ?1 AND "
                "tier = 'longterm' UNION ALL SELECT 'fact', id, tokens, CASE WHEN others THEN 2 ELSE 3 END, seq "
                "FROM facts WHERE conv_key = ?1 AND superseded_by IS NULL ORDER BY rank, 5, id",
                (key,)).fetchall() if excess else []
            facts: list[int] = []
            chunks: list[int] = []
            for kind, item_id, tokens, _, _ in victims:
                if dropped >= excess:
                    break
                (facts if kind == "fact" else chunks).append(item_id)
                dropped += tokens
            if chunks:
                self._delete_chunks(db, key, chunks)
            if facts:
                marks = ",".join("?" * len(facts))
                db.execute(f"DELETE FROM facts WHERE id IN ({marks})", tuple(facts))
                db.execute(f"DELETE FROM facts_fts WHERE rowid IN ({marks})", tuple(facts))
                db.execute("UPDATE users SET revision = revision + 1 WHERE key = "
                           "(SELECT user_key FROM conversations WHERE key = ?)", (key,))
                db.execute("UPDATE conversations SET revision = revision + 1 WHERE key = ?", (key,))
            db.execute("UPDATE conversations SET longterm_tokens = longterm_tokens - ? WHERE key = ?", (dropped, key))
        return dropped

    # ---- retrieval

    def search(self, conversation_id: str, kind: Kind, stems: Sequence[str], limit: int) -> list[int]:
        scoped = self._scope(conversation_id)
        if scoped is None or not stems:
            return []
        key, fact_scope = scoped
        scope = fact_scope if kind == "fact" else f"c{key}"
        # prefix match for stems of PREFIX_FROM letters or more (see store.py)
        terms = " OR ".join('"' + stem.replace('"', '""') + '"' + ("*" if len(stem) >= PREFIX_FROM else "")
                            for stem in stems)
        table = {"message": "messages_fts", "chunk": "chunks_fts", "fact": "facts_fts"}[kind]
        rows = self._all(f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY bm25({table}, 0.0, 1.0) LIMIT ?",
                         (f'scope : "{scope}" AND body : ({terms})', limit))
        return [int(row[0]) for row in rows]

    # ---- forgetting

    def forget_conversation(self, conversation_id: str) -> int:
        with self._write() as db:
            key = self._conv_key(db, conversation_id)
            if key is None:
                return 0
            db.execute("UPDATE users SET revision = revision + 1 WHERE key = "
                       "(SELECT user_key FROM conversations WHERE key = ?)", (key,))  # its facts leave the user's scope
            deleted = self._delete_conversations(db, [key])
        self._scrub()
        return deleted

    def forget_user(self, user_id: str) -> int:
        with self._write() as db:
            row = db.execute("SELECT key FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                return 0
            keys = [r[0] for r in db.execute("SELECT key FROM conversations WHERE user_key = ?", (row[0],))]
            deleted = self._delete_conversations(db, keys)
            deleted += db.execute("DELETE FROM users WHERE key = ?", (row[0],)).rowcount
        self._scrub()
        return deleted

    def _scrub(self) -> None:
        """Make forgotten text unreadable in the file too: FTS5 keeps deleted words in its index segments until
        they are merged ('optimize'), and freed pages keep old bytes unless `secure_delete` zeroes them; the WAL
        is folded in and truncated last."""
        with self._write() as db:
            for table in ("messages_fts", "chunks_fts", "facts_fts"):
                db.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _delete_conversations(self, db: sqlite3.Connection, keys: Sequence[int]) -> int:
        deleted = 0
        for key in keys:
            for table in ("messages_fts", "chunks_fts"):
                db.execute(f"DELETE FROM {table} WHERE scope = ?", (f"c{key}",))
            db.execute("DELETE FROM facts_fts WHERE rowid IN (SELECT id FROM facts WHERE conv_key = ?)", (key,))
            for table in ("messages", "chunks", "facts"):
                deleted += db.execute(f"DELETE FROM {table} WHERE conv_key = ?", (key,)).rowcount
            deleted += db.execute("DELETE FROM conversations WHERE key = ?", (key,)).rowcount
        return deleted

    def rows_of_user(self, user_id: str) -> int:
        row = self._all("SELECT key FROM users WHERE id = ?", (user_id,))
        if not row:
            return 0
        user_key = row[0][0]
        keys = [r[0] for r in self._all("SELECT key FROM conversations WHERE user_key = ?", (user_key,))]
        count = 1 + len(keys) + self._all("SELECT count(*) FROM facts WHERE user_key = ?", (user_key,))[0][0]
        for key in keys:
            for table in ("messages", "chunks"):
                count += self._all(f"SELECT count(*) FROM {table} WHERE conv_key = ?", (key,))[0][0]
        return count

    # ---- housekeeping

    def checkpoint(self) -> None:
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()
