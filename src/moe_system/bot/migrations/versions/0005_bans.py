"""Users an admin banned: the bot ignores their messages until unbanned."""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute("""CREATE TABLE bot_bans (
        user_id INTEGER PRIMARY KEY,
        banned_by INTEGER NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL
    )""")
