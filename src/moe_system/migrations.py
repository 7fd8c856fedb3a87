"""Schema migrations of the SQL stores (memory on SQLite and PostgreSQL, the expert registry, training jobs): one
Alembic script folder per store, applied when the store opens.

A store reads the revisions recorded in its version table with its own driver and hands them to `migrate`. At
head, that is all: Alembic and SQLAlchemy (half a second of imports) are never loaded, so opening an up-to-date
store costs one small query. Otherwise `migrate` runs Alembic's `upgrade head` on a connection of its own, inside
one transaction that first takes the database's write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an advisory
transaction lock named after the version table). So several processes may open one database at once: the first
upgrades it, the others wait, then find the head applied and do nothing. A database that records a revision this
release does not know was written by a newer release: one-line `SchemaError`, nothing touched.

A script folder holds `env.py` (two lines: it calls `run_env` below, the one env implementation) and
`versions/*.py`, each with `revision`, `down_revision` and `upgrade()` (raw SQL through `op.execute`). There is
no `alembic.ini`: `migrate` builds the `Config` itself. Migrations only go forward (a downgrade would drop what
users stored). Revision 0001 of each store is the schema of the release before Alembic, written so that it also
completes a database that release left (no version table yet) without losing a row.

    db = sqlite3.connect(path)  # the store's own connection, then, before anything else reads or writes:
    migrate_sqlite(db, path, Path(__file__).parent / "migrations", "alembic_jobs", f"the job database {path}")
"""

from __future__ import annotations

import functools
import re
import sqlite3
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from moe_system.errors import MoEError, one_line

LOCK_WAIT_S = 60.0  # how long an opener waits for another process's upgrade (SQLite's busy timeout)
_ASSIGNMENT = r"^{name}\s*(?::[^=]+)?=\s*(?:['\"](\w+)['\"]|None)\s*$"  # `revision: str = "0001"`


class SchemaError(MoEError):
    """A database's schema is newer than this release knows, or upgrading it failed."""


@functools.cache
def revisions(scripts: Path) -> dict[str, str | None]:
    """Each revision of the script folder `scripts` and the one it follows (None for the first), read from the
    scripts' `revision = ...` / `down_revision = ...` lines, as Alembic reads them (a test checks they agree)."""
    found: dict[str, str | None] = {}
    for path in sorted((scripts / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revision = re.search(_ASSIGNMENT.format(name="revision"), text, re.MULTILINE)
        follows = re.search(_ASSIGNMENT.format(name="down_revision"), text, re.MULTILINE)
        if revision is None or follows is None:
            raise RuntimeError(f"{path} names no revision or down_revision")
        found[revision.group(1)] = follows.group(1)
    return found


def head(scripts: Path) -> str:
    """The newest revision of `scripts` (the one no other revision follows; the history is a line)."""
    graph = revisions(scripts)
    (newest,) = set(graph) - set(graph.values())
    return newest


def migrate(applied: Sequence[str], scripts: Path, version_table: str, where: str, dialect: str,
            connect: Callable[[], Any]) -> None:
    """Bring a database to the head of `scripts`. `applied`: the revisions in its `version_table`, as the store
    just read them ([] when the table does not exist yet); `where` names the database in errors; `dialect` is
    SQLAlchemy's (`sqlite`, `postgresql+psycopg`) and `connect` opens a new DB-API connection to the database."""
    _check(applied, scripts, where)
    if list(applied) == [head(scripts)]:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    engine = create_engine(f"{dialect}://", creator=connect, poolclass=NullPool)  # one connection, closed after
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:  # the driver must not open transactions of its own: this one takes the write lock up front
        event.listen(engine, "connect", lambda dbapi, _: setattr(dbapi, "isolation_level", None))
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.attributes["version_table"] = version_table
    try:
        with engine.begin() as conn:
            if not sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({zlib.crc32(version_table.encode())})")
            applied = _applied(conn, version_table)  # again, under the lock: another process may have upgraded it
            _check(applied, scripts, where)
            if applied != [head(scripts)]:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except (CommandError, SQLAlchemyError) as err:
        raise SchemaError(f"cannot upgrade {where} to schema revision {head(scripts)}: {one_line(err)}") from err
    finally:
        engine.dispose()


def run_env() -> None:
    """The body of every script folder's `env.py`: run the migrations on the connection `migrate` opened, in its
    transaction, recording them in the store's version table."""
    from alembic import context

    attributes = context.config.attributes
    context.configure(connection=attributes["connection"], version_table=attributes["version_table"])
    with context.begin_transaction():
        context.run_migrations()


def sqlite_applied(db: sqlite3.Connection, version_table: str) -> list[str]:
    """The revisions recorded in an SQLite database's `version_table` ([] when it has none yet)."""
    try:
        return [row[0] for row in db.execute(f"SELECT version_num FROM {version_table}")]
    except sqlite3.OperationalError as err:
        if "no such table" not in str(err):
            raise
        return []


def migrate_sqlite(db: sqlite3.Connection, path: Path, scripts: Path, version_table: str, where: str) -> None:
    """`migrate` for an SQLite store whose connection `db` is open on `path`."""
    migrate(sqlite_applied(db, version_table), scripts, version_table, where, "sqlite",
            lambda: sqlite3.connect(path, timeout=LOCK_WAIT_S, isolation_level=None))


def open_sqlite(path: Path, scripts: Path, version_table: str, where: str) -> sqlite3.Connection:
    """A connection to the SQLite file `path` as the stores keep theirs: autocommit, shared between threads (the
    store locks), WAL with `synchronous=FULL` (a change is on disk when its statement returns), and the schema at
    the head of `scripts` (`migrate_sqlite`). Closed again if any of that fails."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        migrate_sqlite(db, path, scripts, version_table, where)
    except BaseException:
        db.close()
        raise
    return db


def _check(applied: Sequence[str], scripts: Path, where: str) -> None:
    """Refuse a database at a revision this release does not know (a newer release wrote it)."""
    unknown = [revision for revision in applied if revision not in revisions(scripts)]
    if unknown:
        raise SchemaError(f"{where} was written by a newer release (schema revision {', '.join(unknown)}; this "
                          f"release knows up to {head(scripts)}): upgrade moe-system, or use another database")


def _applied(conn: Any, version_table: str) -> list[str]:
    """The revisions in `version_table`, read on a SQLAlchemy connection ([] when there is none yet)."""
    from sqlalchemy import inspect

    if not inspect(conn).has_table(version_table):
        return []
    return [row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {version_table}")]
