"""The bot's tables, beside the memory's in its SQLite database: a profile per Telegram user (preferences and the
running statistics of how they write), and a relationship per chat and user."""

from alembic import op

revision = "0001"
down_revision = None

STATEMENTS = [
    """CREATE TABLE bot_profiles (
        user_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        language TEXT,
        style TEXT,
        expert TEXT,
        persona TEXT,
        messages INTEGER NOT NULL DEFAULT 0,
        characters INTEGER NOT NULL DEFAULT 0,
        russian INTEGER NOT NULL DEFAULT 0,
        informal INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        updated REAL NOT NULL
    )""",
    """CREATE TABLE bot_relationships (
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        interactions INTEGER NOT NULL DEFAULT 0,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    )""",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
