"""Updates handled but not yet confirmed to the Bot API (see `bot/core/polling.py`): skipped when handed out again."""

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.execute("CREATE TABLE bot_handled_updates (update_id INTEGER PRIMARY KEY)")
