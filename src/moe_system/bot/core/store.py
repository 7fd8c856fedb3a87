"""The bot's own tables (profiles, relationships, reminders, quiz scores, documents, bans, broadcasts) in the memory's
SQLite database (`MOE_HOME/memory/memory.db`), under their own Alembic version table (`alembic_bot`, scripts in
`bot/migrations/`), in WAL mode like the memory: a change is on disk when the call returns."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from moe_system.migrations import open_sqlite

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
VERSION_TABLE = "alembic_bot"
PREFERENCES = ("style", "expert", "persona")


@dataclass
class Profile:
    """What the bot holds about one Telegram user: preferences (None: not chosen) and how they write."""

    user_id: int
    name: str = ""
    language: str | None = None
    style: str | None = None  # short | normal | detailed
    expert: str | None = None  # an expert's name, "none" (the base model), or None: routed
    persona: str | None = None
    messages: int = 0
    characters: int = 0
    russian: int = 0  # messages written in Russian
    informal: int = 0  # messages with informal words or marks
    created: float = 0.0
    updated: float = 0.0


_COLUMNS = tuple(f.name for f in fields(Profile))


@dataclass(frozen=True)
class Relationship:
    """A user as one chat knows them: how many times they talked to the bot there, since when."""

    chat_id: int
    user_id: int
    interactions: int
    first_seen: float
    last_seen: float

    @property
    def familiarity(self) -> str:
        """stranger (first talk), acquaintance (under 20 talks), regular (under 100), friend."""
        if self.interactions <= 1:
            return "stranger"
        return "acquaintance" if self.interactions < 20 else "regular" if self.interactions < 100 else "friend"


@dataclass(frozen=True)
class Reminder:
    id: int
    chat_id: int
    user_id: int
    due: float  # unix time
    text: str


@dataclass(frozen=True)
class Document:
    """A document a user gave a chat: its passages live in the memory as `conversation_id`."""

    id: int
    chat_id: int
    user_id: int
    name: str
    conversation_id: str
    passages: int
    tokens: int
    created: float


_DOCUMENT = "SELECT id, chat_id, user_id, name, conversation_id, passages, tokens, created FROM bot_documents"


@dataclass(frozen=True)
class Broadcast:
    """An admin's message to every private chat: sent in the order of chat ids, `next_chat` the next one due."""

    id: int
    text: str
    admin_chat: int
    next_chat: int
    sent: int
    failed: int
    done: bool


_BROADCAST = "SELECT id, text, admin_chat, next_chat, sent, failed, done FROM bot_broadcasts"


def _broadcast(row: tuple[Any, ...]) -> Broadcast:
    return Broadcast(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))


class BotStore:
    """The bot's tables in the SQLite file `path`. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = open_sqlite(path, MIGRATIONS, VERSION_TABLE, f"the bot's tables in {path}")
        # every update asks whether its sender is banned: the set is held here, the table is its durable copy
        self._banned = {row[0] for row in self._db.execute("SELECT user_id FROM bot_bans")}

    def profile(self, user_id: int) -> Profile | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM bot_profiles WHERE user_id = ?",
                                   (user_id,)).fetchone()
        return None if row is None else Profile(**dict(zip(_COLUMNS, row, strict=True)))

    def record_message(self, user_id: int, chat_id: int, name: str, characters: int, russian: bool,
                       informal: bool) -> tuple[Profile, Relationship]:
        """Count one message of the user (in `chat_id`) into their profile and their relationship with that chat;
        returns both as they are now."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO bot_profiles (user_id, name, language, messages, characters, russian, informal, created,"
                " updated) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET name = excluded.name,"
                " messages = messages + 1, characters = characters + excluded.characters,"
                " russian = russian + excluded.russian, informal = informal + excluded.informal,"
                " language = CASE WHEN 2 * (russian + excluded.russian) > messages + 1 THEN 'ru' ELSE 'en' END,"
                " updated = excluded.updated",
                (user_id, name, "ru" if russian else "en", characters, int(russian), int(informal), now, now))
            self._db.execute(
                "INSERT INTO bot_relationships (chat_id, user_id, interactions, first_seen, last_seen) "
                "VALUES (?, ?, 1, ?, ?) ON CONFLICT (chat_id, user_id) DO UPDATE SET "
                "interactions = interactions + 1, last_seen = excluded.last_seen", (chat_id, user_id, now, now))
        profile, relationship = self.profile(user_id), self.relationship(chat_id, user_id)
        assert profile is not None and relationship is not None
        return profile, relationship

    def set_preference(self, user_id: int, name: str, value: str | None) -> None:
        """Set (or, with None, clear) one of `PREFERENCES` for the user."""
        if name not in PREFERENCES:
            raise ValueError(f"unknown preference {name!r}")
        now = time.time()
        with self._lock:
            self._db.execute(f"INSERT INTO bot_profiles (user_id, {name}, created, updated) VALUES (?, ?, ?, ?) "
                             f"ON CONFLICT (user_id) DO UPDATE SET {name} = excluded.{name}, "
                             "updated = excluded.updated", (user_id, value, now, now))

    def relationship(self, chat_id: int, user_id: int) -> Relationship | None:
        with self._lock:
            row = self._db.execute("SELECT chat_id, user_id, interactions, first_seen, last_seen FROM "
                                   "bot_relationships WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)).fetchone()
        return None if row is None else Relationship(*row)

    # ---- reminders

    def add_reminder(self, chat_id: int, user_id: int, due: float, text: str) -> Reminder:
        now = time.time()
        with self._lock:
            key = self._db.execute("INSERT INTO bot_reminders (chat_id, user_id, due, text, created) VALUES "
                                   "(?, ?, ?, ?, ?)", (chat_id, user_id, due, text, now)).lastrowid
        return Reminder(int(key or 0), chat_id, user_id, due, text)

    def reminders(self, chat_id: int, user_id: int) -> list[Reminder]:
        """The user's pending reminders in a chat, soonest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, chat_id, user_id, due, text FROM bot_reminders WHERE chat_id = ? AND "
                                    "user_id = ? AND status = 'pending' ORDER BY due, id", (chat_id, user_id))
            return [Reminder(*row) for row in rows.fetchall()]

    def due_reminders(self, now: float) -> list[Reminder]:
        with self._lock:
            rows = self._db.execute("SELECT id, chat_id, user_id, due, text FROM bot_reminders WHERE "
                                    "status = 'pending' AND due <= ? ORDER BY due, id", (now,))
            return [Reminder(*row) for row in rows.fetchall()]

    def next_due(self) -> float | None:
        with self._lock:
            return self._db.execute("SELECT MIN(due) FROM bot_reminders WHERE status = 'pending'").fetchone()[0]

    def close_reminder(self, reminder_id: int, status: str, user_id: int | None = None) -> bool:
        """Mark a pending reminder delivered, failed or cancelled (`user_id`: only the user's own); whether it
        was pending."""
        owner = "" if user_id is None else " AND user_id = ?"
        with self._lock:
            return self._db.execute(f"UPDATE bot_reminders SET status = ? WHERE id = ? AND status = 'pending'{owner}",
                                    (status, reminder_id, *(() if user_id is None else (user_id,)))).rowcount == 1

    # ---- quiz scores

    def score_answer(self, chat_id: int, user_id: int, name: str, correct: bool) -> tuple[int, int]:
        """Count one answer of the user in the chat's quiz; returns their (correct, answered) there."""
        with self._lock:
            self._db.execute("INSERT INTO bot_quiz_scores (chat_id, user_id, name, answered, correct) VALUES "
                             "(?, ?, ?, 1, ?) ON CONFLICT (chat_id, user_id) DO UPDATE SET name = excluded.name, "
                             "answered = answered + 1, correct = correct + excluded.correct",
                             (chat_id, user_id, name, int(correct)))
            return self._db.execute("SELECT correct, answered FROM bot_quiz_scores WHERE chat_id = ? AND "
                                    "user_id = ?", (chat_id, user_id)).fetchone()

    def quiz_scores(self, chat_id: int) -> list[tuple[str, int, int]]:
        """The chat's players as (name, correct, answered), best first."""
        with self._lock:
            return self._db.execute("SELECT name, correct, answered FROM bot_quiz_scores WHERE chat_id = ? "
                                    "ORDER BY correct DESC, answered, name", (chat_id,)).fetchall()

    # ---- documents

    def add_document(self, chat_id: int, user_id: int, name: str, conversation_id: str, passages: int,
                     tokens: int) -> Document:
        """Record a document indexed in the memory as `conversation_id`; the chat's document of the same name must
        have been removed first (`remove_document`)."""
        with self._lock:
            document_id = self._db.execute(
                "INSERT INTO bot_documents (chat_id, user_id, name, conversation_id, passages, tokens, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (chat_id, user_id, name, conversation_id, passages, tokens,
                                                 time.time())).lastrowid
            row = self._db.execute(f"{_DOCUMENT} WHERE id = ?", (document_id,)).fetchone()
        return Document(*row)

    def documents(self, chat_id: int) -> list[Document]:
        """The chat's documents, oldest first."""
        with self._lock:
            rows = self._db.execute(f"{_DOCUMENT} WHERE chat_id = ? ORDER BY id", (chat_id,)).fetchall()
        return [Document(*row) for row in rows]

    def user_documents(self, user_id: int) -> list[Document]:
        """The documents the user gave, in any chat."""
        with self._lock:
            rows = self._db.execute(f"{_DOCUMENT} WHERE user_id = ? ORDER BY id", (user_id,)).fetchall()
        return [Document(*row) for row in rows]

    def remove_document(self, chat_id: int, name: str) -> Document | None:
        """Delete the chat's document `name` (any case) and return what it was, or None."""
        with self._lock:
            row = self._db.execute(f"{_DOCUMENT} WHERE chat_id = ? AND lower(name) = lower(?)",
                                   (chat_id, name)).fetchone()
            if row is not None:
                self._db.execute("DELETE FROM bot_documents WHERE id = ?", (row[0],))
        return None if row is None else Document(*row)

    # ---- polling

    def handled_updates(self) -> set[int]:
        """Updates handled and not yet confirmed to the Bot API."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT update_id FROM bot_handled_updates")}

    def mark_handled(self, update_id: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO bot_handled_updates (update_id) VALUES (?)", (update_id,))

    def confirmed(self, offset: int) -> None:
        """The Bot API was asked for updates from `offset` on: it will not hand out the earlier ones again."""
        with self._lock:
            self._db.execute("DELETE FROM bot_handled_updates WHERE update_id < ?", (offset,))

    # ---- broadcasts

    def add_broadcast(self, text: str, admin_chat: int) -> tuple[Broadcast, int]:
        """Queue a broadcast; returns it and how many private chats it will reach as things stand."""
        with self._lock:
            broadcast_id = self._db.execute("INSERT INTO bot_broadcasts (text, admin_chat, created) VALUES (?, ?, ?)",
                                            (text, admin_chat, time.time())).lastrowid
            row = self._db.execute(f"{_BROADCAST} WHERE id = ?", (broadcast_id,)).fetchone()
            chats = self._db.execute("SELECT COUNT(DISTINCT chat_id) FROM bot_relationships WHERE chat_id > 0"
                                     ).fetchone()[0]
        return _broadcast(row), chats

    def pending_broadcast(self) -> tuple[Broadcast, int | None] | None:
        """The oldest unfinished broadcast and the next private chat it is due in (None: it reached every one)."""
        with self._lock:
            row = self._db.execute(f"{_BROADCAST} WHERE done = 0 ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            chat = self._db.execute("SELECT MIN(chat_id) FROM bot_relationships WHERE chat_id >= ?",
                                    (max(row[3], 1),)).fetchone()[0]
        return _broadcast(row), chat

    def broadcast_progress(self, broadcast_id: int, chat_id: int | None, delivered: bool) -> None:
        """Record the outcome in `chat_id` (None: the broadcast is done) and move on past it."""
        with self._lock:
            if chat_id is None:
                self._db.execute("UPDATE bot_broadcasts SET done = 1 WHERE id = ?", (broadcast_id,))
            else:
                column = "sent" if delivered else "failed"
                self._db.execute(f"UPDATE bot_broadcasts SET next_chat = ?, {column} = {column} + 1 WHERE id = ?",
                                 (chat_id + 1, broadcast_id))

    # ---- bans

    def ban(self, user_id: int, banned_by: int, reason: str) -> bool:
        """Ban `user_id` (False: banned already)."""
        with self._lock:
            added = self._db.execute("INSERT OR IGNORE INTO bot_bans (user_id, banned_by, reason, created) VALUES "
                                     "(?, ?, ?, ?)", (user_id, banned_by, reason, time.time())).rowcount == 1
            self._banned.add(user_id)
        return added

    def unban(self, user_id: int) -> bool:
        """Lift a ban (False: there was none)."""
        with self._lock:
            removed = self._db.execute("DELETE FROM bot_bans WHERE user_id = ?", (user_id,)).rowcount == 1
            self._banned.discard(user_id)
        return removed

    def is_banned(self, user_id: int) -> bool:
        return user_id in self._banned

    def forget(self, user_id: int) -> dict[str, int]:
        """Delete the user's profile, relationships, reminders, quiz scores and documents (the memory holds their
        passages: delete those first); returns the rows deleted per table."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                deleted = {table: self._db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,)).rowcount
                           for table in ("bot_profiles", "bot_relationships", "bot_reminders", "bot_quiz_scores",
                                         "bot_documents")}
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return deleted

    def counts(self) -> dict[str, Any]:
        """Users, messages and chats the bot has seen (for /stats)."""
        with self._lock:
            users, messages = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(messages), 0) FROM bot_profiles").fetchone()
            chats = self._db.execute("SELECT COUNT(DISTINCT chat_id) FROM bot_relationships").fetchone()[0]
        return {"users": users, "messages": messages, "chats": chats}

    def close(self) -> None:
        with self._lock:
            self._db.close()
