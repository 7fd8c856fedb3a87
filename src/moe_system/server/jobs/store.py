"""The training jobs' state: one row per job in `MOE_HOME/jobs/jobs.db` (SQLite in WAL mode with
`synchronous=FULL`, so a change survives a power cut once `save` returns).

The schema is the Alembic scripts of `migrations/`, applied on open (see `moe_system.migrations`); their revision
0001 also imports the `job.json` files in which the release before kept each job's state.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from moe_system.migrations import open_sqlite

DB_FILE = "jobs.db"
MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_jobs"


@dataclass
class Job:
    """One job as its row holds it; `JobManager.view` is what the routes show."""

    job_id: str
    user: str | None
    recipe: str | None  # its name in GET /train/recipes; None for an uploaded recipe
    expert: str
    version: str
    created: float
    epochs: float  # the recipe's, for the step estimate
    step_examples: int  # examples per optimizer step (batch_size * grad_accum)
    steps_override: int | None = None  # the request's max_steps (`moe train --max-steps`)
    planned_steps: int | None = None  # the exact step count when known in advance (request or recipe)
    estimated_steps: int | None = None  # from the split's size, once the run has one
    install: bool = True
    fresh: bool = False
    status: str = "queued"
    attempts: int = 0  # trainer processes started for this job
    started: float | None = None
    finished: float | None = None
    pid: int | None = None  # the running trainer, and its start time (so a reused pid is never taken for it)
    pid_created: float | None = None
    step: int = 0
    loss: list[dict[str, float]] = field(default_factory=list)
    eval: list[dict[str, float]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def run_key(self) -> str:
        """The run folder's path under `MOE_HOME/runs/`: `<expert>-<version>` for the one user of a server without
        keys (where `moe train` puts it too), under `users/<user>/` for a key's user, so that users never share,
        resume or discard each other's runs."""
        folder = f"{self.expert}-{self.version}"
        return folder if self.user is None else f"users/{self.user}/{folder}"


# The columns of `jobs` are the fields of `Job`; these hold JSON, these booleans.
_FIELDS = tuple(f.name for f in fields(Job))
_JSON = ("loss", "eval", "result")
_BOOLS = ("install", "fresh")


class JobStore:
    """The job table of one `MOE_HOME/jobs/` folder. Safe to share between threads."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        path = root / DB_FILE
        self._lock = threading.Lock()
        self._db = open_sqlite(path, MIGRATIONS, VERSION_TABLE, f"the training-job database {path}")

    def jobs(self) -> list[Job]:
        """Every job, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM jobs ORDER BY created, job_id").fetchall()
        return [_job(row) for row in rows]

    def save(self, job: Job) -> None:
        """Insert or replace the job's row (one statement: atomic)."""
        values = {name: getattr(job, name) for name in _FIELDS}
        values |= {name: json.dumps(values[name]) for name in _JSON if values[name] is not None}
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO jobs ({', '.join(_FIELDS)}) VALUES "
                             f"({', '.join(':' + name for name in _FIELDS)})", values)

    def delete(self, job_ids: Sequence[str]) -> None:
        """Delete the jobs' rows (one statement: atomic)."""
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))",
                             (json.dumps(list(job_ids)),))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _job(row: tuple[Any, ...]) -> Job:
    data = dict(zip(_FIELDS, row, strict=True))
    data |= {name: json.loads(data[name]) for name in _JSON if data[name] is not None}
    data |= {name: bool(data[name]) for name in _BOOLS}
    return Job(**data)
