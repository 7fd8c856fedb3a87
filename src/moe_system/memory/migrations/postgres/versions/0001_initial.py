"""The memory's PostgreSQL schema as the last release before Alembic wrote it.

On an empty database it creates everything; on one an earlier release wrote (no version table yet) it keeps every
table and row (IF NOT EXISTS) and adds what that release lacked: the `refined` column of `chunks` and its index.
Where the server offers pgvector (and this role may create the extension, or it exists), each fact and chunk also
gets an `embedding vector` column beside its BYTEA `vector`, filled in here for the rows an earlier release wrote
without one; the partial indexes find such rows without scanning the tables.
"""

from array import array

from alembic import op
from sqlalchemy.exc import ProgrammingError

revision = "0001"
down_revision = None

TABLES = (
    """CREATE TABLE IF NOT EXISTS users (
        key BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, revision BIGINT NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS conversations (
        key BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, user_key BIGINT NOT NULL REFERENCES users(key),
        created DOUBLE PRECISION NOT NULL, seq BIGINT NOT NULL DEFAULT 0, revision BIGINT NOT NULL DEFAULT 0,
        current_tokens BIGINT NOT NULL DEFAULT 0, moving_tokens BIGINT NOT NULL DEFAULT 0,
        obsolete_tokens BIGINT NOT NULL DEFAULT 0, longterm_tokens BIGINT NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations(user_key)",
    """CREATE TABLE IF NOT EXISTS messages (
        id BIGSERIAL PRIMARY KEY, conv_key BIGINT NOT NULL REFERENCES conversations(key), seq BIGINT NOT NULL,
        role TEXT NOT NULL, text TEXT NOT NULL, tokens BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('current', 'moving')), indexed BOOLEAN NOT NULL DEFAULT FALSE,
        body TSVECTOR)""",
    "CREATE INDEX IF NOT EXISTS messages_by_state ON messages(conv_key, state, seq)",
    "CREATE INDEX IF NOT EXISTS messages_unindexed ON messages(id) WHERE NOT indexed",
    "CREATE INDEX IF NOT EXISTS messages_body ON messages USING GIN (body)",
    """CREATE TABLE IF NOT EXISTS chunks (
        id BIGSERIAL PRIMARY KEY, conv_key BIGINT NOT NULL REFERENCES conversations(key),
        tier TEXT NOT NULL CHECK (tier IN ('obsolete', 'longterm')), text TEXT NOT NULL, tokens BIGINT NOT NULL,
        first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL, vector BYTEA,
        body TSVECTOR NOT NULL)""",
    "ALTER TABLE chunks ADD COLUMN IF NOT EXISTS refined BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE INDEX IF NOT EXISTS chunks_by_tier ON chunks(conv_key, tier, first_seq)",
    "CREATE INDEX IF NOT EXISTS chunks_unrefined ON chunks(id) WHERE tier = 'longterm' AND NOT refined",
    "CREATE INDEX IF NOT EXISTS chunks_body ON chunks USING GIN (body)",
    """CREATE TABLE IF NOT EXISTS facts (
        id BIGSERIAL PRIMARY KEY, conv_key BIGINT NOT NULL REFERENCES conversations(key),
        user_key BIGINT NOT NULL REFERENCES users(key), scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        text TEXT NOT NULL, tokens BIGINT NOT NULL, seq BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,
        superseded_by BIGINT, vector BYTEA, body TSVECTOR NOT NULL, others BOOLEAN NOT NULL DEFAULT FALSE)""",
    "CREATE INDEX IF NOT EXISTS facts_by_scope ON facts(scope, key) WHERE superseded_by IS NULL",
    "CREATE INDEX IF NOT EXISTS facts_newest ON facts(scope, seq, id) WHERE superseded_by IS NULL",
    "CREATE INDEX IF NOT EXISTS facts_by_conv ON facts(conv_key, seq)",
    "CREATE INDEX IF NOT EXISTS facts_by_user ON facts(user_key)",
    "CREATE INDEX IF NOT EXISTS facts_body ON facts USING GIN (body)",
)
EMBEDDINGS = (
    "ALTER TABLE facts ADD COLUMN IF NOT EXISTS embedding vector",
    "ALTER TABLE chunks ADD COLUMN IF NOT EXISTS embedding vector",
    "CREATE INDEX IF NOT EXISTS facts_unembedded ON facts(id) WHERE embedding IS NULL AND vector IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS chunks_unembedded ON chunks(id) WHERE embedding IS NULL AND vector IS NOT NULL",
)


def upgrade() -> None:
    for statement in TABLES:
        op.execute(statement)
    if _pgvector():
        for statement in EMBEDDINGS:
            op.execute(statement)
        _fill_embeddings()


def _pgvector() -> bool:
    """Whether the pgvector extension is (now) in this database: created here where the server offers it and this
    role may create it."""
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'vector'").first():
        return True
    if not bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").first():
        return False
    try:
        with bind.begin_nested():  # a savepoint: a refusal leaves the upgrade's transaction usable
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except ProgrammingError as err:
        if getattr(err.orig, "sqlstate", None) != "42501":  # insufficient_privilege: rank vectors in-process
            raise
        return False
    return True


def _fill_embeddings() -> None:
    """Copy every stored float32 vector that has no `embedding` yet into it."""
    bind = op.get_bind()
    for table in ("facts", "chunks"):
        rows = bind.exec_driver_sql(f"SELECT id, vector FROM {table} WHERE embedding IS NULL AND vector IS NOT NULL")
        updates = [(array("f", bytes(blob)).tolist(), row_id) for row_id, blob in rows]
        if updates:
            bind.exec_driver_sql(f"UPDATE {table} SET embedding = %s::real[] WHERE id = %s", updates)
