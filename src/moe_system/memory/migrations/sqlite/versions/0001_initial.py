"""The memory's SQLite schema as the last release before Alembic wrote it.

On an empty database it creates everything; on one an earlier release wrote (no version table yet) it keeps every
table and row (IF NOT EXISTS) and adds what that release lacked: the `refined` column of `chunks` and its index.
"""

from alembic import op

revision = "0001"
down_revision = None

TABLES = (
    """CREATE TABLE IF NOT EXISTS users (
        key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, revision INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS conversations (
        key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, user_key INTEGER NOT NULL REFERENCES users(key),
        created REAL NOT NULL, seq INTEGER NOT NULL DEFAULT 0, revision INTEGER NOT NULL DEFAULT 0,
        current_tokens INTEGER NOT NULL DEFAULT 0, moving_tokens INTEGER NOT NULL DEFAULT 0,
        obsolete_tokens INTEGER NOT NULL DEFAULT 0, longterm_tokens INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY, conv_key INTEGER NOT NULL REFERENCES conversations(key), seq INTEGER NOT NULL,
        role TEXT NOT NULL, text TEXT NOT NULL, tokens INTEGER NOT NULL, created REAL NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('current', 'moving')), indexed INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS messages_by_state ON messages(conv_key, state, seq)",
    "CREATE INDEX IF NOT EXISTS messages_unindexed ON messages(id) WHERE indexed = 0",
    """CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY, conv_key INTEGER NOT NULL REFERENCES conversations(key),
        tier TEXT NOT NULL CHECK (tier IN ('obsolete', 'longterm')), text TEXT NOT NULL, tokens INTEGER NOT NULL,
        first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, created REAL NOT NULL, vector BLOB,
        refined INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS chunks_by_tier ON chunks(conv_key, tier, first_seq)",
    """CREATE TABLE IF NOT EXISTS facts (
        id INTEGER PRIMARY KEY, conv_key INTEGER NOT NULL REFERENCES conversations(key),
        user_key INTEGER NOT NULL REFERENCES users(key), scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        text TEXT NOT NULL, tokens INTEGER NOT NULL, seq INTEGER NOT NULL, created REAL NOT NULL,
        superseded_by INTEGER, vector BLOB, others INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS facts_by_scope ON facts(scope, key) WHERE superseded_by IS NULL",
    "CREATE INDEX IF NOT EXISTS facts_newest ON facts(scope, seq, id) WHERE superseded_by IS NULL",
    "CREATE INDEX IF NOT EXISTS facts_by_conv ON facts(conv_key, seq)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(scope, body)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(scope, body)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS facts_fts USING fts5(scope, body)",
)


def upgrade() -> None:
    for statement in TABLES:
        op.execute(statement)
    columns = {row[1] for row in op.get_bind().exec_driver_sql("PRAGMA table_info(chunks)")}
    if "refined" not in columns:  # added after the first releases
        op.execute("ALTER TABLE chunks ADD COLUMN refined INTEGER NOT NULL DEFAULT 0")
    op.execute("CREATE INDEX IF NOT EXISTS chunks_unrefined ON chunks(id) WHERE tier = 'longterm' AND refined = 0")
