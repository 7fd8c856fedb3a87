"""The training-job table, and the jobs of the release before it, which kept each job's state in a `job.json` file
in its folder (`MOE_HOME/jobs/<job_id>/job.json`): every readable one becomes a row, in this revision's
transaction, so a restart after an upgrade loses no job and no job is imported twice. The files are left as they
were (nothing reads them any more; the release before would). An unreadable one is skipped with a warning, as
that release did.
"""

import json
import logging
from pathlib import Path

from alembic import op

revision = "0001"
down_revision = None
JOB_FILE = "job.json"
_LOG = logging.getLogger("moe_system.server.jobs")

TABLE = """CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    user TEXT,
    recipe TEXT,
    expert TEXT NOT NULL,
    version TEXT NOT NULL,
    created REAL NOT NULL,
    epochs REAL NOT NULL,
    step_examples INTEGER NOT NULL,
    steps_override INTEGER,
    planned_steps INTEGER,
    estimated_steps INTEGER,
    install INTEGER NOT NULL DEFAULT 1,
    fresh INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    started REAL,
    finished REAL,
    pid INTEGER,
    pid_created REAL,
    step INTEGER NOT NULL DEFAULT 0,
    loss TEXT NOT NULL DEFAULT '[]',
    eval TEXT NOT NULL DEFAULT '[]',
    result TEXT,
    error TEXT
)"""


def upgrade() -> None:
    op.execute(TABLE)
    bind = op.get_bind()
    info = bind.exec_driver_sql("PRAGMA table_info(jobs)").all()
    columns = {row[1] for row in info}
    required = {row[1] for row in info if row[3] and row[4] is None}  # NOT NULL without a default
    root = Path(bind.exec_driver_sql("SELECT file FROM pragma_database_list WHERE name = 'main'").scalar_one()).parent
    for path in sorted(root.glob(f"*/{JOB_FILE}")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            _LOG.warning("skipping training job %s: unreadable %s (%s)", path.parent.name, JOB_FILE, err)
            continue
        if not isinstance(data, dict) or data.get("job_id") != path.parent.name or not required <= data.keys():
            _LOG.warning("skipping training job %s: %s lacks fields of a job", path.parent.name, JOB_FILE)
            continue
        row = {key: json.dumps(value) if isinstance(value, list | dict) else value
               for key, value in data.items() if key in columns}
        bind.exec_driver_sql(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                             tuple(row.values()))
