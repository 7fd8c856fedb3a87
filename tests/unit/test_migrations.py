"""Schema migrations (Alembic, applied on open) of the SQLite stores: a database the release before Alembic wrote
(`tests/fixtures/previous_release/`) opens with every row and works; a second open changes nothing and never loads
Alembic; a database from a newer release is refused in one line; several processes opening a new database at once
upgrade it once. The PostgreSQL memory store has its own upgrade test in tests/integration/test_memory_postgres.py."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from moe_system.config import Settings
from moe_system.experts import registry
from moe_system.experts.manifest import MANIFEST_FILE
from moe_system.experts.registry import Registry
from moe_system.memory import postgres_store, sqlite_store
from moe_system.memory.sqlite_store import SQLiteStore
from moe_system.migrations import SchemaError, head, revisions
from moe_system.server.jobs import store as job_store
from moe_system.server.jobs.processes import LOG_FILE
from moe_system.server.jobs.store import DB_FILE, JobStore
from moe_system.server.jobs.supervisor import recover

PREVIOUS = Path(__file__).parents[1] / "fixtures" / "previous_release"
FOLDERS = {"memory-sqlite": sqlite_store.MIGRATIONS, "memory-postgres": postgres_store.MIGRATIONS,
           "registry": registry.MIGRATIONS, "jobs": job_store.MIGRATIONS}


def _load(dump: Path, path: Path) -> None:
    """A database made from an `sqlite3 .dump` (reopened: FTS5 tables restored through the schema table are only
    seen by a new connection)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(dump.read_text(encoding="utf-8"))
    db.close()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


# ---- the scripts


@pytest.mark.parametrize("name", FOLDERS)
def test_the_revisions_read_without_alembic_are_alembics(name: str) -> None:
    folder = FOLDERS[name]
    config = Config()
    config.set_main_option("script_location", str(folder))
    scripts = ScriptDirectory.from_config(config)
    assert revisions(folder) == {s.revision: s.down_revision for s in scripts.walk_revisions()}
    assert [head(folder)] == scripts.get_heads() and head(folder) == "0001"


# ---- memory


def _memory(tmp_path: Path, edit: Callable[[sqlite3.Connection], None] | None = None) -> Path:
    path = tmp_path / "memory.db"
    _load(PREVIOUS / "memory.sql", path)
    if edit is not None:
        db = sqlite3.connect(path)
        edit(db)
        db.close()
    return path


def _check_memory(path: Path) -> None:
    """The previous release's rows are all there, the schema is at head and the store works on them."""
    store = SQLiteStore(path)
    try:
        c1, c2 = store.conversation("c1"), store.conversation("c2")
        assert c1 is not None and c2 is not None
        assert (c1.messages, c1.current_tokens, c1.obsolete_tokens, c1.longterm_tokens) == (4, 10, 9, 15)
        assert (c1.user_id, c2.user_id, c2.messages) == ("u1", "u2", 1)
        assert [m.text for m in store.recent_messages("c1", 10)] == ["We talked about pasta.",
                                                                     "Actually I live in Bergen now."]
        assert sorted(f.value for f in store.live_facts("c1")) == ["Bergen", "Rex"]  # Oslo was superseded
        assert store.search("c1", "message", ["bergen"], 5) == [4]
        assert store.search("c1", "fact", ["rex"], 5) == [2]
        (chunk,) = store.oldest_chunks("c1", "obsolete", 5)
        assert chunk.text.startswith("User lives in Oslo") and store.search("c1", "chunk", ["oslo"], 5) == [chunk.id]
        assert np.frombuffer(store.vectors("c1", "chunk", 0)[0][1], dtype=np.float32).tolist() == [0, 1, 2, 3]
        added = store.add_message("c1", "u1", "user", "My cat is called Tom.", 6, 1000)
        assert added.seq == 5 and added.id == 6
        assert store.add_message("c3", "u3", "user", "hello", 1, 1000).seq == 1
    finally:
        store.close()
    assert _rows(path, f"SELECT version_num FROM {sqlite_store.VERSION_TABLE}") == [("0001",)]
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]
    assert _rows(path, "SELECT name FROM sqlite_master WHERE name = 'chunks_unrefined'") == [("chunks_unrefined",)]


def test_memory_of_the_previous_release_opens_with_every_row(tmp_path: Path) -> None:
    _check_memory(_memory(tmp_path))


def test_memory_from_before_summaries_were_refined_gets_the_column(tmp_path: Path) -> None:
    def older(db: sqlite3.Connection) -> None:
        db.execute("DROP INDEX chunks_unrefined")
        db.execute("ALTER TABLE chunks DROP COLUMN refined")

    path = _memory(tmp_path, older)
    _check_memory(path)
    assert _rows(path, "SELECT refined FROM chunks") == [(0,)]


def test_a_second_open_changes_nothing_and_never_loads_alembic(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    SQLiteStore(path).close()
    before = path.read_bytes()
    probe = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from moe_system.memory.sqlite_store import SQLiteStore
        SQLiteStore(Path({str(path)!r})).close()
        assert not any(name.startswith(("alembic", "sqlalchemy")) for name in sys.modules), "Alembic was loaded"
    """)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == before  # (the WAL was checkpointed on close: any change would show here)


def test_a_database_from_a_newer_release_is_refused_in_one_line(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    opens: dict[Path, Callable[[], Any]] = {
        tmp_path / "memory.db": lambda: SQLiteStore(tmp_path / "memory.db"),
        settings.experts_dir / registry.DB_FILE: lambda: Registry(settings),
        tmp_path / "jobs" / DB_FILE: lambda: JobStore(tmp_path / "jobs"),
    }
    for path, open_store in opens.items():
        open_store().close()
        table = _rows(path, "SELECT name FROM sqlite_master WHERE name LIKE 'alembic_%'")[0][0]
        db = sqlite3.connect(path)
        db.execute(f"UPDATE {table} SET version_num = '0099'")
        db.commit()
        db.close()
        with pytest.raises(SchemaError) as refused:
            open_store()
        assert "\n" not in str(refused.value) and f"{path} was written by a newer release" in str(refused.value)
        assert "schema revision 0099; this release knows up to 0001" in str(refused.value)
        assert _rows(path, f"SELECT version_num FROM {table}") == [("0099",)]


def test_processes_opening_a_new_database_at_once_upgrade_it_once(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    start = time.time() + 2.0  # every process has imported the store by then
    opener = textwrap.dedent(f"""
        import time
        from pathlib import Path
        import alembic.command, sqlalchemy  # loaded before the start, so that the upgrades overlap
        from moe_system.memory.sqlite_store import SQLiteStore
        time.sleep(max(0.0, {start} - time.time()))
        store = SQLiteStore(Path({str(path)!r}))
        store.add_message("c", "u", "user", "hello", 1, 100)
        store.close()
    """)
    openers = [subprocess.Popen([sys.executable, "-c", opener], stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for process in openers:
        assert process.wait(120) == 0, process.stderr.read() if process.stderr else ""
    assert _rows(path, f"SELECT version_num FROM {sqlite_store.VERSION_TABLE}") == [("0001",)]
    assert _rows(path, "SELECT seq FROM messages ORDER BY seq") == [(1,), (2,), (3,)]


# ---- the registry


def test_registry_of_the_previous_release_opens_with_its_experts(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    path = settings.experts_dir / registry.DB_FILE
    _load(PREVIOUS / "registry.sql", path)
    ((manifest,),) = _rows(path, "SELECT manifest FROM experts")
    folder = settings.experts_dir / "sql" / "1.0.0"  # the installed files (the fixture keeps only the database)
    folder.mkdir(parents=True)
    (folder / MANIFEST_FILE).write_text(str(manifest), encoding="utf-8")
    with Registry(settings) as opened:
        (expert,) = opened.list()
        assert (expert.name, expert.version, expert.kind, expert.source) == ("sql", "1.0.0", "lora", "sql-1.0.0.expert")
        assert expert.manifest.description == "sql expert" and opened.revision() == 1
        assert [e.version for e in opened.remove("sql")] == ["1.0.0"] and opened.revision() == 2
    assert _rows(path, f"SELECT version_num FROM {registry.VERSION_TABLE}") == [("0001",)]
    assert _rows(path, "PRAGMA user_version") == [(1,)]  # the release before can still open it


def test_a_registry_with_an_unknown_user_version_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    path = settings.experts_dir / registry.DB_FILE
    _load(PREVIOUS / "registry.sql", path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=2")
    db.close()
    with pytest.raises(SchemaError, match="has schema 2; this program reads 1"):
        Registry(settings)
    assert not _rows(path, "SELECT name FROM sqlite_master WHERE name LIKE 'alembic_%'")


# ---- training jobs


def test_jobs_of_the_previous_release_are_imported_once(tmp_path: Path) -> None:
    root = tmp_path / "jobs"
    shutil.copytree(PREVIOUS / "jobs", root)
    (root / "job-broken").mkdir()
    (root / "job-broken" / "job.json").write_text("{not json", encoding="utf-8")
    (root / "job-partial").mkdir()
    (root / "job-partial" / "job.json").write_text('{"job_id": "job-partial"}', encoding="utf-8")
    store = JobStore(root)
    try:
        jobs = {job.job_id: job for job in recover(store, root)}
    finally:
        store.close()
    assert list(jobs) == ["job-0000000000000000", "job-0000000000000001", "job-0000000000000002"]
    done, running, queued = jobs.values()
    saved = json.loads((root / done.job_id / "job.json").read_text(encoding="utf-8"))
    assert {key: getattr(done, key) for key in saved} == saved  # every field, JSON ones and booleans included
    assert done.loss == [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.0}] and done.install is True
    assert running.status == "queued" and running.pid is None and running.attempts == 1 and running.step == 3
    assert "queued again" in (root / running.job_id / LOG_FILE).read_text(encoding="utf-8")
    assert queued.status == "queued" and queued.user is None

    store = JobStore(root)  # the next start: nothing imported twice, the requeue kept
    try:
        again = {job.job_id: job for job in store.jobs()}
    finally:
        store.close()
    assert again == {job_id: job for job_id, job in jobs.items()}
    assert _rows(root / DB_FILE, f"SELECT version_num FROM {job_store.VERSION_TABLE}") == [("0001",)]
