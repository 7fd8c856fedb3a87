"""The registry's schema as the last release before Alembic wrote it, when `PRAGMA user_version` (1) versioned it.

On an empty database it creates everything; one that release wrote keeps every row (IF NOT EXISTS). A user_version
above 1 is a schema no release has written: refused. The user_version stays 1, so that release can still open it.
"""

from alembic import op

from moe_system.migrations import SchemaError

revision = "0001"
down_revision = None
USER_VERSION = 1

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS experts (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        kind TEXT NOT NULL,
        base_model TEXT NOT NULL,
        base_sha256 TEXT NOT NULL,
        signed INTEGER NOT NULL,
        publisher TEXT,
        source TEXT NOT NULL,
        installed_at TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        manifest TEXT NOT NULL,
        PRIMARY KEY (name, version)
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0)",
    f"PRAGMA user_version={USER_VERSION}",
)


def upgrade() -> None:
    bind = op.get_bind()
    found = bind.exec_driver_sql("PRAGMA user_version").scalar_one()
    if found > USER_VERSION:
        path = bind.exec_driver_sql("SELECT file FROM pragma_database_list WHERE name = 'main'").scalar_one()
        raise SchemaError(f"{path} has schema {found}; this program reads {USER_VERSION}")
    for statement in STATEMENTS:
        op.execute(statement)
