"""Admins' broadcasts: the text, who asked, and how far the sending got (resumed after a restart)."""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.execute("""CREATE TABLE bot_broadcasts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        text TEXT NOT NULL,
        admin_chat INTEGER NOT NULL,
        created REAL NOT NULL,
        next_chat INTEGER NOT NULL DEFAULT 1,
        sent INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0
    )""")
