"""Reminders: one row each, kept until delivered (so a restart delivers what came due while the bot was down) or
cancelled."""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute("""CREATE TABLE bot_reminders (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        due REAL NOT NULL,
        text TEXT NOT NULL,
        created REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
    )""")
    op.execute("CREATE INDEX bot_reminders_due ON bot_reminders (status, due)")
