"""Open the memory store a target names: a PostgreSQL URL, or an SQLite file (a folder gets `memory.db`)."""

from __future__ import annotations

from pathlib import Path

from moe_system.memory.store import MemoryStore

DB_NAME = "memory.db"


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def sqlite_path(target: str | Path) -> Path:
    path = Path(target).expanduser()
    return path / DB_NAME if path.is_dir() or not path.suffix else path


def open_store(target: str, checkpoints: bool = False) -> MemoryStore:
    """The store for `target`; `checkpoints` is for the background worker (see `SQLiteStore`)."""
    if is_postgres(target):
        from moe_system.memory.postgres_store import PostgresStore

        return PostgresStore(target)
    from moe_system.memory.sqlite_store import SQLiteStore

    return SQLiteStore(sqlite_path(target), checkpoints=checkpoints)
