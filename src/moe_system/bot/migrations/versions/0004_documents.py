"""Documents a chat gave the bot: one row each, its passages in the memory under `conversation_id`."""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute("""CREATE TABLE bot_documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        conversation_id TEXT NOT NULL UNIQUE,
        passages INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        created REAL NOT NULL,
        UNIQUE (chat_id, name)
    )""")
    op.execute("CREATE INDEX bot_documents_by_user ON bot_documents (user_id)")
