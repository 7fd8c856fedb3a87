"""`MemoryStore` on PostgreSQL (psycopg 3), with `tsvector` full-text search for the lexical side.

Same rows, counters and semantics as `SQLiteStore` (see there and `store.py`); what differs is how concurrent
writers (the server's threads and the worker process, each with its own connection) stay consistent:

- every write method is one transaction that first locks the rows it will change, always in the same order:
  users before conversations, several rows of a table by key. So two writers never wait on each other in a
  cycle (no deadlocks), and a counter on a conversations row always equals the rows it counts.
- a transaction changes a conversations row at most once, after locking it: changing a row a second time in
  one transaction re-runs its foreign-key check, which locks the user row out of that order.
- `add_message` locks the conversation row (`SELECT ... FOR NO KEY UPDATE`), so concurrent messages get
  distinct, gap-free turn numbers and the shedding sees every one of them.
- the forget methods lock with `FOR UPDATE` (what a delete needs), so a message arriving meanwhile either
  lands before the delete (and is deleted) or waits and starts a fresh conversation after it.

Lexical search: a `tsvector` column per table (NULL on a message until it is indexed) over the Snowball stems
the caller gives, built with the 'simple' configuration (lower-casing only: the stems are already stems), a GIN
index, OR queries through `to_tsquery('simple', ...)`, ranked by `ts_rank_cd`.

Vectors: BYTEA always (float32, as in SQLite). Where the server offered the pgvector extension when the schema was
made, each fact and chunk also has an `embedding vector` column and `nearest` ranks by cosine distance in the
database (`ranks_vectors`), so the caller holds no vectors; the scan is exact, over the rows of one conversation
or user, which the btree indexes on `scope` and `conv_key` find, so no approximate (HNSW) index is needed.
Without pgvector the caller ranks the BYTEA vectors in-process, as with SQLite.

The schema is the Alembic scripts of `migrations/postgres/`, applied on open (see `moe_system.migrations`). One
connection per store, guarded by a lock, reopened when it breaks, so threads may share a store.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.conninfo import conninfo_to_dict

from moe_system.errors import InvalidRequestError, MoEError
from moe_system.memory.sql_reads import SQLReads, scope_of_facts
from moe_system.memory.store import LOW_WATER, PREFIX_FROM, Kind, MessageRow, NewChunk, NewFact, Tier
from moe_system.migrations import migrate

CONNECT_TIMEOUT_S = 10  # unless the URL sets connect_timeout: libpq's default waits for the OS (minutes)
MAX_BODY_BYTES = 1_000_000  # a tsvector holds at most 1 MiB of distinct lexemes; longer stem lists are cut
MIGRATIONS = Path(__file__).parent / "migrations" / "postgres"  # the schema (see moe_system.migrations)
VERSION_TABLE = "alembic_memory"

# The oldest current messages whose tokens before them are under %(amount)s: the fewest that free `amount`.
_SHED = """WITH oldest AS (
    SELECT id, tokens, sum(tokens) OVER (ORDER BY seq) AS running FROM messages
    WHERE conv_key = %(key)s AND state = 'current')
UPDATE messages m SET state = 'moving' FROM oldest o WHERE m.id = o.id AND o.running - o.tokens < %(amount)s
RETURNING m.tokens"""

# What a demotion replaces, by the tier of the chunks that replace it: the table, which of its rows may go, the
# conversation counter their tokens leave, and the revision bump (deleted chunks change what `vectors` returns).
_DEMOTED: dict[Tier, tuple[str, str, str, int]] = {
    "obsolete": ("messages", "state = 'moving'", "moving_tokens", 0),
    "longterm": ("chunks", "tier = 'obsolete'", "obsolete_tokens", 1),
}

# Victims of `trim_longterm`, in the order they go: superseded facts, oldest summaries, oldest facts.
_LONGTERM_VICTIMS = """SELECT kind, id, tokens FROM (
    SELECT 0 AS grp, 'fact' AS kind, id, tokens, id AS ord FROM facts
        WHERE conv_key = %(key)s AND superseded_by IS NOT NULL
    UNION ALL SELECT 1, 'chunk', id, tokens, first_seq FROM chunks WHERE conv_key = %(key)s AND tier = 'longterm'
    UNION ALL SELECT CASE WHEN others THEN 2 ELSE 3 END, 'fact', id, tokens, seq FROM facts
        WHERE conv_key = %(key)s AND superseded_by IS NULL
) victims ORDER BY grp, ord, id"""


class PostgresStore(SQLReads):
    """The store for a `postgresql://` URL (`memory.database_url`); the schema is created or upgraded on open. Its
    reads are those of `SQLReads`."""

    _UNINDEXED = "NOT m.indexed"
    _UNREFINED = "NOT k.refined"

    def __init__(self, url: str) -> None:
        try:
            params: dict[str, Any] = conninfo_to_dict(url)
        except psycopg.Error as err:
            raise MoEError(f"invalid memory database URL: {_one_line(err)}") from err
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        self._params = params
        self.location = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
        self._lock = threading.RLock()
        self._conn = self._connect()
        try:
            migrate(self._applied(), MIGRATIONS, VERSION_TABLE, f"the memory database {self.location}",
                    "postgresql+psycopg", lambda: psycopg.connect(**params))
            self.ranks_vectors = self._conn.execute(  # pgvector was there when the schema was made
                "SELECT 1 FROM pg_attribute WHERE attrelid = 'facts'::regclass AND attname = 'embedding' "
                "AND NOT attisdropped").fetchone() is not None
        except psycopg.Error as err:
            self._conn.close()
            raise MoEError(f"cannot open the memory database {self.location}: {_one_line(err)}") from err
        except BaseException:
            self._conn.close()
            raise

    # ---- plumbing

    def _connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection (reads need no transaction)."""
        try:
            return psycopg.connect(**self._params, autocommit=True)
        except psycopg.Error as err:
            raise MoEError(f"cannot open the memory database {self.location}: {_one_line(err)}") from err

    def _applied(self) -> list[str]:
        """The schema revisions recorded in the database ([] before the first migration)."""
        try:
            return [row[0] for row in self._conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
        except psycopg.errors.UndefinedTable:
            return []

    @contextmanager
    def _cursor(self, write: bool) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor under the lock, inside one transaction when `write`; a broken connection is reopened first,
        and database errors become one-line `MoEError`s (a transaction rolls back before that)."""
        with self._lock:
            if self._conn.broken:
                self._conn = self._connect()
            try:
                if write:
                    with self._conn.transaction(), self._conn.cursor() as cur:
                        yield cur
                else:
                    with self._conn.cursor() as cur:
                        yield cur
            except psycopg.OperationalError as err:
                raise MoEError(f"memory database {self.location} failed: {_one_line(err)}") from err

    def _all(self, sql: str, args: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read query; its `?` placeholders (those of `SQLReads`) become psycopg's `%s`."""
        with self._cursor(write=False) as cur:
            return cur.execute(sql.replace("?", "%s"), args).fetchall()

    def _one_of(self, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(ids)]

    def _embedding(self, vector: bytes | None) -> tuple[str, str, list[Any]]:
        """What adds a row's pgvector `embedding` to an INSERT: the column, its placeholder and its argument
        (nothing without pgvector)."""
        return (", embedding", ", %s::real[]", [_floats(vector)]) if self.ranks_vectors else ("", "", [])

    @staticmethod
    def _lock_conversation(cur: psycopg.Cursor[Any], conversation_id: str) -> int | None:
        """Lock the conversation's row against other writers for this transaction; its key, or None."""
        row = cur.execute("SELECT key FROM conversations WHERE id = %s FOR NO KEY UPDATE",
                          (conversation_id,)).fetchone()
        return None if row is None else int(row[0])

    # ---- messages

    def add_message(self, conversation_id: str, user_id: str | None, role: str, text: str, tokens: int,
                    current_budget: int) -> MessageRow:
        if any("\x00" in value for value in (conversation_id, user_id or "", role, text)):
            raise InvalidRequestError("PostgreSQL text cannot hold the NUL character (\\x00); remove it")
        now = time.time()
        with self._cursor(write=True) as cur:
            key, seq, current = self._open_conversation(cur, conversation_id, user_id, now)
            seq, current = seq + 1, current + tokens
            message_id = _returned(cur.execute(
                "INSERT INTO messages(conv_key, seq, role, text, tokens, created, state) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'current') RETURNING id", (key, seq, role, text, tokens, now),
            ))
            freed = 0
            if current > current_budget:
                amount = current - int(current_budget * LOW_WATER)
                freed = sum(r[0] for r in cur.execute(_SHED, {"key": key, "amount": amount}))
            cur.execute("UPDATE conversations SET seq = %s, current_tokens = %s, moving_tokens = moving_tokens + %s "
                        "WHERE key = %s", (seq, current - freed, freed, key))
        return MessageRow(int(message_id), conversation_id, int(seq), role, text, tokens, now)

    @staticmethod
    def _open_conversation(cur: psycopg.Cursor[Any], conversation_id: str, user_id: str | None,
                           now: float) -> tuple[int, int, int]:
        """Lock `conversation_id`'s row for this transaction, creating it for `user_id` ("" for none) when new;
        its key, last seq and current tokens. `MoEError` when it belongs to another user (`user_id` None: any)."""
        find = ("SELECT c.key, u.id, c.seq, c.current_tokens FROM conversations c JOIN users u ON u.key = c.user_key "
                "WHERE c.id = %s FOR NO KEY UPDATE OF c")
        row = cur.execute(find, (conversation_id,)).fetchone()
        while row is None:  # a new conversation (or one deleted meanwhile): lock or create its user first
            user_key = _returned(cur.execute("INSERT INTO users(id) VALUES (%s) ON CONFLICT (id) DO UPDATE SET id "
                                             "= EXCLUDED.id RETURNING key", (user_id or "",)))
            cur.execute("INSERT INTO conversations(id, user_key, created) VALUES (%s, %s, %s) "
                        "ON CONFLICT (id) DO NOTHING", (conversation_id, user_key, now))
            row = cur.execute(find, (conversation_id,)).fetchone()
        key, owner, seq, current = row
        if user_id is not None and owner != user_id:
            raise MoEError(f"conversation {conversation_id!r} belongs to another user")
        return int(key), int(seq), int(current)

    def add_chunks(self, conversation_id: str, user_id: str | None, chunks: Sequence[NewChunk]) -> None:
        if any("\x00" in value for value in (conversation_id, user_id or "", *(chunk.text for chunk in chunks))):
            raise InvalidRequestError("PostgreSQL text cannot hold the NUL character (\\x00); remove it")
        now = time.time()
        with self._cursor(write=True) as cur:
            key, _, _ = self._open_conversation(cur, conversation_id, user_id, now)
            added = self._insert_chunks(cur, key, "longterm", chunks, now, refined=True)
            cur.execute("UPDATE conversations SET longterm_tokens = longterm_tokens + %s WHERE key = %s", (added, key))

    def index_messages(self, stems: dict[int, str], facts: Sequence[NewFact]) -> None:
        ids = list(stems)
        with self._cursor(write=True) as cur:
            owners = cur.execute("SELECT DISTINCT c.user_key, c.key FROM messages m JOIN conversations c "
                                 "ON c.key = m.conv_key WHERE m.id = ANY(%s) AND NOT m.indexed", (ids,)).fetchall()
            cur.execute("SELECT key FROM users WHERE key = ANY(%s) ORDER BY key FOR NO KEY UPDATE",
                        ([user_key for user_key, _ in owners],))
            locked = [r[0] for r in cur.execute("SELECT key FROM conversations WHERE key = ANY(%s) ORDER BY key "
                                                "FOR NO KEY UPDATE", ([key for _, key in owners],))]
            by_message = {row[0]: row[1:] for row in cur.execute(
                "SELECT m.id, m.conv_key, m.seq, c.user_key, u.id FROM messages m JOIN conversations c "
                "ON c.key = m.conv_key JOIN users u ON u.key = c.user_key "
                "WHERE m.id = ANY(%s) AND NOT m.indexed AND c.key = ANY(%s)", (ids, locked))}
            cur.executemany("UPDATE messages SET indexed = TRUE, body = to_tsvector('simple', %s) WHERE id = %s",
                            [(_fit(stems[message_id]), message_id) for message_id in by_message])
            now = time.time()
            longterm: Counter[int] = Counter()  # per conversation: tokens added, and supersessions (revisions)
            superseded: Counter[int] = Counter()
            user_revisions: Counter[int] = Counter()
            for fact in facts:
                if fact.message_id not in by_message:
                    continue
                conv_key, seq, user_key, user_id = by_message[fact.message_id]
                scope = scope_of_facts(conv_key, user_key, user_id)
                column, value, embedding = self._embedding(fact.vector)
                fact_id = _returned(cur.execute(
                    "INSERT INTO facts(conv_key, user_key, scope, key, value, text, tokens, seq, created, vector, "
                    f"others, body{column}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    f"to_tsvector('simple', %s){value}) RETURNING id",
                    (conv_key, user_key, scope, fact.key, fact.value, fact.text, fact.tokens, seq, now, fact.vector,
                     fact.about_others, _fit(fact.stems), *embedding),
                ))
                older = cur.execute("UPDATE facts SET superseded_by = %s WHERE scope = %s AND key = %s AND "
                                    "superseded_by IS NULL AND id <> %s RETURNING id",
                                    (fact_id, scope, fact.key, fact_id)).fetchall()
                if older:
                    user_revisions[user_key] += 1
                    superseded[conv_key] += 1
                longterm[conv_key] += fact.tokens
            cur.executemany("UPDATE conversations SET longterm_tokens = longterm_tokens + %s, revision = revision + %s "
                            "WHERE key = %s", [(longterm[key], superseded[key], key) for key in sorted(longterm)])
            cur.executemany("UPDATE users SET revision = revision + %s WHERE key = %s",
                            [(count, user_key) for user_key, count in sorted(user_revisions.items())])

    # ---- moving down

    def demote_messages(self, conversation_id: str, message_ids: Sequence[int], chunks: Sequence[NewChunk]) -> bool:
        return self._demote(conversation_id, message_ids, "obsolete", chunks)

    def demote_chunks(self, conversation_id: str, chunk_ids: Sequence[int], summaries: Sequence[NewChunk]) -> bool:
        return self._demote(conversation_id, chunk_ids, "longterm", summaries)

    def _demote(self, conversation_id: str, item_ids: Sequence[int], tier: Tier, chunks: Sequence[NewChunk]) -> bool:
        """Replace the rows `item_ids` of the tier above `tier` (see `_DEMOTED`) by `chunks` of `tier`, in one
        transaction; False (and nothing changed) if any of them is no longer there."""
        table, held, source, revisions = _DEMOTED[tier]
        now = time.time()
        ids = list(item_ids)
        with self._cursor(write=True) as cur:
            key = self._lock_conversation(cur, conversation_id)
            rows = cur.execute(f"SELECT tokens FROM {table} WHERE conv_key = %s AND {held} AND id = ANY(%s)",
                               (key, ids)).fetchall()
            if key is None or len(rows) != len(ids):
                return False
            freed = sum(row[0] for row in rows)
            cur.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", (ids,))
            added = self._insert_chunks(cur, key, tier, chunks, now)
            cur.execute(f"UPDATE conversations SET {source} = {source} - %s, {tier}_tokens = {tier}_tokens + %s, "
                        "revision = revision + %s WHERE key = %s", (freed, added, revisions, key))
        return True

    def _insert_chunks(self, cur: psycopg.Cursor[Any], key: int, tier: Tier, chunks: Sequence[NewChunk],
                       now: float, refined: bool = False) -> int:
        column, value, _ = self._embedding(None)
        cur.executemany(
            f"INSERT INTO chunks(conv_key, tier, text, tokens, first_seq, last_seq, created, vector, body, refined"
            f"{column}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, to_tsvector('simple', %s), %s{value})",
            [(key, tier, c.text, c.tokens, c.first_seq, c.last_seq, now, c.vector, _fit(c.stems), refined,
              *self._embedding(c.vector)[2]) for c in chunks])
        return sum(chunk.tokens for chunk in chunks)

    def nearest(self, conversation_id: str, kind: Kind, vector: np.ndarray, limit: int) -> list[int]:
        if not self.ranks_vectors:
            return super().nearest(conversation_id, kind, vector, limit)
        scoped = self._scope(conversation_id)
        if scoped is None:
            return []
        key, scope = scoped
        query = np.ascontiguousarray(vector, dtype=np.float32).tolist()
        if kind == "fact":
            rows = self._all("SELECT id FROM facts WHERE scope = ? AND superseded_by IS NULL AND embedding IS NOT NULL "
                             "ORDER BY embedding <=> ?::real[]::vector, id LIMIT ?", (scope, query, limit))
        else:
            rows = self._all("SELECT id FROM chunks WHERE conv_key = ? AND embedding IS NOT NULL "
                             "ORDER BY embedding <=> ?::real[]::vector, id LIMIT ?", (key, query, limit))
        return [int(row[0]) for row in rows]

    def refine_summary(self, conversation_id: str, chunk_id: int, summary: NewChunk | None) -> bool:
        with self._cursor(write=True) as cur:
            key = self._lock_conversation(cur, conversation_id)
            row = cur.execute("SELECT tokens FROM chunks WHERE conv_key = %s AND tier = 'longterm' AND id = %s",
                              (key, chunk_id)).fetchone()
            if key is None or row is None:
                return False
            if summary is None:
                cur.execute("UPDATE chunks SET refined = TRUE WHERE id = %s", (chunk_id,))
                return True
            cur.execute("DELETE FROM chunks WHERE id = %s", (chunk_id,))
            self._insert_chunks(cur, key, "longterm", [summary], time.time(), refined=True)
            cur.execute("UPDATE conversations SET longterm_tokens = longterm_tokens - %s + %s, revision = revision + 1 "
                        "WHERE key = %s", (row[0], summary.tokens, key))
        return True

    def trim_longterm(self, conversation_id: str, budget: int) -> int:
        with self._cursor(write=True) as cur:
            owner = cur.execute("SELECT user_key FROM conversations WHERE id = %s", (conversation_id,)).fetchone()
            if owner is None:
                return 0
            cur.execute("SELECT key FROM users WHERE key = %s FOR NO KEY UPDATE", owner)  # users before conversations
            held = cur.execute("SELECT key, longterm_tokens FROM conversations WHERE id = %s FOR NO KEY UPDATE",
                               (conversation_id,)).fetchone()
            if held is None:
                return 0
            key, tokens = held
            excess = tokens - int(budget * LOW_WATER) if tokens > budget else 0
            victims = cur.execute(_LONGTERM_VICTIMS, {"key": key}).fetchall() if excess else []
            dropped = 0
            facts: list[int] = []
            chunks: list[int] = []
            for kind, item_id, item_tokens in victims:
                if dropped >= excess:
                    break
                (facts if kind == "fact" else chunks).append(item_id)
                dropped += item_tokens
            cur.execute("DELETE FROM chunks WHERE id = ANY(%s)", (chunks,))
            cur.execute("DELETE FROM facts WHERE id = ANY(%s)", (facts,))
            if facts:
                cur.execute("UPDATE users SET revision = revision + 1 WHERE key = %s", owner)
            cur.execute("UPDATE conversations SET longterm_tokens = longterm_tokens - %s, revision = revision + %s "
                        "WHERE key = %s", (dropped, bool(chunks) + bool(facts), key))
        return dropped

    # ---- retrieval

    def search(self, conversation_id: str, kind: Kind, stems: Sequence[str], limit: int) -> list[int]:
        query = _any_of(stems)
        scoped = self._scope(conversation_id)
        if scoped is None or not query:
            return []
        key, fact_scope = scoped
        where = {"message": "messages t WHERE t.conv_key = %(key)s",
                 "chunk": "chunks t WHERE t.conv_key = %(key)s",
                 "fact": "facts t WHERE t.scope = %(scope)s AND t.superseded_by IS NULL"}[kind]
        rows = self._all(f"SELECT t.id FROM to_tsquery('simple', %(query)s) q, {where} AND t.body @@ q "
                         "ORDER BY ts_rank_cd(t.body, q) DESC, t.id LIMIT %(limit)s",
                         {"key": key, "scope": fact_scope, "query": query, "limit": limit})
        return [int(row[0]) for row in rows]

    # ---- forgetting

    def forget_conversation(self, conversation_id: str) -> int:
        with self._cursor(write=True) as cur:
            rows = cur.execute("SELECT key FROM conversations WHERE id = %s FOR UPDATE", (conversation_id,)).fetchall()
            return self._delete_conversations(cur, [row[0] for row in rows])

    def forget_user(self, user_id: str) -> int:
        with self._cursor(write=True) as cur:
            row = cur.execute("SELECT key FROM users WHERE id = %s FOR UPDATE", (user_id,)).fetchone()
            if row is None:
                return 0
            keys = [r[0] for r in cur.execute("SELECT key FROM conversations WHERE user_key = %s ORDER BY key "
                                              "FOR UPDATE", row)]
            deleted = self._delete_conversations(cur, keys)
            return deleted + cur.execute("DELETE FROM users WHERE key = %s", row).rowcount

    @staticmethod
    def _delete_conversations(cur: psycopg.Cursor[Any], keys: list[int]) -> int:
        """Delete the (locked) conversations and everything in them; the rows deleted."""
        deleted = 0
        for table in ("messages", "chunks", "facts"):
            deleted += cur.execute(f"DELETE FROM {table} WHERE conv_key = ANY(%s)", (keys,)).rowcount
        return deleted + cur.execute("DELETE FROM conversations WHERE key = ANY(%s)", (keys,)).rowcount

    def rows_of_user(self, user_id: str) -> int:
        rows = self._all(
            "SELECT 1 + (SELECT count(*) FROM conversations WHERE user_key = u.key)"
            " + (SELECT count(*) FROM facts WHERE user_key = u.key)"
            " + (SELECT count(*) FROM messages m JOIN conversations c ON c.key = m.conv_key WHERE c.user_key = u.key)"
            " + (SELECT count(*) FROM chunks k JOIN conversations c ON c.key = k.conv_key WHERE c.user_key = u.key)"
            " FROM users u WHERE u.id = %s", (user_id,))
        return int(rows[0][0]) if rows else 0

    # ---- housekeeping

    def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL checkpoints and vacuums by itself."""

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _fit(stems: str) -> str:
    """`stems`, cut at a word boundary to fit a tsvector (at most 1 MiB of distinct lexemes: only a message of
    about a million characters of unique words comes near; its first megabyte stays searchable)."""
    encoded = stems.encode()
    if len(encoded) <= MAX_BODY_BYTES:
        return stems
    return encoded[:MAX_BODY_BYTES].decode(errors="ignore").rsplit(" ", 1)[0]


def _any_of(stems: Sequence[str]) -> str:
    """A `to_tsquery` text matching any of `stems`: each quoted as one phrase (quotes doubled, backslashes
    escaped), so no stem is read as query syntax, and ORed; empty stems are left out (`''` is a syntax error).
    Stems of `PREFIX_FROM` letters or more match as prefixes (see store.py), as in the SQLite store."""
    return " | ".join("'" + stem.replace("\\", "\\\\").replace("'", "''") + "'"
                      + (":*" if len(stem) >= PREFIX_FROM else "") for stem in stems if stem)


def _one_line(err: Exception) -> str:
    """An error's message on one line (libpq's span several); it never holds the password."""
    return " ".join(str(err).split()) or type(err).__name__


def _floats(vector: bytes | None) -> list[float] | None:
    """A stored float32 vector as the list psycopg sends as an array (for pgvector's `embedding`)."""
    return None if vector is None else np.frombuffer(vector, dtype=np.float32).tolist()


def _returned(cursor: Any) -> Any:
    """The first value of the row an `INSERT ... RETURNING` gave (it always gives one)."""
    row = cursor.fetchone()
    assert row is not None
    return row[0]
